/// A hybrid logical clock reading: physical milliseconds since the Unix epoch
/// plus a logical counter that orders events within the same millisecond.
///
/// Timestamps stay close to wall-clock time (so humans can read them and SLA
/// computations can use them) while still respecting causality.
public struct HLCTimestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var wallMillis: UInt64
    public var logical: UInt32

    public init(wallMillis: UInt64, logical: UInt32 = 0) {
        self.wallMillis = wallMillis
        self.logical = logical
    }

    public static let zero = HLCTimestamp(wallMillis: 0, logical: 0)

    public static func < (lhs: HLCTimestamp, rhs: HLCTimestamp) -> Bool {
        if lhs.wallMillis != rhs.wallMillis { return lhs.wallMillis < rhs.wallMillis }
        return lhs.logical < rhs.logical
    }

    public var description: String { "\(wallMillis).\(logical)" }
}

/// The order LWW registers use: the hybrid timestamp first, then the replica id
/// as tie-breaker, so every replica picks the same winner.
public struct LWWStamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var time: HLCTimestamp
    public var replica: ReplicaID

    public init(time: HLCTimestamp, replica: ReplicaID) {
        self.time = time
        self.replica = replica
    }

    public static func < (lhs: LWWStamp, rhs: LWWStamp) -> Bool {
        if lhs.time != rhs.time { return lhs.time < rhs.time }
        return lhs.replica < rhs.replica
    }

    public var description: String { "\(time)@\(replica)" }
}
