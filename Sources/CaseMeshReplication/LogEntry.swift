import CaseMeshCRDT

/// One delta of the replicated log: the `counter`-th delta logged by
/// `origin`, as the encoded `CaseState` the store keeps.
///
/// The engine never decodes deltas; it moves them between logs and counts
/// their bytes for batching.
public struct LogEntry: Sendable, Equatable {
    public var origin: ReplicaID
    public var counter: UInt64
    public var delta: [UInt8]

    public init(origin: ReplicaID, counter: UInt64, delta: [UInt8]) {
        self.origin = origin
        self.counter = counter
        self.delta = delta
    }

    /// Bytes this entry adds to a message (payload plus a small header).
    var wireSize: Int { delta.count + origin.rawValue.utf8.count + 12 }
}

/// Log positions: for each origin, the highest counter of the contiguous
/// prefix of its log that a node has applied (durably).
public typealias LogPositions = [ReplicaID: UInt64]

/// What reading a range of an origin's log gave.
public enum LogRead: Sendable, Equatable {
    /// The entries after the requested counter, in order (possibly none).
    case entries([LogEntry])
    /// The log no longer holds the entry after the requested counter: it
    /// keeps `origin`'s entries from `retainedFrom` on. A peer that needs
    /// older ones must catch up by digest comparison.
    case trimmed(retainedFrom: UInt64)
}
