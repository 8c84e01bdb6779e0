// Replay a failure with the `.fixedSeed(...)` trait PropertyBased prints; see Generators.swift.

import PropertyBased
import Testing
@testable import CaseMeshCRDT

/// Replicas ship deltas, not states, and the network reorders, duplicates and
/// batches them. These properties pin down that delta delivery is safe: any
/// permutation of a run's deltas with duplicates, applied to bottom or to a
/// base state, gives the join of all deltas; that join is what full
/// anti-entropy converges to; every replica's state is exactly the join of the
/// deltas it has received; and each mutator's in-place effect is the same as
/// joining the delta it returns into the pre-mutation state.
@Suite struct DeltaPropertyTests {
    @Test func deltaDeliveryConvergesForAWORSetOfInt() async { await checkDeltaDelivery(AWORSet<Int>.self) }
    @Test func deltaDeliveryConvergesForAWORSetOfString() async { await checkDeltaDelivery(AWORSet<String>.self) }
    @Test func deltaDeliveryConvergesForORMapOfStrings() async { await checkDeltaDelivery(ORMap<String, String>.self) }
    @Test func deltaDeliveryConvergesForORMapOfInts() async { await checkDeltaDelivery(ORMap<Int, Int>.self) }
    @Test func deltaDeliveryConvergesForLWWRegisterOfInt() async { await checkDeltaDelivery(LWWRegister<Int>.self) }
    @Test func deltaDeliveryConvergesForLWWRegisterOfString() async { await checkDeltaDelivery(LWWRegister<String>.self) }
    @Test func deltaDeliveryConvergesForGrowOnlyMap() async { await checkDeltaDelivery(GrowOnlyMap<String, Int>.self) }

    /// The delta a mutator returns must carry exactly its in-place effect;
    /// otherwise the origin and the receivers of its delta silently differ.
    @Test func inPlaceMutationEqualsJoiningTheDelta() async {
        await propertyCheck(count: 1000, input: Gens.scenario(maxSteps: 30)) { scenario in
            let sets = ClusterRun<AWORSet<String>>(scenario)
            let maps = ClusterRun<ORMap<Int, String>>(scenario)
            let registers = ClusterRun<LWWRegister<Int>>(scenario)
            let grow = ClusterRun<GrowOnlyMap<Int, String>>(scenario)
            #expect(sets.inPlaceViolations.isEmpty, "AWORSet: \(sets.inPlaceViolations.first ?? "")")
            #expect(maps.inPlaceViolations.isEmpty, "ORMap: \(maps.inPlaceViolations.first ?? "")")
            #expect(registers.inPlaceViolations.isEmpty, "LWWRegister: \(registers.inPlaceViolations.first ?? "")")
            #expect(grow.inPlaceViolations.isEmpty, "GrowOnlyMap: \(grow.inPlaceViolations.first ?? "")")
        }
    }

    /// A mutation the replica applied to a stale copy is still a valid delta
    /// against any later state: joining it into a state that has moved on
    /// equals joining it before (deltas commute with later joins).
    @Test func lateDeltaJoinsLikeAnEarlyOne() async {
        await propertyCheck(count: 1000, input: Gens.scenario()) { scenario in
            let run = ClusterRun<ORMap<String, String>>(scenario)
            var rng = SplitMix64(seed: scenario.seed)
            guard let delta = run.deltas.randomElement(using: &rng) else { return }
            let base = run.midpoint.randomElement(using: &rng)!
            let other = run.states.randomElement(using: &rng)!
            #expect(base.lub(delta).lub(other) == base.lub(other).lub(delta))
        }
    }
}

func checkDeltaDelivery<State: SimulatedCRDT>(
    _: State.Type, count: Int = 1000, sourceLocation: SourceLocation = #_sourceLocation
) async {
    await propertyCheck(count: count, input: Gens.scenario(), perform: { scenario in
        let run = ClusterRun<State>(scenario)
        var rng = SplitMix64(seed: scenario.seed)
        let all = joinAll(run.deltas)

        // Every replica's state is the join of the deltas it has seen, in any order.
        for r in run.states.indices {
            let mine = run.seen[r].sorted()
            let replayed = joinAll(deliverySchedule(count: mine.count, using: &rng).map { run.deltas[mine[$0]] })
            #expect(replayed == run.states[r], "replica \(replicaNames[r]) is not the join of the deltas it saw",
                    sourceLocation: sourceLocation)
        }

        // Any order, with duplicates, onto bottom or onto a base state.
        for _ in 0..<3 {
            let schedule = deliverySchedule(count: run.deltas.count, using: &rng)
            let replayed = joinAll(schedule.map { run.deltas[$0] })
            #expect(replayed == all && replayed.canonicalBytes == all.canonicalBytes,
                    "delivery order \(schedule) gives \(replayed), the joined deltas are \(all)",
                    sourceLocation: sourceLocation)
            let base = (run.midpoint + [State()]).randomElement(using: &rng)!
            #expect(joinAll(schedule.map { run.deltas[$0] }, into: base) == base.lub(all),
                    "onto base \(base), order \(schedule)", sourceLocation: sourceLocation)
        }

        // Full anti-entropy (every replica gets every state) reaches the same
        // state as a replica that received every delta.
        #expect(run.converged == all, "converged \(run.converged) but deltas join to \(all)", sourceLocation: sourceLocation)
        for state in run.states {
            #expect(joinAll(run.states.shuffled(using: &rng), into: state) == all, sourceLocation: sourceLocation)
        }
    }, sourceLocation: sourceLocation)
}
