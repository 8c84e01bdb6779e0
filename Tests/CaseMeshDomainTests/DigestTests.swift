import PropertyBased
import Testing
import CaseMeshCRDT
@testable import CaseMeshDomain

/// Digests decide whether two replicas still differ, so a case's digest
/// must be equal exactly when the states are equal.
@Suite struct DigestTests {
    /// The same deltas joined in two different orders (with duplicates)
    /// give equal states and equal digests. (Delivery through `merge`, which
    /// also records conflicts, is covered in ConflictTests.)
    @Test func deliveryOrderDoesNotChangeTheDigest() async {
        await propertyCheck(count: 500, input: commandSeedGen.array(of: 0...25), Gen.uint64(in: .min ... .max), Gen.bool) { seeds, shuffleSeed, vendorReady in
            var origin = try ReplicaCase.randomStart(vendorReady: vendorReady)
            for seed in seeds { origin.attempt(seed) }
            var rng = SplitMix64(seed: shuffleSeed)
            var first = CaseState(header: origin.deltas[0].header)
            var second = first
            for delta in origin.deltas.shuffled(using: &rng) { first.join(delta) }
            for delta in (origin.deltas + origin.deltas).shuffled(using: &rng) { second.join(delta) }
            #expect(first == second)
            #expect(first.digest == second.digest)
            #expect(first.canonicalBytes == second.canonicalBytes)
        }
    }

    /// Leaving out any single operation changes the digest: every delta
    /// carries at least its own timeline event.
    @Test func anyMissingOperationChangesTheDigest() async {
        await propertyCheck(count: 300, input: commandSeedGen.array(of: 1...20), Gen.int(in: 0...100), Gen.bool) { seeds, pick, vendorReady in
            var origin = try ReplicaCase.randomStart(vendorReady: vendorReady)
            for seed in seeds { origin.attempt(seed) }
            let effective = origin.deltas.indices.filter { !origin.deltas[$0].timeline.isEmpty }
            let left = effective[pick % effective.count]
            var partial = CaseState(header: origin.deltas[0].header)
            for (index, delta) in origin.deltas.enumerated() where index != left { partial.join(delta) }
            #expect(partial != origin.state)
            #expect(partial.digest != origin.state.digest)
        }
    }

    /// One different value, time, replica or actor in an otherwise identical
    /// history gives a different digest; identical histories give equal ones.
    @Test(arguments: ["same", "value", "time", "replica", "actor", "logical"])
    func singleDifferentOperationChangesTheDigest(difference: String) throws {
        func history(tag: String = "vip", at millis: Int64 = base + minute, replica: ReplicaID = .emea,
                     actor: String = "Ann Agent", logical: UInt32 = 0) throws -> CaseState {
            var state = try CaseState.create(newCase(), context: context())
            try state.execute(.addTag(tag), context: context(replica, at: millis, logical: logical, actor: actor))
            return state
        }
        let reference = try history()
        let other: CaseState
        switch difference {
        case "value": other = try history(tag: "p1")
        case "time": other = try history(at: base + 2 * minute)
        case "replica": other = try history(replica: .amer)
        case "actor": other = try history(actor: "Bea Lead")
        case "logical": other = try history(logical: 1)
        default: other = try history()
        }
        #expect((reference.digest == other.digest) == (difference == "same"))
        #expect((reference == other) == (difference == "same"))
    }

    /// Two replicas that add the same tag typed with a precomposed "é" and
    /// with "e" + combining accent end up with states Swift considers equal
    /// (String equality is canonical equivalence) — so their digests must be
    /// equal too, or anti-entropy would see a difference it can never repair.
    @Test func canonicallyEquivalentTagsGiveEqualDigests() throws {
        let emea0 = try ReplicaCase()
        var emea = emea0
        var amer = ReplicaCase(receiving: emea0.deltas[0], as: .amer, clock: base)
        let precomposed = "caf\u{E9}", decomposed = "cafe\u{301}"
        let fromEmea = try emea.run(.addTag(precomposed), at: base + minute)
        let fromAmer = try amer.run(.addTag(decomposed), at: base + minute)
        emea.state.merge(fromAmer)
        amer.state.merge(fromEmea)
        #expect(emea.state == amer.state)
        #expect(emea.state.digest == amer.state.digest)
    }

    /// The digest is keyed by the case id: equal contents under another id differ.
    @Test func digestDependsOnTheCaseID() throws {
        let one = try CaseState.create(newCase(id: "case-1"), context: context())
        let two = try CaseState.create(newCase(id: "case-2"), context: context())
        #expect(one.digest != two.digest)
    }

    /// A case set's digest is the same whatever order its cases arrived in,
    /// changes when any one case changes, and is zero when empty.
    @Test func caseSetDigestIgnoresInsertionOrder() throws {
        let cases = try (1...4).map { index in
            try CaseState.create(newCase(id: "case-\(index)", number: "EMEA-00000\(index)"), context: context(at: base + Int64(index) * minute))
        }
        #expect(CaseSet().digest == .zero)
        var digests: Set<StateDigest> = []
        for order in [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]] {
            var set = CaseSet()
            for index in order { try set.insertNew(cases[index]) }
            digests.insert(set.digest)
        }
        #expect(digests.count == 1)

        var viaMerge = CaseSet()
        for state in cases.reversed() { viaMerge.merge(state) }
        #expect(digests.first == viaMerge.digest)

        var changed = viaMerge
        _ = try changed.execute(.addTag("vip"), on: caseID("case-3"), context: context(at: base + hour))
        #expect(changed.digest != viaMerge.digest)

        var fewer = CaseSet()
        for state in cases.dropLast() { try fewer.insertNew(state) }
        #expect(fewer.digest != viaMerge.digest)
    }
}
