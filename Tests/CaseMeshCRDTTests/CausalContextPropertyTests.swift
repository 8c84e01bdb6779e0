// Replay a failure with the `.fixedSeed(...)` trait PropertyBased prints; see Generators.swift.

import PropertyBased
import Testing
@testable import CaseMeshCRDT

/// Dots across three replicas with counters up to 12, in arbitrary order and
/// with repeats: the out-of-order arrival delta shipping produces.
let dotListGen = zip(Gen.int(in: 0...2), Gen.uint64(in: 1...12)).array(of: 0...30)
    .map { pairs in pairs.map { Dot(replicaID($0.0), $0.1) } }

/// The causal context decides what a replica has seen, so what a remove
/// deletes and what a join resurrects. It must contain exactly the dots
/// inserted into it, however they arrived, and stay compact so that equal
/// knowledge gives equal contexts (and equal digests).
@Suite struct CausalContextPropertyTests {
    /// Builds the same dot set five ways — one insert at a time, `init(dots:)`,
    /// interleaved inserts and unions of partial contexts, a bare cloud, and a
    /// vector plus cloud — and checks each is exact and compact, and that all
    /// are equal (`==`, hash and canonical bytes).
    @Test func contextsAreExactCompactAndEqualForEqualDotSets() async {
        await propertyCheck(count: 1000, input: dotListGen, Gen.uint64(in: .min ... .max)) { dots, seed in
            var rng = SplitMix64(seed: seed)
            let expected = Set(dots)

            var oneByOne = CausalContext()
            for dot in dots { oneByOne.insert(dot) }

            let bulk = CausalContext(dots: dots.shuffled(using: &rng))

            var mixed = CausalContext()
            var pending: [Dot] = []
            for dot in dots.shuffled(using: &rng) {
                if Bool.random(using: &rng) { mixed.insert(dot) } else { pending.append(dot) }
                if Int.random(in: 0..<4, using: &rng) == 0 {
                    mixed.formUnion(CausalContext(dots: pending))
                    pending = []
                }
            }
            mixed = CausalContext(dots: pending).union(mixed)

            let cloudOnly = CausalContext(versionVector: VersionVector(), cloud: expected)

            var prefix: [ReplicaID: UInt64] = [:]
            for r in 0..<3 { prefix[replicaID(r)] = contiguousPrefix(of: expected, replica: replicaID(r)) }
            let vectorAndCloud = CausalContext(versionVector: VersionVector(prefix), cloud: expected)

            let all = [oneByOne, bulk, mixed, cloudOnly, vectorAndCloud]
            for (name, context) in zip(["insert", "init(dots:)", "insert+union", "cloud", "vector+cloud"], all) {
                checkExactAndCompact(context, expected, name)
                #expect(context == oneByOne, "\(name): \(context) but inserting gave \(oneByOne)")
                #expect(context.hashValue == oneByOne.hashValue, "\(name)")
                #expect(context.canonicalBytes == oneByOne.canonicalBytes, "\(name)")
            }
        }
    }

    /// A fresh dot is one past everything seen from that replica (vector or
    /// cloud), so it can never collide with a dot that arrived out of order.
    @Test func nextDotIsFreshAndRecorded() async {
        await propertyCheck(count: 1000, input: dotListGen, Gen.int(in: 0...3)) { dots, r in
            var context = CausalContext(dots: dots)
            let replica = replicaID(r)
            let highest = dots.filter { $0.replica == replica }.map(\.counter).max() ?? 0
            let fresh = context.nextDot(for: replica)
            #expect(fresh == Dot(replica, highest + 1))
            checkExactAndCompact(context, Set(dots + [fresh]), "after nextDot")
        }
    }

    /// A version vector behaves as a map from replica to counter with zero as
    /// absent: entries stay sorted and zero-free whatever order counters are
    /// set in (also lowered), `contains` is `counter <= vv[replica]`, and
    /// `isCovered(by:)` is the pointwise order.
    @Test func versionVectorMatchesADictionaryModel() async {
        let assignments = zip(Gen.int(in: 0...3), Gen.uint64(in: 0...5)).array(of: 0...12)
        await propertyCheck(count: 1000, input: assignments, assignments) { first, second in
            func build(_ assignments: [(Int, UInt64)]) -> (VersionVector, [ReplicaID: UInt64]) {
                var vector = VersionVector()
                var model: [ReplicaID: UInt64] = [:]
                for (r, counter) in assignments {
                    vector[replicaID(r)] = counter
                    model[replicaID(r)] = counter == 0 ? nil : counter
                }
                return (vector, model)
            }
            let (a, modelA) = build(first)
            let (b, modelB) = build(second)
            for (vector, model) in [(a, modelA), (b, modelB)] {
                #expect(vector.entries.map(\.replica) == model.keys.sorted { utf8Precedes($0, $1) })
                #expect(vector.entries.allSatisfy { $0.counter > 0 && model[$0.replica] == $0.counter })
                #expect(vector == VersionVector(model))
                #expect(vector.isEmpty == model.isEmpty)
                let wrongContains = (0..<4).flatMap { r in (UInt64(1)...6).map { Dot(replicaID(r), $0) } }
                    .filter { vector.contains($0) != ($0.counter <= model[$0.replica] ?? 0) }
                #expect(wrongContains.isEmpty, "contains is wrong for \(wrongContains) in \(vector)")
            }
            let pointwise = modelA.allSatisfy { $0.value <= modelB[$0.key] ?? 0 }
            #expect(a.isCovered(by: b) == pointwise)
            #expect(a.isCovered(by: a.lub(b)) && b.isCovered(by: a.lub(b)))
        }
    }
}

/// The largest k such that counters 1...k of `replica` are all in `dots`.
func contiguousPrefix(of dots: Set<Dot>, replica: ReplicaID) -> UInt64 {
    var k: UInt64 = 0
    while dots.contains(Dot(replica, k + 1)) { k += 1 }
    return k
}

/// `context` covers exactly `expected` and is compact: its vector is the
/// contiguous prefix per replica and its cloud holds only dots beyond a gap.
func checkExactAndCompact(
    _ context: CausalContext, _ expected: Set<Dot>, _ name: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    var problems: [String] = []
    if context.allDots != expected.sorted() { problems.append("covers \(context.allDots), expected \(expected.sorted())") }
    for r in 0..<4 {
        let replica = replicaID(r)
        for counter in UInt64(1)...14 where context.contains(Dot(replica, counter)) != expected.contains(Dot(replica, counter)) {
            problems.append("contains(\(Dot(replica, counter))) is wrong")
        }
        if context.versionVector[replica] != contiguousPrefix(of: expected, replica: replica) {
            problems.append("vector entry of \(replica) is not the contiguous prefix")
        }
        if context.maxCounter(for: replica) != (expected.filter { $0.replica == replica }.map(\.counter).max() ?? 0) {
            problems.append("maxCounter(for: \(replica)) is wrong")
        }
    }
    for dot in context.cloud where dot.counter <= context.versionVector[dot.replica] + 1 {
        problems.append("cloud dot \(dot) should have been folded into the vector")
    }
    if context.isEmpty != expected.isEmpty { problems.append("isEmpty is wrong") }
    #expect(problems.isEmpty, "\(name): \(context): \(problems)", sourceLocation: sourceLocation)
}
