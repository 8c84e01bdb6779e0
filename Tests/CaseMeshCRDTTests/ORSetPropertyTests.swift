// Replay a failure with the `.fixedSeed(...)` trait PropertyBased prints; see Generators.swift.

import PropertyBased
import Testing
@testable import CaseMeshCRDT

/// The add-wins observed-remove semantics users rely on: a remove deletes
/// exactly the adds its replica had seen, so an add concurrent with a remove
/// survives, and nothing a remover saw comes back.
@Suite struct ORSetPropertyTests {
    /// Every replica of a random run, and the converged state, hold exactly the
    /// elements the history-only reference model says they should.
    @Test func awORSetMatchesTheObservedRemoveModel() async {
        await propertyCheck(count: 1000, input: Gens.scenario(maxSteps: 30)) { scenario in
            let run = ClusterRun<AWORSet<String>>(scenario)
            let model = ObservedRemoveModel(run.events)
            for r in run.states.indices {
                let expected = Set(model.presentKeys(in: run.seen[r]).map(String.make))
                #expect(run.states[r].elements == expected, "replica \(replicaNames[r])")
            }
            let expected = Set(model.presentKeys(in: Set(run.events.indices)).map(String.make))
            #expect(run.converged.elements == expected, "converged state")
        }
    }

    /// The same for an OR-map of registers: present keys, each key's winning
    /// value, and the concurrent losers in order.
    @Test func orMapMatchesTheObservedRemoveModel() async {
        await propertyCheck(count: 1000, input: Gens.scenario(maxSteps: 30)) { scenario in
            let run = ClusterRun<ORMap<String, Int>>(scenario)
            let model = ObservedRemoveModel(run.events)
            for (view, state) in zip(run.seen + [Set(run.events.indices)], run.states + [run.converged]) {
                let keys = model.presentKeys(in: view)
                #expect(state.keys == Set(keys.map(String.make)))
                for key in keys {
                    let (winner, losers) = model.register(key: key, in: view)!
                    let field = state.state.store[.make(key)]
                    #expect(state[.make(key)] == Int.make(winner.value), "key \(key)")
                    #expect(field?.winner?.stamp == LWWStamp(time: winner.time, replica: winner.replica), "key \(key)")
                    #expect(field?.losers.map(\.value) == losers.map { Int.make($0.value) }, "losers of key \(key)")
                }
            }
        }
    }

    /// Replica A adds x while replica B concurrently removes x, starting from a
    /// common state that does or does not contain x: after the two deltas are
    /// exchanged (in either order, also at a bystander), x is present everywhere.
    @Test func concurrentAddAndRemoveLeavesTheElementPresent() async {
        await propertyCheck(count: 1000, input: Gens.scenario(), Gen.int(in: 0...3), Gen.bool, Gen.bool) {
            scenario, key, startsPresent, bystanderOrder in
            var common = ClusterRun<AWORSet<Int>>(scenario).converged
            let x = Int.make(key)
            if startsPresent { common.add(x, replica: replicaID(2)) } else { common.remove(x) }
            #expect(common.contains(x) == startsPresent)

            var a = common, b = common, bystander = common
            let addDelta = a.add(x, replica: replicaID(0))
            let removeDelta = b.remove(x)
            a.join(removeDelta)
            b.join(addDelta)
            for delta in bystanderOrder ? [addDelta, removeDelta] : [removeDelta, addDelta] { bystander.join(delta) }

            #expect(a.contains(x) && b.contains(x) && bystander.contains(x))
            #expect(a == b && b == bystander)
        }
    }

    /// The same race on an OR-map field: A writes the field while B removes
    /// it. The write survives with A's value whatever the timestamps.
    @Test func concurrentSetAndRemoveKeepsTheField() async {
        await propertyCheck(count: 1000, input: Gens.scenario(), Gen.int(in: 0...3), Gen.int(in: 0...7), Gen.uint64(in: 1...1 << 40)) {
            scenario, key, value, wall in
            let common = ClusterRun<ORMap<String, Int>>(scenario).converged
            let field = String.make(key)
            var a = common, b = common
            let setDelta = a.set(field, .make(value), time: HLCTimestamp(wallMillis: wall), replica: replicaID(0))
            let removeDelta = b.remove(field)
            a.join(removeDelta)
            b.join(setDelta)
            #expect(a[field] == Int.make(value) && b[field] == Int.make(value))
            #expect(a == b)
        }
    }

    /// Up to three replicas add x concurrently; B receives some of those adds,
    /// then removes x. Once everyone has everything, exactly the adds B had not
    /// observed survive (by dot), and x is present iff there is one.
    @Test func removeDeletesOnlyTheAddsItObserved() async {
        await propertyCheck(count: 1000, input: Gens.scenario(), Gen.int(in: 1...3), Gen.int(in: 0...7), Gen.int(in: 0...3)) {
            scenario, adders, observedMask, key in
            let common = ClusterRun<AWORSet<Int>>(scenario).converged
            let x = Int.make(key)
            var rng = SplitMix64(seed: scenario.seed)

            var addDeltas: [AWORSet<Int>] = []
            var addStates: [AWORSet<Int>] = []
            for i in 0..<adders {
                var replica = common
                addDeltas.append(replica.add(x, replica: replicaID(i)))
                addStates.append(replica)
            }
            let addDots = addDeltas.map { $0.state.store[x]!.dots }
            let observed = (0..<adders).filter { observedMask & (1 << $0) != 0 }

            var b = common
            for i in observed.shuffled(using: &rng) { b.join(addDeltas[i]) }
            let removeDelta = b.remove(x)
            #expect(!b.contains(x), "B just removed x")

            let everything = addDeltas + [removeDelta]
            let survivors = (0..<adders).filter { !observed.contains($0) }.reduce(into: Set<Dot>()) { $0.formUnion(addDots[$1]) }
            for var state in addStates + [b, common] {
                for i in deliverySchedule(count: everything.count, using: &rng) { state.join(everything[i]) }
                #expect(state.contains(x) == !survivors.isEmpty, "observed adds \(observed) of \(adders)")
                #expect((state.state.store[x]?.dots ?? []) == survivors, "surviving add dots")
            }
        }
    }

    /// Removing an element that is absent changes nothing anywhere, and
    /// re-adding after a remove makes it present again (no tombstone blocks it).
    @Test func removeThenAddIsPresentAndRemovingAbsentIsANoOp() async {
        await propertyCheck(count: 1000, input: Gens.scenario(), Gen.int(in: 0...3)) { scenario, key in
            let run = ClusterRun<AWORSet<Int>>(scenario)
            var state = run.states[0]
            let x = Int.make(key)
            let removed = state.remove(x)
            #expect(!state.contains(x))
            let stateAfterRemove = state
            let again = state.remove(x)
            #expect(state == stateAfterRemove, "second remove changed the state")
            #expect(run.converged.lub(removed).lub(again) == run.converged.lub(removed))
            let added = state.add(x, replica: replicaID(0))
            #expect(state.contains(x))
            #expect(run.converged.lub(removed).lub(added).contains(x))
        }
    }
}
