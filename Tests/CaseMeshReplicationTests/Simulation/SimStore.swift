import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshReplication
import Synchronization

/// A node's clock in the simulation: virtual time plus the node's skew.
final class SimClock: WallClock, Sendable {
    private let state = Mutex<(now: UInt64, skew: Int64)>((0, 0))

    func set(now: UInt64) { state.withLock { $0.now = now } }
    func set(skew: Int64) { state.withLock { $0.skew = skew } }
    var skew: Int64 { state.withLock { $0.skew } }

    func nowMillis() -> UInt64 {
        state.withLock { UInt64(max(1, Int64($0.now) + $0.skew)) }
    }
}

/// The durable part of a simulated node, with the semantics of the real
/// store: a per-origin log applied in order, duplicates acknowledged without
/// effect, gaps and excess clock skew refused, conflict follow-ups logged as
/// the node's own deltas, bounded retention, and a persisted HLC bound.
/// Everything here survives a crash of the node.
struct SimStore: ReplicaLog {
    let node: ReplicaID
    let region: Region
    var cases = CaseSet()
    private(set) var digests: [CaseID: StateDigest] = [:]
    private var log: [ReplicaID: [UInt64: [UInt8]]] = [:]
    private(set) var applied: LogPositions = [:]
    private var retainedFrom: [ReplicaID: UInt64] = [:]
    let retention: Int
    var hlcBound: UInt64 = 0
    var clock: HybridLogicalClock

    init(node: ReplicaID, region: Region, retention: Int, wallClock: SimClock, maxOffset: UInt64) {
        self.node = node
        self.region = region
        self.retention = retention
        clock = HybridLogicalClock(wallClock: wallClock, maxOffsetMillis: maxOffset)
    }

    /// After a crash: a fresh clock restarted from the persisted bound.
    mutating func restartClock(_ wallClock: SimClock, maxOffset: UInt64) {
        clock = HybridLogicalClock(wallClock: wallClock, maxOffsetMillis: maxOffset, restoredUpperBound: hlcBound)
    }

    // MARK: ReplicaLog

    func entries(of origin: ReplicaID, after: UInt64, maxBytes: Int) -> LogRead {
        let head = applied[origin] ?? 0
        guard after < head else { return .entries([]) }
        let from = retainedFrom[origin] ?? 1
        if after + 1 < from { return .trimmed(retainedFrom: from) }
        var result: [LogEntry] = []
        var bytes = 0
        var counter = after + 1
        while counter <= head, let delta = log[origin]?[counter] {
            if !result.isEmpty && bytes + delta.count > maxBytes { break }
            result.append(LogEntry(origin: origin, counter: counter, delta: delta))
            bytes += delta.count
            counter += 1
        }
        return .entries(result)
    }

    func bucketDigests() -> [StateDigest] {
        var buckets = Array(repeating: StateDigest.zero, count: CaseBucket.count)
        for (id, digest) in digests { buckets[CaseBucket.of(id)].toggle(digest) }
        return buckets
    }

    func caseFingerprints(inBuckets buckets: [Int]) -> [(id: CaseID, fingerprint: CaseFingerprint)] {
        let wanted = Set(buckets)
        return digests.filter { wanted.contains(CaseBucket.of($0.key)) }.map { ($0.key, CaseFingerprint(id: $0.key, digest: $0.value)) }
    }

    func encodedCases(_ ids: [CaseID]) -> [[UInt8]] {
        ids.compactMap { cases[$0]?.encodedBytes }
    }

    // MARK: Writes

    private mutating func tick() -> HLCTimestamp {
        let reading = clock.now()
        if let bound = reading.upperBoundToPersist { hlcBound = bound }
        return reading.timestamp
    }

    /// XOR of the case digests: equal on two nodes iff they hold the same cases.
    private(set) var digest = StateDigest.zero

    private mutating func refreshDigest(_ id: CaseID) {
        if let old = digests[id] { digest.toggle(old) }
        digests[id] = cases[id]?.digest
        if let new = digests[id] { digest.toggle(new) }
    }

    private mutating func append(origin: ReplicaID, delta: [UInt8]) {
        let counter = (applied[origin] ?? 0) + 1
        log[origin, default: [:]][counter] = delta
        applied[origin] = counter
        if retainedFrom[origin] == nil { retainedFrom[origin] = 1 }
        trim(origin)
    }

    private mutating func trim(_ origin: ReplicaID) {
        guard let head = applied[origin], var from = retainedFrom[origin] else { return }
        while head >= from && Int(head - from + 1) > retention {
            log[origin]?[from] = nil
            from += 1
        }
        retainedFrom[origin] = from
    }

    /// A local command, acknowledged on return: its delta is in the log.
    mutating func create(_ id: CaseID, title: String, actor: String) throws(DomainError) -> CaseState {
        let time = tick()
        let number = "\(region.rawValue)-\(id.rawValue)"
        let state = try CaseState.create(
            NewCase(id: id, number: number, region: region, title: title, customer: "Contoso", product: "Billing", severity: .sev2),
            context: CommandContext(replica: node, time: time, actor: actor))
        try cases.insertNew(state)
        refreshDigest(id)
        append(origin: node, delta: state.encodedBytes)
        return state
    }

    mutating func execute(_ command: CaseCommand, on id: CaseID, actor: String) throws(DomainError) -> (delta: CaseState, time: HLCTimestamp) {
        let time = tick()
        let delta = try cases.execute(command, on: id, context: CommandContext(replica: node, time: time, actor: actor))
        refreshDigest(id)
        if !(delta.causal.context.isEmpty && delta.timeline.count == 0) {
            append(origin: node, delta: delta.encodedBytes)
        }
        return (delta, time)
    }

    enum ApplyError: Error, Equatable { case gap, clockSkew, undecodable }

    /// A remote entry, in order per origin.
    mutating func apply(_ entry: LogEntry) -> Result<Void, ApplyError> {
        let current = applied[entry.origin] ?? 0
        if entry.counter <= current { return .success(()) }
        guard entry.counter == current + 1 else { return .failure(.gap) }
        guard let delta = try? CaseState(decoding: entry.delta) else { return .failure(.undecodable) }
        let remoteTime = delta.timeline.entries.map(\.key.time).max() ?? delta.header.createdAt
        guard let reading = try? clock.receive(remoteTime) else { return .failure(.clockSkew) }
        if let bound = reading.upperBoundToPersist { hlcBound = bound }
        let followUp = cases.merge(delta)
        refreshDigest(delta.id)
        append(origin: entry.origin, delta: entry.delta)
        if let followUp { append(origin: node, delta: followUp.encodedBytes) }
        return .success(())
    }

    /// Full states from a catch-up, all or nothing: merged, then positions
    /// move up and the log of each origin that jumped restarts after the new
    /// position. Refused as a whole if a state is undecodable or its time is
    /// too far ahead of our clock (the clock must see every merged write, or
    /// a later local write could carry an older timestamp than one it overwrites).
    mutating func applyCases(_ encoded: [[UInt8]], fastForward: LogPositions) -> Result<Void, ApplyError> {
        var states: [CaseState] = []
        for bytes in encoded {
            guard let state = try? CaseState(decoding: bytes) else { return .failure(.undecodable) }
            states.append(state)
        }
        if let latest = states.map(\.updatedAt).max() {
            var probe = clock
            guard let reading = try? probe.receive(latest) else { return .failure(.clockSkew) }
            clock = probe
            if let bound = reading.upperBoundToPersist { hlcBound = bound }
        }
        for state in states {
            if let followUp = cases.merge(state) { append(origin: node, delta: followUp.encodedBytes) }
            refreshDigest(state.id)
        }
        for (origin, counter) in fastForward where counter > (applied[origin] ?? 0) && origin != node {
            log[origin] = [:]
            applied[origin] = counter
            retainedFrom[origin] = counter + 1
        }
        return .success(())
    }
}
