import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshReplication
@testable import CaseMeshStore
import GRDB
import Testing

/// The write path reads the cases it changes by the row id it keeps for
/// each case (`KnownCase`), and does not trust a row id whose row holds
/// another case.
@Suite struct KnownCaseTests {
    static func rowid(_ store: NodeStore, _ id: String) throws -> Int64? {
        let key = try CaseID(id)
        return store.knownCases.withLock { $0[CaseBucket.of(key)][key]?.rowid }
    }

    /// Row ids come from the table when the store opens and from each
    /// commit afterwards, and agree with the table either way.
    @Test func rowIDsAgreeWithTheTable() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(step: 1)
            let first = try openStore(dir, clock: clock)
            for index in 0..<20 { _ = try await first.create(draft(id: "c\(index)", title: "Case \(index)"), actor: actor) }
            for index in 0..<20 { #expect(try Self.rowid(first, "c\(index)") != nil) }
            await first.close()

            let store = try openStore(dir, clock: clock)
            _ = try await store.create(draft(id: "later", title: "Created after the restart"), actor: actor)
            let table = try await DatabaseQueue(path: configuration(dir).databasePath).read { db in
                try Row.fetchAll(db, sql: "SELECT id, rowid FROM cases").map { ($0[0] as String, $0[1] as Int64) }
            }
            #expect(table.count == 21)
            for (id, rowid) in table { #expect(try Self.rowid(store, id) == rowid, "case \(id)") }
            await store.close()
        }
    }

    /// A row id pointing at another case's row: the case's writes and
    /// reads fail as damaged instead of mixing the two cases, and the other
    /// case is left as it was.
    @Test func aRowIDHoldingAnotherCaseIsNotTrusted() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(step: 1)
            var settings = configuration(dir)
            settings.recentCases = 1  // so the cases are read from the table
            let first = try NodeStore.open(settings, wallClock: clock.wallClock, logger: testLogger)
            _ = try await first.create(draft(id: "a", title: "Case A"), actor: actor)
            _ = try await first.create(draft(id: "b", title: "Case B"), actor: actor)
            await first.close()

            let store = try NodeStore.open(settings, wallClock: clock.wallClock, logger: testLogger)
            let (a, b) = (try CaseID("a"), try CaseID("b"))
            let rowOfB = try #require(try Self.rowid(store, "b"))
            store.knownCases.withLock { $0[CaseBucket.of(a)][a]?.rowid = rowOfB }
            let failure = await storeError { try await store.execute(addNote("n1", "only on A"), on: a, actor: actor) }
            guard case let .corrupt(_, reason)? = failure else {
                Issue.record("expected .corrupt, got \(String(describing: failure))")
                return
            }
            #expect(reason.contains("holds case b"), "reason: \(reason)")
            #expect(throws: StoreError.self) { try store.caseState(a) }
            let stateB = try #require(try store.caseState(b))
            #expect(stateB.title == "Case B")
            #expect(stateB.notes.isEmpty)
            #expect(store.writeFailure == nil)
            await store.close()
        }
    }
}
