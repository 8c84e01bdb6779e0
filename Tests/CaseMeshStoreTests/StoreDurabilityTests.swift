import Foundation
import Testing
import CaseMeshCRDT
import CaseMeshDomain
@testable import CaseMeshStore

/// The configured durability is what the commits actually get. `.full`
/// promises that an acknowledged write survives a power loss, which holds
/// only if SQLite's `synchronous` is FULL on the connection that commits
/// (the pool's writer) — checked directly, since a lost fsync cannot be
/// observed without pulling the plug.
@Suite struct StoreDurabilityTests {
    /// `PRAGMA synchronous` on the writing connection matches the
    /// configured durability (FULL = 2, NORMAL = 1, OFF = 0), right after
    /// opening, after a commit, and after a reopen.
    @Test(arguments: [(Durability.full, 2), (Durability.normal, 1), (Durability.off, 0)])
    func writerConnectionUsesTheConfiguredSynchronousLevel(durability: Durability, expected: Int) async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock()
            let store = try openStore(dir, clock: clock, durability: durability)
            let atOpen = try await store.pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
            #expect(atOpen == expected, "durability \(durability.rawValue): the writer runs with synchronous = \(atOpen.map(String.init) ?? "nil")")

            _ = try await store.create(draft(), actor: actor)
            let afterCommit = try await store.pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
            #expect(afterCommit == expected)
            await store.close()

            let reopened = try openStore(dir, clock: clock, durability: durability)
            let afterReopen = try await reopened.pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
            #expect(afterReopen == expected)
            await reopened.close()
        }
    }

    /// The store runs in WAL mode (readers never block the writer, and
    /// `synchronous` has the meaning the durability levels document).
    @Test func storeUsesWriteAheadLogging() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock(), durability: .full)
            let mode = try await store.pool.writeWithoutTransaction { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
            #expect(mode == "wal")
            await store.close()
        }
    }
}
