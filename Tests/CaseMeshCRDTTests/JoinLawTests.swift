// Replay a failure with the `.fixedSeed(...)` trait PropertyBased prints; see Generators.swift.

import PropertyBased
import Testing
@testable import CaseMeshCRDT

/// Convergence rests on join being a semilattice join: replicas apply each
/// other's states in whatever order and multiplicity the network produces, and
/// only commutativity, associativity and idempotence make the result the same.
/// The inputs are states real mutators produced in simulated cluster runs
/// (final and halfway replica states, deltas, bottom), because a (HLC, replica)
/// stamp and a dot are issued once per write — arbitrary entries would test
/// states that cannot occur.
@Suite struct JoinLawTests {
    @Test func joinIsACIForAWORSetOfInt() async { await checkJoinLaws(AWORSet<Int>.self) }
    @Test func joinIsACIForAWORSetOfString() async { await checkJoinLaws(AWORSet<String>.self) }
    @Test func joinIsACIForORMapOfStrings() async { await checkJoinLaws(ORMap<String, String>.self) }
    @Test func joinIsACIForORMapOfInts() async { await checkJoinLaws(ORMap<Int, Int>.self) }
    @Test func joinIsACIForLWWRegisterOfInt() async { await checkJoinLaws(LWWRegister<Int>.self) }
    @Test func joinIsACIForLWWRegisterOfString() async { await checkJoinLaws(LWWRegister<String>.self) }
    @Test func joinIsACIForGrowOnlyMap() async { await checkJoinLaws(GrowOnlyMap<String, Int>.self) }

    /// The contexts of real OR-map runs: delta shipping out of causal order
    /// leaves dot clouds in them, so both the vector and the cloud are joined.
    @Test func formUnionIsACIForCausalContext() async {
        await propertyCheck(count: 1000, input: Gens.scenario()) { scenario in
            let run = ClusterRun<ORMap<Int, Int>>(scenario)
            var rng = SplitMix64(seed: scenario.seed)
            let pool = run.samplePool(using: &rng).map { $0.causalContext! }
            checkLaws(pool, using: &rng)
        }
    }

    /// Version vectors of real runs, plus their pointwise maximum checked
    /// against a plain dictionary model.
    @Test func formUnionIsACIForVersionVector() async {
        await propertyCheck(count: 1000, input: Gens.scenario()) { scenario in
            let run = ClusterRun<AWORSet<Int>>(scenario)
            var rng = SplitMix64(seed: scenario.seed)
            let pool = run.samplePool(using: &rng).map { $0.causalContext!.versionVector }
            checkLaws(pool, using: &rng)
            for a in pool {
                for b in pool {
                    var expected: [ReplicaID: UInt64] = [:]
                    for entry in a.entries + b.entries { expected[entry.replica] = max(expected[entry.replica] ?? 0, entry.counter) }
                    let joined = a.lub(b)
                    #expect(joined == VersionVector(expected), "\(a) ⊔ \(b) = \(joined)")
                }
            }
        }
    }
}

/// Runs 1,000 random cluster scenarios of `State` and checks the join laws on
/// the states each produces.
func checkJoinLaws<State: SimulatedCRDT>(
    _: State.Type, count: Int = 1000, sourceLocation: SourceLocation = #_sourceLocation
) async {
    await propertyCheck(count: count, input: Gens.scenario(), perform: { scenario in
        let run = ClusterRun<State>(scenario)
        var rng = SplitMix64(seed: scenario.seed)
        checkLaws(run.samplePool(using: &rng), using: &rng, sourceLocation: sourceLocation)
    }, sourceLocation: sourceLocation)
}

/// Commutativity and idempotence on every pair of `pool`, associativity on a
/// sample of triples. Equality is `==`, and on the sampled triples also equal
/// canonical bytes (what digests compare). Records only the first violation.
func checkLaws<S: Lattice>(_ pool: [S], using rng: inout SplitMix64, sourceLocation: SourceLocation = #_sourceLocation) {
    var violations: [String] = []
    func same(_ x: S, _ y: S) -> Bool { x == y && x.canonicalBytes == y.canonicalBytes }
    for (i, a) in pool.enumerated() {
        if a.lub(a) != a { violations.append("not idempotent: a = \(a); a ⊔ a = \(a.lub(a))") }
        if a.lub(S()) != a || S().lub(a) != a { violations.append("bottom is not neutral: a = \(a)") }
        for b in pool[(i + 1)...] where a.lub(b) != b.lub(a) {
            violations.append("not commutative:\n a = \(a)\n b = \(b)\n a ⊔ b = \(a.lub(b))\n b ⊔ a = \(b.lub(a))")
        }
    }
    for _ in 0..<8 {
        let a = pool.randomElement(using: &rng)!, b = pool.randomElement(using: &rng)!, c = pool.randomElement(using: &rng)!
        let left = a.lub(b).lub(c), right = a.lub(b.lub(c))
        if !same(left, right) {
            violations.append("not associative:\n a = \(a)\n b = \(b)\n c = \(c)\n (a ⊔ b) ⊔ c = \(left)\n a ⊔ (b ⊔ c) = \(right)")
        }
        // Join is an upper bound: joining again with either input changes nothing.
        let ab = a.lub(b)
        if !same(ab.lub(a), ab) || !same(ab.lub(b), ab) {
            violations.append("a ⊔ b is not an upper bound:\n a = \(a)\n b = \(b)\n a ⊔ b = \(ab)")
        }
    }
    #expect(violations.isEmpty, "\(violations.first ?? "")", sourceLocation: sourceLocation)
}
