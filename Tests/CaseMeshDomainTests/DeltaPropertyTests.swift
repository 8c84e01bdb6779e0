import PropertyBased
import Testing
import CaseMeshCRDT
@testable import CaseMeshDomain

/// A command's delta is what gets persisted and shipped, so it must carry
/// exactly the command's effect: receivers that join the deltas — in any
/// order, duplicated, batched — must end up with the origin's state.
@Suite struct DeltaPropertyTests {
    /// Joining every delta a replica produced, shuffled and with duplicates,
    /// into a fresh state built from the create delta's header gives exactly
    /// the replica's own state.
    @Test func joiningAllDeltasInAnyOrderRebuildsTheState() async {
        await propertyCheck(count: 1000, input: commandSeedGen.array(of: 0...30), Gen.uint64(in: .min ... .max), Gen.bool) { seeds, shuffleSeed, vendorReady in
            var origin = try ReplicaCase.randomStart(vendorReady: vendorReady)
            for seed in seeds { origin.attempt(seed) }

            var rng = SplitMix64(seed: shuffleSeed)
            var deliveries = origin.deltas
            for _ in 0..<Int.random(in: 0...origin.deltas.count, using: &rng) {
                deliveries.append(origin.deltas.randomElement(using: &rng)!)
            }
            deliveries.shuffle(using: &rng)

            var rebuilt = CaseState(header: origin.deltas[0].header)
            for delta in deliveries { rebuilt.join(delta) }
            #expect(rebuilt == origin.state)
            #expect(rebuilt.digest == origin.state.digest)
        }
    }

    /// The in-place effect of each command equals joining its delta into the
    /// state before the command, and joining it again changes nothing.
    @Test func inPlaceEffectEqualsJoiningTheDelta() async {
        await propertyCheck(count: 1000, input: commandSeedGen.array(of: 1...30), Gen.bool) { seeds, vendorReady in
            var origin = try ReplicaCase.randomStart(vendorReady: vendorReady)
            for seed in seeds {
                let before = origin.state
                guard origin.attempt(seed) else { continue }
                let delta = origin.deltas.last!
                var joined = before
                joined.join(delta)
                #expect(joined == origin.state, "\(seed)")
                joined.join(delta)
                #expect(joined == origin.state, "joining \(seed) twice")
            }
        }
    }

    /// Deltas may be batched: joining deltas into one bigger delta first
    /// and shipping that gives the same state as shipping them one by one.
    @Test func batchedDeltasGiveTheSameState() async {
        await propertyCheck(count: 500, input: commandSeedGen.array(of: 0...30), Gen.int(in: 1...6), Gen.bool) { seeds, batchSize, vendorReady in
            var origin = try ReplicaCase.randomStart(vendorReady: vendorReady)
            for seed in seeds { origin.attempt(seed) }
            var rebuilt = CaseState(header: origin.deltas[0].header)
            var index = 0
            while index < origin.deltas.count {
                var batch = CaseState(header: origin.deltas[0].header)
                for delta in origin.deltas[index..<min(index + batchSize, origin.deltas.count)] { batch.join(delta) }
                rebuilt.join(batch)
                index += batchSize
            }
            #expect(rebuilt == origin.state)
        }
    }

    /// A sanity check on the generator: random sequences do get past the
    /// rules often enough for the properties above to mean something.
    @Test func randomSequencesExerciseTheGates() async {
        var reached: Set<CaseStatus> = []
        var levels: Set<EscalationLevel> = []
        var accepted = 0
        var total = 0
        await propertyCheck(count: 300, input: commandSeedGen.array(of: 20...40), Gen.bool) { seeds, vendorReady in
            var origin = try ReplicaCase.randomStart(vendorReady: vendorReady)
            for seed in seeds {
                total += 1
                if origin.attempt(seed) { accepted += 1 }
                reached.insert(origin.state.status)
                levels.insert(origin.state.escalationLevel)
            }
        }
        #expect(reached == Set(CaseStatus.allCases))
        #expect(levels.contains(.l3Vendor))
        #expect(accepted * 2 > total)
    }
}
