// Replay a failure with the `.fixedSeed(...)` trait PropertyBased prints; see Generators.swift.

import PropertyBased
import Testing
@testable import CaseMeshCRDT

/// Last-writer-wins must pick the same winner on every replica whatever the
/// order of joins, and must not silently drop a concurrent write: it stays
/// visible as a loser until a write that saw it replaces it.
@Suite struct RegisterPropertyTests {
    /// Every replica of a random run shows the value, stamp and losers the
    /// history-only reference model predicts.
    @Test func registerMatchesTheReferenceModel() async {
        await propertyCheck(count: 1000, input: Gens.scenario(maxSteps: 30)) { scenario in
            let run = ClusterRun<LWWRegister<String>>(scenario)
            let model = ObservedRemoveModel(run.events)
            for (view, register) in zip(run.seen + [Set(run.events.indices)], run.states + [run.converged]) {
                guard let (winner, losers) = model.register(key: 0, in: view) else {
                    #expect(register.value == nil && register.losers.isEmpty)
                    continue
                }
                #expect(register.value == String.make(winner.value))
                #expect(register.stamp == LWWStamp(time: winner.time, replica: winner.replica))
                #expect(register.losers.map(\.value) == losers.map { String.make($0.value) })
                #expect(register.losers.map(\.stamp) == losers.map { LWWStamp(time: $0.time, replica: $0.replica) })
            }
        }
    }

    /// Two replicas write with the very same HLC timestamp (equal clocks do
    /// that). The higher replica id by UTF-8 bytes must win on both replicas
    /// and on bystanders that join the writes in either order; the other write
    /// is the one loser.
    @Test func equalTimestampsAreBrokenByReplicaIDEverywhere() async {
        let ids = zip(replicaIDGen, replicaIDGen).filter { $0.0 != $0.1 }
        await propertyCheck(
            count: 1000, input: ids, Gen.uint64(in: 1...1 << 44), Gen<UInt32>.value(in: 0...3),
            zip(Gen.int(in: -1000...1000), Gen.int(in: -1000...1000)), Gen.bool
        ) { ids, wall, logical, values, withCommonBase in
            let (id1, id2) = ids
            var base = LWWRegister<Int>()
            if withCommonBase { base.assign(values.0 &+ values.1, time: HLCTimestamp(wallMillis: wall / 2), replica: id1) }
            let time = HLCTimestamp(wallMillis: wall, logical: logical)
            var r1 = base, r2 = base
            let d1 = r1.assign(values.0, time: time, replica: id1)
            let d2 = r2.assign(values.1, time: time, replica: id2)
            let (winnerID, winnerValue, loserValue) = utf8Precedes(id1, id2)
                ? (id2, values.1, values.0) : (id1, values.0, values.1)

            let views = [
                r1.joined(d2), r2.joined(d1), r1.joined(r2), r2.joined(r1),
                base.joined(d1).joined(d2), base.joined(d2).joined(d1), d2.joined(d1), d1.joined(base).joined(d2),
            ]
            for register in views {
                #expect(register.value == winnerValue)
                #expect(register.stamp == LWWStamp(time: time, replica: winnerID))
                #expect(register.losers.map(\.value) == [loserValue])
                #expect(register == views[0])
            }
        }
    }

    /// Two replicas on their own (skewed) clocks write concurrently with
    /// different HLC readings: the higher reading wins everywhere and the
    /// other stays visible as a loser. A later write by a replica that saw
    /// both replaces both; a write that saw only one replaces only that one.
    @Test func higherTimestampWinsAndLosersLastUntilAnObservingWrite() async {
        await propertyCheck(
            count: 1000, input: zip(Gen.int(in: -400...400), Gen.int(in: 0...3), Gen.int(in: 0...3)),
            zip(Gen.int(in: 0...99), Gen.int(in: 0...99), Gen.int(in: 0...99)), Gen.int(in: 0...2), Gen.bool
        ) { clocks, values, nextWriter, observerFirst in
            let (skew, priorEvents1, priorEvents2) = clocks
            let walls = [ManualWallClock(simulationEpochMillis), ManualWallClock(UInt64(Int(simulationEpochMillis) + skew))]
            var hlcs = walls.map { HybridLogicalClock(wallClock: $0.wallClock) }
            for _ in 0..<priorEvents1 { _ = hlcs[0].now() }
            for _ in 0..<priorEvents2 { _ = hlcs[1].now() }
            let t1 = hlcs[0].now().timestamp
            var t2 = hlcs[1].now().timestamp
            if t1 == t2 { walls[1].move(by: 1); t2 = hlcs[1].now().timestamp }
            #expect(t1 != t2)

            var r1 = LWWRegister<Int>(), r2 = LWWRegister<Int>()
            let d1 = r1.assign(values.0, time: t1, replica: replicaID(0))
            let d2 = r2.assign(values.1, time: t2, replica: replicaID(1))
            let firstIsHigher = (t1.wallMillis, t1.logical) > (t2.wallMillis, t2.logical)
            let (winner, loser) = firstIsHigher ? (values.0, values.1) : (values.1, values.0)
            r1.join(d2)
            r2.join(d1)
            for register in [r1, r2, d2.joined(d1), d1.joined(d2)] {
                #expect(register.value == winner)
                #expect(register.losers.map(\.value) == [loser])
            }

            // A write by a replica that observed both writes replaces both.
            var writer = [r1, r2, d2.joined(d1)][nextWriter]
            var writerClock = hlcs[nextWriter == 2 ? 0 : nextWriter]
            _ = try? writerClock.receive(firstIsHigher ? t1 : t2)
            let t3 = writerClock.now().timestamp
            #expect(isAfter(t3, t1) && isAfter(t3, t2), "a write after receiving both is stamped above both")
            let d3 = writer.assign(values.2, time: t3, replica: replicaID(nextWriter))
            for var register in [r1, r2, LWWRegister<Int>().joined(d1)] {
                if observerFirst { register.join(d3); register.join(d1); register.join(d2) }
                else { register.join(d1); register.join(d2); register.join(d3) }
                #expect(register.value == values.2)
                #expect(register.losers.isEmpty, "losers \(register.losers) after a write that observed them")
                #expect(register == writer)
            }

            // A write that observed only its own earlier write leaves the other one alive.
            var partial = LWWRegister<Int>().joined(d1)
            let d4 = partial.assign(values.2, time: HLCTimestamp(wallMillis: t3.wallMillis + 1), replica: replicaID(0))
            let merged = r2.joined(d4)
            let aliveDots = Set(merged.state.store.entries.map(\.dot))
            #expect(aliveDots == Set(d4.state.store.entries.map(\.dot) + d2.state.store.entries.map(\.dot)))
            #expect(merged.losers.count == 1)
        }
    }
}
