/// How replication's messages arrived: entries dropped for coming after a
/// gap, and rounds of entries sent again for want of an acknowledgement. Both
/// stay 0 on healthy links; growth means lost messages or a stalled peer.
public struct ReplicationDelivery: Sendable, Equatable {
    public var gaps: UInt64
    public var retransmissions: UInt64

    public init(gaps: UInt64 = 0, retransmissions: UInt64 = 0) {
        self.gaps = gaps
        self.retransmissions = retransmissions
    }
}

/// Timing and size limits of the replication engine. Times are milliseconds
/// of the clock the shell feeds in with `tick`.
public struct ReplicationConfiguration: Sendable, Equatable {
    /// How often a peer hears from us even when there is nothing to ship.
    public var heartbeatInterval: UInt64
    /// Silence after which a peer is suspect: a DROP partition hangs TCP
    /// without closing it, so liveness comes from heartbeats, not the socket.
    public var peerTimeout: UInt64
    /// Entries sent but not acknowledged for this long are sent again.
    public var retransmitAfter: UInt64
    /// A catch-up that has made no progress for this long starts over.
    public var catchUpTimeout: UInt64
    /// Upper bound on one message's size (frames have a hard limit).
    public var maxMessageBytes: Int
    /// Entries sent to one peer and not yet acknowledged, at most
    /// (back-pressure: a slow peer does not make us read the whole log).
    public var maxInFlightEntries: Int
    /// Parts of a catch-up sent to a peer and not yet merged by it, at most
    /// (back-pressure: the cases are read as the peer merges them, never all at once).
    public var catchUpWindow: Int

    public init(heartbeatInterval: UInt64 = 250, peerTimeout: UInt64 = 2_000, retransmitAfter: UInt64 = 1_000,
                catchUpTimeout: UInt64 = 60_000, maxMessageBytes: Int = 256 * 1024, maxInFlightEntries: Int = 2_048,
                catchUpWindow: Int = 4) {
        self.heartbeatInterval = heartbeatInterval
        self.peerTimeout = peerTimeout
        self.retransmitAfter = retransmitAfter
        self.catchUpTimeout = catchUpTimeout
        self.maxMessageBytes = maxMessageBytes
        self.maxInFlightEntries = maxInFlightEntries
        self.catchUpWindow = max(catchUpWindow, 1)
    }
}
