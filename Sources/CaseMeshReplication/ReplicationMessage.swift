import CaseMeshCRDT
import CaseMeshDomain

/// What replicas say to each other. Every message is self-contained and
/// idempotent: losing, duplicating or reordering any of them delays
/// convergence but never breaks it.
public enum ReplicationMessage: Sendable, Equatable {
    /// The sender's applied log positions: sent on connecting, after applying
    /// received entries, and as the heartbeat. It is the acknowledgement: a
    /// position is only reported once the entries up to it are durable.
    case applied(LogPositions)
    /// Log entries the receiver lacks, in order per origin.
    case entries([LogEntry])
    /// Opens a catch-up: the sender's positions (read before the digests)
    /// and its bucket digests.
    case catchUpOffer(session: UInt64, positions: LogPositions, buckets: [StateDigest])
    /// Part `part` of `parts` of the answer to an offer: some of the buckets
    /// whose digests differ, and the fingerprints of the receiver's cases in
    /// them, sorted (split by bucket so no message outgrows the byte cap).
    case catchUpRequest(session: UInt64, part: Int, parts: Int, buckets: [Int], have: [CaseFingerprint])
    /// Part `part` (counting from 0) of the cases that differ, as full
    /// encoded states; `last` on the final part. The parts are read as the
    /// receiver merges them, so their number is known only at the end.
    case catchUpCases(session: UInt64, part: Int, last: Bool, cases: [[UInt8]])
    /// The receiver has merged `parts` parts of catch-up `session` (the
    /// sender's window moves on).
    case catchUpAck(session: UInt64, parts: Int)

}
