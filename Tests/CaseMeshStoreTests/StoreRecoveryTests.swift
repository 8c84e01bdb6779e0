import Foundation
import Testing
import CaseMeshCRDT
import CaseMeshDomain
@testable import CaseMeshStore

/// Closing and reopening a store: everything acknowledged comes back, and
/// the hybrid clock never goes back in time across a restart.
@Suite struct StoreRecoveryTests {
    /// Every acknowledged case and note is there after a close and reopen,
    /// with the same digest, count, log and applied positions; the integrity
    /// check is clean and numbering continues where it stopped.
    @Test func reopenedStoreHoldsEveryAcknowledgedWrite() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(step: 3)
            let store = try openStore(dir, clock: clock, durability: .normal)
            var acknowledged: [CaseID: CaseState] = [:]
            for index in 1...20 {
                let created = try await store.create(draft(title: "Recovered case \(index)", severity: index.isMultiple(of: 2) ? .sev1 : .sev3), actor: actor)
                acknowledged[created.state.id] = created.state
                if index.isMultiple(of: 3) {
                    let noted = try await store.execute(addNote("n\(index)", "note \(index)"), on: created.state.id, actor: actor)
                    acknowledged[created.state.id] = noted.state
                }
            }
            let before = try StoreSnapshot(store)
            #expect(before.cases == 20)
            #expect(before.applied == [.emea: 26])
            await store.close()

            let reopened = try openStore(dir, clock: clock, durability: .normal)
            for (id, state) in acknowledged {
                #expect(try reopened.caseState(id) == state)
            }
            let after = try StoreSnapshot(reopened)
            #expect(after == before)
            #expect(reopened.digest.digest == (try recomputedDigest(reopened)))
            #expect(try reopened.integrityCheck().isEmpty)

            let next = try await reopened.create(draft(title: "After restart"), actor: actor)
            #expect(next.state.header.number == "EMEA-000021")
            #expect(next.position == LogPosition(origin: .emea, counter: 27))
            await reopened.close()
        }
    }

    /// The positions of remote origins a store has applied survive a
    /// restart: the next delta in order is accepted, an old one is ignored
    /// as a duplicate and a skipped one is refused as a gap.
    @Test func appliedRemotePositionsSurviveReopen() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(step: 1)
            let emea = try openStore(dir + "/emea", clock: clock)
            let created = try await emea.create(draft(), actor: actor)
            for index in 1...4 { _ = try await emea.execute(addNote("n\(index)", "note \(index)"), on: created.state.id, actor: actor) }
            let log = try logEntries(emea, of: .emea)
            #expect(log.count == 5)

            let amer = try openStore(dir + "/amer", replica: .amer, region: "AMER", clock: clock)
            for entry in log.prefix(3) {
                _ = try await amer.applyRemote(origin: .emea, counter: entry.position.counter, delta: entry.delta)
            }
            await amer.close()

            let reopened = try openStore(dir + "/amer", replica: .amer, region: "AMER", clock: clock)
            #expect(reopened.appliedPositions == [.emea: 3])
            let digestBefore = reopened.digest
            let duplicate = try await reopened.applyRemote(origin: .emea, counter: 2, delta: log[1].delta)
            #expect(duplicate.delta == nil)
            #expect(reopened.digest == digestBefore)
            let gap = await storeError { try await reopened.applyRemote(origin: .emea, counter: 5, delta: log[4].delta) }
            guard case let .outOfOrder(origin, expected, got)? = gap else {
                Issue.record("expected .outOfOrder, got \(String(describing: gap))")
                return
            }
            #expect(origin == "emea" && expected == 4 && got == 5)
            for entry in log.dropFirst(3) {
                _ = try await reopened.applyRemote(origin: .emea, counter: entry.position.counter, delta: entry.delta)
            }
            #expect(reopened.digest == emea.digest)
            await reopened.close()
            await emea.close()
        }
    }

    /// The clock bound is persisted: a store written at time T and reopened
    /// with its wall clock set back an hour still stamps its next write
    /// strictly after every timestamp it handed out before the restart.
    @Test func restartWithClockSetBackNeverGoesBackInTime() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(baseMillis)
            let store = try openStore(dir, clock: clock, durability: .normal)
            var earlier: [HLCTimestamp] = []
            for index in 1...3 {
                let created = try await store.create(draft(title: "Before restart \(index)"), actor: actor)
                let noted = try await store.execute(addNote("n\(index)", "note"), on: created.state.id, actor: actor)
                earlier.append(noted.state.header.createdAt)
                earlier += noted.state.timeline.entries.map(\.key.time)
            }
            clock.advance(by: 2_000)
            let last = try await store.create(draft(title: "Last before restart"), actor: actor)
            earlier.append(last.state.header.createdAt)
            await store.close()

            clock.rewind(by: hourMillis)
            let reopened = try openStore(dir, clock: clock, durability: .normal)
            let after = try await reopened.create(draft(title: "After restart"), actor: actor)
            let latestBefore = try #require(earlier.max())
            #expect(after.state.header.createdAt > latestBefore,
                    "created at \(after.state.header.createdAt), but \(latestBefore) was handed out before the restart")
            #expect(after.state.updatedAt > latestBefore)
            // And the next write on the reopened store keeps going forward.
            let noted = try await reopened.execute(addNote("later", "later note"), on: after.state.id, actor: actor)
            #expect(noted.state.updatedAt > after.state.header.createdAt)
            await reopened.close()
        }
    }

    /// A remote timestamp (ahead of the local clock, within the allowed
    /// offset) moves the clock forward, and that too is made durable: a
    /// store that only ever received, reopened with its wall clock set back
    /// an hour, stamps its first own write after the received timestamp.
    @Test func receivedTimestampsBoundTheClockAfterRestart() async throws {
        try await withTemporaryDirectory { dir in
            let localClock = ManualClock(baseMillis)
            let remoteClock = ManualClock(baseMillis + 400)
            let apac = try openStore(dir + "/apac", replica: .apac, region: "APAC", clock: remoteClock)
            let created = try await apac.create(draft(title: "Ahead of us"), actor: actor)
            let received = created.state.header.createdAt
            #expect(received.wallMillis == baseMillis + 400)

            let amer = try openStore(dir + "/amer", replica: .amer, region: "AMER", clock: localClock, durability: .normal)
            _ = try await amer.applyRemote(origin: .apac, counter: 1, delta: created.state)
            await amer.close()

            localClock.rewind(by: hourMillis)
            let reopened = try openStore(dir + "/amer", replica: .amer, region: "AMER", clock: localClock, durability: .normal)
            let own = try await reopened.create(draft(title: "First own write"), actor: actor)
            #expect(own.state.header.createdAt > received,
                    "stamped \(own.state.header.createdAt) after having received \(received)")
            await reopened.close()
            await apac.close()
        }
    }
}
