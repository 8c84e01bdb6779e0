import Foundation
import Testing
import CaseMeshCRDT
import CaseMeshDomain
@testable import CaseMeshStore

/// The replicated delta log: applying another node's deltas, refusing
/// gaps and skewed clocks, ignoring duplicates, surfacing conflicts, and
/// trimming the log to its retention.
@Suite struct StoreReplicationLogTests {
    /// A store that writes a few cases, notes and field changes, for the
    /// receiving side of the tests below.
    func writeSomeCases(_ store: NodeStore, count: Int = 5) async throws -> [WriteOutcome] {
        var outcomes: [WriteOutcome] = []
        for index in 1...count {
            let created = try await store.create(draft(title: "Replicated \(index)", fields: escalationRequest), actor: actor)
            outcomes.append(created)
            outcomes.append(try await store.execute(addNote("n\(index)", "note \(index)"), on: created.state.id, actor: actor))
            if index.isMultiple(of: 2) {
                outcomes.append(try await store.execute(.setFields([.owner: .text("Erin \(index)")]), on: created.state.id, actor: actor))
            }
        }
        return outcomes
    }

    /// A second node applying the first one's deltas in log order ends with
    /// the same cases and digest, and relays them: its own log now holds
    /// the first node's deltas under their origin.
    @Test func applyingAllDeltasInOrderConverges() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(step: 1)
            let emea = try openStore(dir + "/emea", clock: clock)
            let amer = try openStore(dir + "/amer", replica: .amer, region: "AMER", clock: clock)
            let outcomes = try await writeSomeCases(emea)
            let log = try logEntries(emea, of: .emea)
            #expect(log.count == outcomes.count)

            for entry in log {
                let outcome = try await amer.applyRemote(origin: .emea, counter: entry.position.counter, delta: entry.delta)
                #expect(outcome.position == entry.position)
                #expect(outcome.followUpPosition == nil)
            }
            #expect(amer.digest == emea.digest)
            #expect(amer.appliedPositions == [.emea: UInt64(log.count)])
            for summary in try allSummaries(emea) {
                #expect(try amer.caseState(caseID(summary.id)) == emea.caseState(caseID(summary.id)))
            }
            let relayed = try logEntries(amer, of: .emea)
            #expect(relayed.map(\.position) == log.map(\.position))
            #expect(relayed.map(\.delta) == log.map(\.delta))
            #expect(try allSummaries(amer, CaseQuery(region: region("EMEA"), limit: 1000)).count == 5)
            #expect(try allSummaries(amer, CaseQuery(text: "note")).count == 5, "remote cases are searchable too")
            await amer.close()
            await emea.close()
        }
    }

    /// A backlog of deltas applied as one batch (as after a partition heals)
    /// touches the same few cases many times; each case is written once at
    /// the end of the batch, and the result is exactly what one-by-one
    /// application gives: states, digest, list columns, search, log.
    @Test func aBatchOfManyDeltasToFewCasesEqualsOneByOne() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(step: 1)
            let emea = try openStore(dir + "/emea", clock: clock)
            let batched = try openStore(dir + "/batched", replica: .amer, region: "AMER", clock: clock)
            let single = try openStore(dir + "/single", replica: .apac, region: "APAC", clock: clock)
            var ids: [CaseID] = []
            for index in 1...3 {
                ids.append(try await emea.create(draft(title: "Busy \(index)", fields: escalationRequest), actor: actor).state.id)
            }
            for round in 1...60 {
                let id = ids[round % ids.count]
                _ = try await emea.execute(addNote("r\(round)", "round \(round) remark"), on: id, actor: actor)
                _ = try await emea.execute(.setFields([.owner: .text("Owner \(round)")]), on: id, actor: actor)
                if round.isMultiple(of: 7) { _ = try await emea.execute(.removeNote(noteID("r\(round - 3)")), on: id, actor: actor) }
            }
            let log = try logEntries(emea, of: .emea)
            let results = await batched.applyRemote(log.map { (origin: ReplicaID.emea, counter: $0.position.counter, delta: $0.delta) })
            #expect(results.allSatisfy { (try? $0.get()) != nil })
            for entry in log { _ = try await single.applyRemote(origin: .emea, counter: entry.position.counter, delta: entry.delta) }

            #expect(batched.digest == emea.digest)
            #expect(batched.digest == single.digest)
            #expect(try recomputedDigest(batched) == batched.digest.digest)
            for id in ids { #expect(try batched.caseState(id) == emea.caseState(id)) }
            #expect(try allSummaries(batched) == allSummaries(single))
            #expect(try allSummaries(batched, CaseQuery(owner: "Owner 60")).map(\.id) == [ids[0].rawValue])
            #expect(try allSummaries(batched, CaseQuery(text: "remark")).count == 3)
            #expect(try logEntries(batched, of: .emea).map(\.delta) == log.map(\.delta))
            #expect(try batched.integrityCheck().isEmpty)
            await batched.close()
            await single.close()
            await emea.close()
        }
    }

    /// A delta already applied is acknowledged without effect: no new log
    /// entry, same digest, same applied position.
    @Test func duplicateDeltaIsIgnored() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(step: 1)
            let emea = try openStore(dir + "/emea", clock: clock)
            let amer = try openStore(dir + "/amer", replica: .amer, region: "AMER", clock: clock)
            _ = try await writeSomeCases(emea, count: 2)
            try await sync(from: emea, to: amer)
            let before = try StoreSnapshot(amer)

            let first = try #require(try logEntries(emea, of: .emea).first)
            let again = try await amer.applyRemote(origin: .emea, counter: first.position.counter, delta: first.delta)
            #expect(again.delta == nil)
            #expect(again.position == nil)
            #expect(!again.created)
            #expect(again.state == (try amer.caseState(first.delta.id)))
            #expect(try StoreSnapshot(amer) == before)
            await amer.close()
            await emea.close()
        }
    }

    /// A delta that skips a counter is refused with `.outOfOrder` naming
    /// what was expected, and nothing is stored; the missing delta then
    /// makes the sequence acceptable.
    @Test func gapIsRefusedAsOutOfOrder() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(step: 1)
            let emea = try openStore(dir + "/emea", clock: clock)
            let amer = try openStore(dir + "/amer", replica: .amer, region: "AMER", clock: clock)
            _ = try await writeSomeCases(emea, count: 1)
            let log = try logEntries(emea, of: .emea)
            let before = try StoreSnapshot(amer)

            let error = await storeError { try await amer.applyRemote(origin: .emea, counter: 2, delta: log[1].delta) }
            guard case let .outOfOrder(origin, expected, got)? = error else {
                Issue.record("expected .outOfOrder, got \(String(describing: error))")
                return
            }
            #expect(origin == "emea")
            #expect(expected == 1)
            #expect(got == 2)
            #expect(try StoreSnapshot(amer) == before)
            #expect(amer.writeFailure == nil, "a gap is the sender's problem, not a storage failure")

            for entry in log { _ = try await amer.applyRemote(origin: .emea, counter: entry.position.counter, delta: entry.delta) }
            #expect(amer.digest == emea.digest)
            await amer.close()
            await emea.close()
        }
    }

    /// The skew limit is exact: a remote timestamp `maxClockOffsetMillis`
    /// ahead of the local clock is accepted, one millisecond more is refused
    /// with `.clockSkew` and nothing is stored. The same delta is accepted
    /// once the local clock has caught up.
    @Test(arguments: [(ahead: UInt64(500), accepted: true), (ahead: UInt64(501), accepted: false), (ahead: hourMillis, accepted: false)])
    func remoteTimestampTooFarAheadIsRefused(ahead: UInt64, accepted: Bool) async throws {
        try await withTemporaryDirectory { dir in
            let fastClock = ManualClock(baseMillis + ahead)
            let localClock = ManualClock(baseMillis)
            let apac = try openStore(dir + "/apac", replica: .apac, region: "APAC", clock: fastClock)
            let amer = try openStore(dir + "/amer", replica: .amer, region: "AMER", clock: localClock)
            let created = try await apac.create(draft(title: "From the future"), actor: actor)
            #expect(created.state.header.createdAt.wallMillis == baseMillis + ahead)
            let before = try StoreSnapshot(amer)

            let error = await storeError { try await amer.applyRemote(origin: .apac, counter: 1, delta: created.state) }
            if accepted {
                #expect(error == nil)
                #expect(try amer.caseState(created.state.id) == created.state)
                #expect(amer.appliedPositions == [.apac: 1])
            } else {
                guard case let .clockSkew(detail)? = error else {
                    Issue.record("expected .clockSkew, got \(String(describing: error))")
                    return
                }
                #expect(detail.contains("ahead"))
                #expect(try StoreSnapshot(amer) == before)
                #expect(try amer.caseState(created.state.id) == nil)
                #expect(amer.writeFailure == nil)

                localClock.set(baseMillis + ahead)
                _ = try await amer.applyRemote(origin: .apac, counter: 1, delta: created.state)
                #expect(amer.digest == apac.digest)
            }
            await amer.close()
            await apac.close()
        }
    }

    /// Two nodes write the same field of one case concurrently and then
    /// exchange their logs both ways (including the conflict follow-ups,
    /// which land in each receiver's log under its own origin): both end
    /// with the same state and digest, and both show exactly one conflict
    /// event for the field.
    @Test func concurrentWritesConvergeAndShowTheConflict() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(step: 1)
            let emea = try openStore(dir + "/emea", clock: clock)
            let amer = try openStore(dir + "/amer", replica: .amer, region: "AMER", clock: clock)
            let created = try await emea.create(draft(), actor: actor)
            try await sync(from: emea, to: amer)
            let id = created.state.id

            _ = try await emea.execute(.setFields([.owner: .text("Erin")]), on: id, actor: actor)
            _ = try await amer.execute(.setFields([.owner: .text("Ahmed")]), on: id, actor: actor)

            let toAmer = try #require(try logEntries(emea, of: .emea, after: 1).first)
            let atAmer = try await amer.applyRemote(origin: .emea, counter: toAmer.position.counter, delta: toAmer.delta)
            #expect(atAmer.followUpPosition == LogPosition(origin: .amer, counter: 2))
            let toEmea = try #require(try logEntries(amer, of: .amer, after: 0).first)
            let atEmea = try await emea.applyRemote(origin: .amer, counter: toEmea.position.counter, delta: toEmea.delta)
            #expect(atEmea.followUpPosition == LogPosition(origin: .emea, counter: 3))

            // Ship the follow-ups (and anything else either lacks) until both are complete.
            try await sync(from: emea, to: amer)
            try await sync(from: amer, to: emea)
            #expect(emea.appliedPositions == amer.appliedPositions)
            #expect(emea.appliedPositions == [.emea: 3, .amer: 2])

            #expect(emea.digest == amer.digest)
            let atE = try #require(try emea.caseState(id))
            let atA = try #require(try amer.caseState(id))
            #expect(atE == atA)
            #expect(atE.conflictEvents.count == 1)
            #expect(atA.conflictEvents.count == 1)
            let conflict = try #require(atE.conflictEvents.first)
            #expect(conflict.field == "owner")
            #expect(Set([conflict.from, conflict.to]) == Set(["Erin", "Ahmed"]))
            #expect(atE.owner == conflict.to)
            #expect(emea.digest.digest == (try recomputedDigest(emea)))
            #expect(amer.digest.digest == (try recomputedDigest(amer)))
            await amer.close()
            await emea.close()
        }
    }

    /// With a retention of 10, after 30 deltas the log no longer reaches
    /// back to the start (`.needsCatchUp` with where it begins), still holds
    /// at least the last 10, and returns what it holds oldest first,
    /// honouring `limit`. The trimmed state survives a reopen.
    @Test func logIsTrimmedToItsRetention() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(step: 1)
            let store = try openStore(dir, clock: clock, retention: 10)
            var deltas: [UInt64: CaseState] = [:]
            let created = try await store.create(draft(), actor: actor)
            deltas[1] = created.delta
            for index in 2...30 {
                let noted = try await store.execute(addNote("n\(index)", "note \(index)"), on: created.state.id, actor: actor)
                let position = try #require(noted.position)
                #expect(position.counter == UInt64(index))
                deltas[position.counter] = noted.delta
            }

            guard case let .needsCatchUp(origin, after, retainedFrom) = try store.deltas(of: .emea, after: 0, limit: 100) else {
                Issue.record("the log still reaches back to counter 1 after 30 deltas with retention 10")
                return
            }
            #expect(origin == .emea)
            #expect(after == 0)
            #expect(retainedFrom > 1)
            #expect(retainedFrom <= 21, "retention 10 must keep at least the last 10 deltas, kept from \(retainedFrom)")

            let recent = try logEntries(store, of: .emea, after: 25, limit: 100)
            #expect(recent.map(\.position.counter) == [26, 27, 28, 29, 30])
            #expect(recent.map(\.delta) == (26...30).map { deltas[$0]! })

            let retained = try logEntries(store, of: .emea, after: retainedFrom - 1, limit: 100)
            #expect(retained.map(\.position.counter) == Array(retainedFrom...30))
            #expect(retained.map(\.delta) == (retainedFrom...30).map { deltas[$0]! })
            #expect(try logEntries(store, of: .emea, after: retainedFrom - 1, limit: 3).map(\.position.counter)
                    == Array(retainedFrom..<(retainedFrom + 3)))
            if case .deltas = try store.deltas(of: .emea, after: retainedFrom - 2, limit: 100) {
                Issue.record("a request starting before the retained range must need a catch-up")
            }
            await store.close()

            let reopened = try openStore(dir, clock: clock, retention: 10)
            guard case let .needsCatchUp(_, _, reopenedFrom) = try reopened.deltas(of: .emea, after: 0, limit: 100) else {
                Issue.record("after a reopen the trimmed log claims to reach back to counter 1")
                return
            }
            #expect(reopenedFrom == retainedFrom)
            #expect(try logEntries(reopened, of: .emea, after: 25).map(\.position.counter) == [26, 27, 28, 29, 30])
            await reopened.close()
        }
    }

    /// An origin the store has never heard of has an empty log, not a catch-up.
    @Test func unknownOriginHasAnEmptyLog() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock())
            _ = try await store.create(draft(), actor: actor)
            #expect(try logEntries(store, of: .apac).isEmpty)
            #expect(try logEntries(store, of: .emea, after: 1).isEmpty)
            await store.close()
        }
    }
}
