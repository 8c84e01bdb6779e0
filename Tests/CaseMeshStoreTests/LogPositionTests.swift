// The positions and the node digest a batch no longer writes: the store
// works them out again when it opens (an origin's applied counter from its
// log's newest entry, the digest from the case digests), and writes an
// origin's row only when where its log starts moves.

import Foundation
import GRDB
import Testing
import CaseMeshCRDT
import CaseMeshDomain
@testable import CaseMeshStore

@Suite struct LogPositionTests {
    /// What the database file itself holds for the positions and the digest.
    private func storedRows(_ dir: String) throws -> (applied: [String: Int64], retainedFrom: [String: Int64], digestRows: Int) {
        let queue = try DatabaseQueue(path: dir + "/store/casemesh.sqlite")
        return try queue.read { db in
            var applied: [String: Int64] = [:]
            var retained: [String: Int64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT origin, applied, retained_from FROM log_positions") {
                applied[row[0]] = row[1]
                retained[row[0]] = row[2]
            }
            let digests = try Int.fetchOne(db, sql: "SELECT count(*) FROM node_meta WHERE key = 'digest'") ?? 0
            return (applied, retained, digests)
        }
    }

    /// Local writes past the retention (so the log is trimmed) and remote
    /// deltas of a second origin: after a reopen every origin's applied
    /// counter, where its log starts and the node's digest are what they
    /// were, and the next local write takes the next counter. The rows on
    /// disk show that plain batches wrote neither the counter nor a digest.
    @Test func positionsAndDigestSurviveAReopenFromTheLog() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(step: 1)
            let store = try openStore(dir + "/emea", clock: clock, retention: 10)
            let amer = try openStore(dir + "/amer", replica: .amer, region: "AMER", clock: clock)
            let created = try await store.create(draft(), actor: actor)
            for index in 2...15 {
                _ = try await store.execute(addNote("n\(index)", "note \(index)"), on: created.state.id, actor: actor)
            }
            let remote = try await amer.create(draft(title: "Raised in AMER"), actor: actor)
            _ = try await amer.execute(addNote("a1", "from AMER"), on: remote.state.id, actor: actor)
            _ = try await amer.execute(addNote("a2", "from AMER again"), on: remote.state.id, actor: actor)
            for entry in try logEntries(amer, of: .amer) {
                _ = try await store.applyRemote(origin: .amer, counter: entry.position.counter, delta: entry.delta)
            }
            let positions = store.appliedPositions
            #expect(positions == [.emea: 15, .amer: 3])
            let digest = store.digest
            guard case let .needsCatchUp(_, _, retainedFrom) = try store.deltas(of: .emea, after: 0, limit: 100) else {
                Issue.record("15 local deltas with retention 10 must have trimmed the log")
                return
            }
            await store.close()
            await amer.close()

            let rows = try storedRows(dir + "/emea")
            #expect(rows.digestRows == 0, "the node digest is not stored")
            #expect(rows.retainedFrom == ["emea": Int64(retainedFrom), "amer": 1])
            #expect(rows.applied["amer"] == 1, "AMER's row was written with its first delta only, got \(rows.applied)")
            #expect((rows.applied["emea"] ?? 0) < 15, "EMEA's row was written when the log was trimmed, not by every batch")

            let reopened = try openStore(dir + "/emea", clock: clock, retention: 10)
            #expect(reopened.appliedPositions == positions)
            #expect(reopened.digest == digest)
            #expect(reopened.digest.digest == (try recomputedDigest(reopened)))
            guard case let .needsCatchUp(_, _, reopenedFrom) = try reopened.deltas(of: .emea, after: 0, limit: 100) else {
                Issue.record("after a reopen the trimmed log claims to reach back to counter 1")
                return
            }
            #expect(reopenedFrom == retainedFrom)
            let next = try await reopened.execute(addNote("n16", "note 16"), on: created.state.id, actor: actor)
            #expect(next.position?.counter == 16)
            #expect(try logEntries(reopened, of: .amer).map(\.position.counter) == [1, 2, 3])
            await reopened.close()
        }
    }

    /// A catch-up moves an origin's position past anything its log holds
    /// here: that position is written with the batch, and survives a reopen
    /// with no log entry to give it.
    @Test func aCatchUpPositionSurvivesAReopenWithAnEmptyLog() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(step: 1)
            let store = try openStore(dir, clock: clock)
            _ = try await store.create(draft(), actor: actor)
            _ = try await store.applyCatchUp(states: [], positions: [.apac: 50])
            #expect(store.appliedPositions == [.emea: 1, .apac: 50])
            #expect(try logEntries(store, of: .apac, after: 50).isEmpty, "the log holds nothing of APAC")
            await store.close()

            let reopened = try openStore(dir, clock: clock)
            #expect(reopened.appliedPositions == [.emea: 1, .apac: 50])
            guard case let .needsCatchUp(_, _, retainedFrom) = try reopened.deltas(of: .apac, after: 0, limit: 10) else {
                Issue.record("APAC's log starts after its caught-up position")
                return
            }
            #expect(retainedFrom == 51)
            // The next delta of that origin must be the one after the caught-up position.
            let delta = try #require(try reopened.caseState(caseID(allSummaries(reopened)[0].id)))
            let error = await storeError { try await reopened.applyRemote(origin: .apac, counter: 52, delta: delta) }
            guard case let .outOfOrder(_, expected, got)? = error else {
                Issue.record("a gap after 50 must be refused, got \(String(describing: error))")
                return
            }
            #expect(expected == 51 && got == 52)
            await reopened.close()
        }
    }
}
