// Replaying a failure
// -------------------
// Every property in this target runs inside `propertyCheck`, which on failure
// prints the failing input and a hint such as
//
//     Add `.fixedSeed("aKPPWDEafU0CGMDYHef/ETcbYUyjWQvRVP1DTNy6qJk=")` to the Test to reproduce this issue.
//
// Paste that trait into the failing test to replay exactly that case:
//
//     @Test(.fixedSeed("aKPPWDEafU0CGMDYHef/ETcbYUyjWQvRVP1DTNy6qJk="))
//     func joinIsACIForAWORSetOfInt() async { ... }
//
// and rerun `swift test --scratch-path .build-crdt-tests --filter CaseMeshCRDTTests`.
// Remove the trait once fixed: PropertyBased reports a fixed seed that no
// longer fails as an issue of its own.
//
// This file holds the shared generators and the cluster simulation that the
// law, delta, model and codec tests draw their states from.

import PropertyBased
import Synchronization
@testable import CaseMeshCRDT

// MARK: - Replicas, time, randomness

/// The replica ids of simulated clusters, in their byte order.
let replicaNames = ["a", "b", "c", "d"]

func replicaID(_ index: Int) -> ReplicaID { ReplicaID(replicaNames[index]) }

/// Physical time at the start of every simulation (late 2023), far enough from
/// zero that skewed clocks never underflow.
let simulationEpochMillis: UInt64 = 1_700_000_000_000


/// A settable physical clock; `wallClock` is the `FunctionWallClock` handed to
/// a `HybridLogicalClock`.
final class ManualWallClock: Sendable {
    private let millis: Mutex<UInt64>
    init(_ start: UInt64) { millis = Mutex(start) }
    func read() -> UInt64 { millis.withLock { $0 } }
    func set(_ value: UInt64) { millis.withLock { $0 = value } }
    func move(by delta: Int64) {
        millis.withLock { value in
            value = delta >= 0 ? value + UInt64(delta) : value - Swift.min(value, UInt64(-delta))
        }
    }
    var wallClock: FunctionWallClock { FunctionWallClock { self.read() } }
}

/// Every index of `0..<count` at least once, some of them repeated, shuffled:
/// a delivery order with reordering and duplicates.
func deliverySchedule(count: Int, using rng: inout SplitMix64) -> [Int] {
    guard count > 0 else { return [] }
    var schedule = Array(0..<count)
    for _ in 0..<Int.random(in: 0...count, using: &rng) {
        schedule.append(Int.random(in: 0..<count, using: &rng))
    }
    schedule.shuffle(using: &rng)
    return schedule
}

/// UTF-8 byte order, written out here rather than taken from `ReplicaID.<`,
/// because it is the order the tie-break is specified to use.
func utf8Precedes(_ lhs: ReplicaID, _ rhs: ReplicaID) -> Bool {
    Array(lhs.rawValue.utf8).lexicographicallyPrecedes(Array(rhs.rawValue.utf8))
}

/// The specified LWW order: hybrid time first, then the writer's id by bytes.
func stampPrecedes(_ lhs: (time: HLCTimestamp, replica: ReplicaID), _ rhs: (time: HLCTimestamp, replica: ReplicaID)) -> Bool {
    if lhs.time.wallMillis != rhs.time.wallMillis { return lhs.time.wallMillis < rhs.time.wallMillis }
    if lhs.time.logical != rhs.time.logical { return lhs.time.logical < rhs.time.logical }
    return utf8Precedes(lhs.replica, rhs.replica)
}

// MARK: - Element and value types

/// Element/key/value types the simulations use; `make` maps a small generated
/// integer to a value, injectively over 0..<8 so that collisions are intended.
protocol TestKey: Hashable, Comparable, Sendable, BinaryCodable, CustomStringConvertible {
    static func make(_ n: Int) -> Self
}

extension Int: TestKey {
    static func make(_ n: Int) -> Int { n * 37 - 100 }
}

extension String: TestKey {
    /// Empty, ASCII, multi-byte and embedded-NUL strings. No two of them are
    /// canonically equivalent (see CodecTests for that case).
    static let samples = ["", "a", "b", "case-42", "\u{E9}t\u{E9}", "日本語", "🙂", "a\u{0}b"]
    static func make(_ n: Int) -> String { samples[((n % samples.count) + samples.count) % samples.count] }
}

/// Valid replica ids (the `init(validating:)` alphabet), for tie-break tests.
let replicaIDGen = Gen<Character?>.element(of: Array("abcdefghijklmnopqrstuvwxyz0123456789-") as [Character])
    .map { $0! }
    .string(of: 1...6)
    .map { ReplicaID($0) }

// MARK: - Scenarios: random cluster runs

/// A local operation. Its meaning depends on the data type: `write` adds an
/// element, sets a map field, assigns a register or inserts into a grow-only map.
enum Operation: Sendable, Equatable {
    case write(key: Int, value: Int)
    case remove(key: Int)
}

/// One step of a simulated cluster run.
enum Step: Sendable, Equatable, CustomStringConvertible {
    case local(replica: Int, Operation)
    /// `to` joins `from`'s full state (state-based anti-entropy).
    case syncState(from: Int, to: Int)
    /// `to` joins, newest first, the deltas `from` holds and `to` lacks
    /// (delta shipping, deliberately out of causal order).
    case shipDeltas(from: Int, to: Int)
    /// The replica's physical clock jumps (possibly backwards).
    case skew(replica: Int, millis: Int64)

    var description: String {
        switch self {
        case let .local(r, .write(key, value)): return "\(replicaNames[r]).write(k\(key)=\(value))"
        case let .local(r, .remove(key)): return "\(replicaNames[r]).remove(k\(key))"
        case let .syncState(from, to): return "\(replicaNames[from])=>\(replicaNames[to])"
        case let .shipDeltas(from, to): return "\(replicaNames[from])~>\(replicaNames[to])"
        case let .skew(r, millis): return "\(replicaNames[r]).skew(\(millis)ms)"
        }
    }
}

/// A random run of a small cluster; the seed drives shuffles done by the
/// property bodies, so a failing scenario replays completely.
struct Scenario: Sendable, CustomStringConvertible {
    var replicaCount: Int
    var steps: [Step]
    var seed: UInt64

    var description: String {
        "Scenario(replicas: \(replicaCount), seed: \(seed), steps: [\(steps.map(\.description).joined(separator: ", "))])"
    }
}

enum Gens {
    /// Raw material for one step; `Scenario` folds it into range.
    static let rawStep = zip(
        Gen.int(in: 0...99), Gen.int(in: 0...3), Gen.int(in: 0...3), Gen.int(in: 0...7), Gen.int(in: 0...7)
    )

    static func step(_ raw: (Int, Int, Int, Int, Int), replicas n: Int, keys: Int) -> Step {
        let (kind, r, other, key, value) = raw
        let replica = r % n
        let peer = (replica + 1 + other % (n - 1)) % n
        switch kind {
        case 0..<45: return .local(replica: replica, .write(key: key % keys, value: value))
        case 45..<63: return .local(replica: replica, .remove(key: key % keys))
        case 63..<76: return .syncState(from: replica, to: peer)
        case 76..<90: return .shipDeltas(from: replica, to: peer)
        default: return .skew(replica: replica, millis: Int64(value - 3) * 15)
        }
    }

    /// Runs of 2–4 replicas and up to `maxSteps` steps over `keys` keys.
    static func scenario(maxSteps: Int = 24, keys: Int = 4) -> Generator<Scenario, some SendableSequenceType> {
        zip(Gen.int(in: 2...4), rawStep.array(of: 0...maxSteps), Gen.uint64(in: .min ... .max))
            .map { generated in
                let n = generated.0
                return Scenario(
                    replicaCount: n,
                    steps: generated.1.map { step($0, replicas: n, keys: keys) },
                    seed: generated.2
                )
            }
    }
}

// MARK: - Lattices and simulated data types

/// A join-semilattice: `join` must be commutative, associative and idempotent
/// with `init()` as bottom.
protocol Lattice: Equatable, Sendable, BinaryCodable {
    init()
    mutating func join(_ other: Self)
}

extension Lattice {
    func lub(_ other: Self) -> Self {
        var copy = self
        copy.join(other)
        return copy
    }
}

func joinAll<S: Lattice>(_ states: some Sequence<S>, into base: S = S()) -> S {
    var result = base
    for state in states { result.join(state) }
    return result
}

extension CausalContext: Lattice {
    mutating func join(_ other: CausalContext) { formUnion(other) }
}

extension VersionVector: Lattice {
    mutating func join(_ other: VersionVector) { formUnion(other) }
}

/// A data type the cluster simulation can drive through its public mutators.
protocol SimulatedCRDT: Lattice {
    /// Applies `op` in place and returns the delta, or nil when nothing changed.
    mutating func apply(_ op: Operation, replica: ReplicaID, time: HLCTimestamp) -> Self?
    /// The causal context, for types that have one.
    var causalContext: CausalContext? { get }
    /// Which reference-model key an operation key maps to (one register: 0).
    static func modelKey(_ key: Int) -> Int
}

extension SimulatedCRDT {
    static func modelKey(_ key: Int) -> Int { key }
}

extension AWORSet: Lattice where Element: TestKey {}
extension AWORSet: SimulatedCRDT where Element: TestKey {
    mutating func apply(_ op: Operation, replica: ReplicaID, time: HLCTimestamp) -> AWORSet? {
        switch op {
        case let .write(key, _): return add(.make(key), replica: replica)
        case let .remove(key): return remove(.make(key))
        }
    }
    var causalContext: CausalContext? { state.context }
}

extension ORMap: Lattice where Key: TestKey, Value: TestKey {}
extension ORMap: SimulatedCRDT where Key: TestKey, Value: TestKey {
    mutating func apply(_ op: Operation, replica: ReplicaID, time: HLCTimestamp) -> ORMap? {
        switch op {
        case let .write(key, value): return set(.make(key), .make(value), time: time, replica: replica)
        case let .remove(key): return remove(.make(key))
        }
    }
    var causalContext: CausalContext? { state.context }
}

extension LWWRegister: Lattice where Value: TestKey {}
extension LWWRegister: SimulatedCRDT where Value: TestKey {
    /// Writes assign; a register has no remove, so removes are no-ops.
    mutating func apply(_ op: Operation, replica: ReplicaID, time: HLCTimestamp) -> LWWRegister? {
        switch op {
        case let .write(_, value): return assign(.make(value), time: time, replica: replica)
        case .remove: return nil
        }
    }
    var causalContext: CausalContext? { state.context }
    static func modelKey(_ key: Int) -> Int { 0 }
}

extension GrowOnlyMap: Lattice where Key: TestKey, Value: TestKey {}
extension GrowOnlyMap: SimulatedCRDT where Key: TestKey, Value: TestKey {
    /// Writes insert; a grow-only map has no remove, so removes are no-ops.
    mutating func apply(_ op: Operation, replica: ReplicaID, time: HLCTimestamp) -> GrowOnlyMap? {
        switch op {
        case let .write(key, value): return insert(.make(value), for: .make(key))
        case .remove: return nil
        }
    }
    var causalContext: CausalContext? { nil }
}

// MARK: - Cluster simulation

/// One local operation as it happened, for the reference models.
struct Event: Sendable {
    var origin: Int
    var replica: ReplicaID
    var op: Operation
    var modelKey: Int
    var time: HLCTimestamp
    /// The events (delta indices) the issuing replica's state was made of.
    var seenBefore: Set<Int>

    var isWrite: Bool { if case .write = op { return true } else { return false } }
    var value: Int { if case let .write(_, value) = op { return value } else { return 0 } }
}

/// Runs a scenario on a cluster of `State` replicas. Every replica has its own
/// hybrid logical clock on its own (skewable) wall clock; writes take their
/// time from it and syncs feed it the sender's clock.
///
/// Tracks for each replica which deltas its state is made of (`seen`): every
/// state is, by construction, the join of those deltas, which is what the
/// delta tests check.
struct ClusterRun<State: SimulatedCRDT> {
    let scenario: Scenario
    private(set) var states: [State]
    /// Every delta a local operation returned, in issue order.
    private(set) var deltas: [State] = []
    /// `events[i]` is the operation that produced `deltas[i]`.
    private(set) var events: [Event] = []
    private(set) var seen: [Set<Int>]
    /// The replicas' states halfway through the run.
    private(set) var midpoint: [State] = []
    /// Mutations whose in-place result differed from joining their delta.
    private(set) var inPlaceViolations: [String] = []

    init(_ scenario: Scenario) {
        self.scenario = scenario
        let n = scenario.replicaCount
        states = Array(repeating: State(), count: n)
        seen = Array(repeating: [], count: n)
        let walls = (0..<n).map { _ in ManualWallClock(simulationEpochMillis) }
        var offsets = [Int64](repeating: 0, count: n)
        var clocks = walls.map { HybridLogicalClock(wallClock: $0.wallClock, maxOffsetMillis: 500) }
        midpoint = states

        for (index, step) in scenario.steps.enumerated() {
            if index == scenario.steps.count / 2 { midpoint = states }
            // Several steps share a millisecond, so logical counters and
            // equal timestamps on different replicas both occur.
            for r in 0..<n {
                let now = Int64(simulationEpochMillis) + Int64(index / 3) + offsets[r]
                walls[r].set(UInt64(now))
            }
            switch step {
            case let .local(r, op):
                let time = clocks[r].now().timestamp
                let before = states[r]
                guard let delta = states[r].apply(op, replica: replicaID(r), time: time) else {
                    if before != states[r] {
                        inPlaceViolations.append("step \(index) \(step): returned no delta but changed the state")
                    }
                    continue
                }
                let viaDelta = before.lub(delta)
                if viaDelta != states[r] {
                    inPlaceViolations.append(
                        "step \(index) \(step): in place \(states[r]) but before ⊔ delta = \(viaDelta)")
                }
                events.append(Event(
                    origin: r, replica: replicaID(r), op: op, modelKey: State.modelKey(Self.key(of: op)),
                    time: time, seenBefore: seen[r]))
                seen[r].insert(deltas.count)
                deltas.append(delta)
            case let .syncState(from, to):
                states[to].join(states[from])
                seen[to].formUnion(seen[from])
                _ = try? clocks[to].receive(clocks[from].last)
            case let .shipDeltas(from, to):
                for i in seen[from].subtracting(seen[to]).sorted(by: >) { states[to].join(deltas[i]) }
                seen[to].formUnion(seen[from])
                _ = try? clocks[to].receive(clocks[from].last)
            case let .skew(r, millis):
                offsets[r] += millis
            }
        }
        if scenario.steps.isEmpty { midpoint = states }
    }

    private static func key(of op: Operation) -> Int {
        switch op {
        case let .write(key, _), let .remove(key): return key
        }
    }

    /// The state every replica reaches once all states are exchanged.
    var converged: State { joinAll(states) }

    /// States worth checking laws on: final replica states, two halfway
    /// states, two deltas, and bottom.
    func samplePool(using rng: inout SplitMix64) -> [State] {
        var pool = states
        pool += midpoint.shuffled(using: &rng).prefix(2)
        for _ in 0..<Swift.min(2, deltas.count) { pool.append(deltas.randomElement(using: &rng)!) }
        pool.append(State())
        return pool
    }
}

/// Any Unicode text (surrogate code points skipped), including NUL and
/// combining marks.
let unicodeStringGen = Gen<UInt32>.value(in: 0...0x10FFFF)
    .compactMap { Unicode.Scalar($0) }
    .array(of: 0...12)
    .map { scalars in
        var string = ""
        string.unicodeScalars.append(contentsOf: scalars)
        return string
    }

/// Arbitrary bytes, for hashing and decoder fuzzing.
func bytesGen(_ count: ClosedRange<Int>) -> Generator<[UInt8], some SendableSequenceType> {
    Gen<UInt8>.value(in: 0...255).array(of: count)
}
