import CaseMeshCRDT
import CaseMeshDomain
@testable import CaseMeshStore
import Foundation
import Testing

/// Writers read their case before queueing (`EarlyRead`); a batch uses
/// that read only while it is still the case's live version.
@Suite struct EarlyReadTests {
    /// A store whose recent-case map holds one case, so reads go to the table.
    static func openSmallRecent(_ dir: String) throws -> NodeStore {
        var settings = configuration(dir)
        settings.recentCases = 1
        return try NodeStore.open(settings, wallClock: ManualClock(step: 1).wallClock, logger: testLogger)
    }

    static func notes(_ state: CaseState?) -> Set<String> {
        Set(state?.notes.map { $0.id.rawValue } ?? [])
    }

    /// The case changed between the early read and its batch: the batch
    /// reads it again, so the change made in between is kept.
    @Test func aStaleEarlyReadIsNotUsed() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Self.openSmallRecent(dir)
            _ = try await store.create(draft(id: "x", title: "Checkout fails"), actor: actor)
            _ = try await store.create(draft(id: "y", title: "Another"), actor: actor)  // x leaves the recent map
            let job = WriteJob.command(caseID("x"), addNote("second", "after the early read"), actor: actor)
            let early = store.readEarly([job])
            #expect(early[0] != nil, "x is stored and not recent: its writer reads it")

            _ = try await store.execute(addNote("first", "between the read and the batch"), on: caseID("x"), actor: actor)
            _ = try await store.create(draft(id: "z", title: "A third"), actor: actor)  // x leaves the recent map again
            #expect(store.latest(caseID("x")) == nil, "x is read from the table, so the early read is what the check is about")
            let before = store.commitStatistics
            let results = await store.submit([job], early: early)
            guard case let .write(outcome) = try results[0].get() else { Issue.record("not a write outcome"); return }
            #expect(Self.notes(outcome.state) == ["first", "second"], "the note written in between survives")
            let after = store.commitStatistics
            #expect(after.earlyReads - before.earlyReads == 1)
            #expect(after.earlyReadsUsed == before.earlyReadsUsed, "the stale read was not used")
            let final = try store.caseState(caseID("x"))
            #expect(Self.notes(final) == ["first", "second"])
            #expect(store.digest.digest == (try recomputedDigest(store)))
            await store.close()
        }
    }

    /// Nothing changed the case: the batch takes the early read as it is.
    @Test func aCurrentEarlyReadIsUsed() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Self.openSmallRecent(dir)
            _ = try await store.execute(addNote("n0", "first"), on: try await store.create(draft(id: "x"), actor: actor).state.id, actor: actor)
            _ = try await store.create(draft(id: "y"), actor: actor)
            let before = store.commitStatistics
            let outcome = try await store.execute(addNote("n1", "second"), on: caseID("x"), actor: actor)
            let after = store.commitStatistics
            #expect(after.earlyReadsUsed - before.earlyReadsUsed == 1)
            #expect(Self.notes(outcome.state) == ["n0", "n1"])
            await store.close()

            let reopened = try Self.openSmallRecent(dir)
            #expect(Self.notes(try reopened.caseState(caseID("x"))) == ["n0", "n1"])
            #expect(reopened.digest.digest == (try recomputedDigest(reopened)))
            await reopened.close()
        }
    }

    /// What is not read early: a case the recent map holds decoded, one
    /// not stored, a create, and one whose stored state does not decode
    /// (its write still fails as `corrupt`, from the batch's own read).
    @Test func onlyStoredCasesNotHeldDecodedAreReadEarly() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Self.openSmallRecent(dir)
            _ = try await store.create(draft(id: "held"), actor: actor)
            let jobs: [WriteJob] = [
                .command(caseID("held"), addNote("a", "a"), actor: actor),
                .command(caseID("nowhere"), addNote("b", "b"), actor: actor),
                .create(draft(id: "new"), actor: actor),
            ]
            #expect(store.readEarly(jobs).allSatisfy { $0 == nil })

            _ = try await store.create(draft(id: "other"), actor: actor)  // "held" leaves the recent map
            try await store.pool.write { db in
                try db.execute(sql: """
                    UPDATE case_states SET state = x'00ff'
                    WHERE case_row = (SELECT rowid FROM cases WHERE id = 'held')
                    """)
            }
            #expect(store.readEarly([jobs[0]])[0] == nil)
            let before = store.commitStatistics
            let error = await storeError { try await store.execute(addNote("c", "c"), on: caseID("held"), actor: actor) }
            guard case .corrupt = error else { Issue.record("expected corrupt, got \(String(describing: error))"); return }
            #expect(store.commitStatistics.earlyReads == before.earlyReads, "a state that does not decode is not offered early")
            await store.close()
        }
    }

    /// Several jobs on one case in one submit (a burst of remote deltas):
    /// the case is read and decoded once, for the first of them.
    @Test func aCaseIsReadEarlyOncePerSubmit() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Self.openSmallRecent(dir)
            _ = try await store.create(draft(id: "x"), actor: actor)
            _ = try await store.create(draft(id: "y"), actor: actor)
            let early = store.readEarly((0..<3).map { WriteJob.command(caseID("x"), addNote("n\($0)", "note"), actor: actor) })
            #expect(early[0] != nil && early[1] == nil && early[2] == nil)
            await store.close()
        }
    }

    /// Writes submitted once the store is closing are refused, not queued
    /// behind a closed database.
    @Test func writesAfterCloseAreRefused() async throws {
        try await withTemporaryDirectory { dir in
            let store = try Self.openSmallRecent(dir)
            _ = try await store.create(draft(id: "x"), actor: actor)
            await store.close()
            let error = await storeError { try await store.execute(addNote("late", "after close"), on: caseID("x"), actor: actor) }
            guard case let .writeFailed(reason) = error else { Issue.record("expected writeFailed, got \(String(describing: error))"); return }
            #expect(reason.contains("closing"))
            let reopened = try Self.openSmallRecent(dir)
            #expect(Self.notes(try reopened.caseState(caseID("x"))).isEmpty)
            await reopened.close()
        }
    }
}
