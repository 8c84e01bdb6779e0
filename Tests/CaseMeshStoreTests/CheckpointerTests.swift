import CaseMeshCRDT
import CaseMeshDomain
import Foundation
import GRDB
@testable import CaseMeshStore
import Testing

/// The background checkpointer copies committed pages from the log into the
/// database file without the writer's help.
@Suite struct CheckpointerTests {
    /// Far fewer pages than the writer's own checkpoint mark are written, so
    /// only the background checkpointer can have copied them: the database
    /// file alone (copied without its log) soon holds every case.
    @Test func committedPagesReachTheDatabaseFile() async throws {
        try await withTemporaryDirectory { dir in
            let settings = configuration(dir, durability: .full)
            let store = try NodeStore.open(settings, wallClock: ManualClock(step: 1).wallClock, logger: testLogger)
            for index in 0..<60 {
                _ = try await store.create(draft(id: "c\(index)", title: "Case \(index)"), actor: actor)
            }
            let copy = dir + "/copy.sqlite"
            var found = 0
            for _ in 0..<200 where found < 60 {
                try? FileManager.default.removeItem(atPath: copy)
                try FileManager.default.copyItem(atPath: settings.databasePath, toPath: copy)
                // The copy has no log beside it: it holds what was checkpointed.
                found = (try? await DatabaseQueue(path: copy).read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM cases") ?? 0 }) ?? 0
                if found < 60 { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(found == 60)
            #expect(store.checkpointer.counts.checkpoints > 0)
            #expect(store.checkpointer.counts.failures == 0)
            await store.close()
        }
    }

    /// Closing stops the checkpointer; stopping it again (as a dropped store
    /// does) returns at once.
    @Test func stoppingTwiceReturns() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock(step: 1))
            _ = try await store.create(draft(id: "c1"), actor: actor)
            await store.close()
            store.checkpointer.stop()
            let reopened = try openStore(dir, clock: ManualClock(step: 1))
            #expect(try reopened.caseState(caseID("c1")) != nil)
            await reopened.close()
        }
    }
}
