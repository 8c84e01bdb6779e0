import CaseMeshCRDT
import CaseMeshDomain

/// What the replication engine reads from its node's store. Reads only:
/// every change goes through a directive the shell executes. A read that
/// fails makes the engine skip that work until the next tick.
///
/// The durable store implements it over SQLite; the simulation over memory.
public protocol ReplicaLog {
    /// The node's applied log positions (its own log included).
    var applied: LogPositions { get }

    /// Entries of `origin` after counter `after`, oldest first, stopping
    /// before the total would exceed `maxBytes` (at least one entry is
    /// returned if any exists).
    func entries(of origin: ReplicaID, after: UInt64, maxBytes: Int) throws -> LogRead

    /// The digest of each of the `CaseBucket.count` buckets of cases.
    func bucketDigests() throws -> [StateDigest]

    /// The digest of every case in `buckets`.
    func caseDigests(inBuckets buckets: [Int]) throws -> [CaseID: StateDigest]

    /// The full, encoded state of each of `ids` the node holds.
    func encodedCases(_ ids: [CaseID]) throws -> [[UInt8]]
}

/// Cases are split into buckets by a stable hash of their id, so two nodes
/// can find where they differ by comparing bucket digests first and case
/// digests only inside the buckets that differ.
public enum CaseBucket {
    public static let count = 256

    /// The bucket of `id` (FNV-1a over its UTF-8 bytes: the same on every node and platform).
    public static func of(_ id: CaseID) -> Int {
        var hash: UInt32 = 2_166_136_261
        for byte in id.rawValue.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        return Int(hash % UInt32(count))
    }
}

/// A node's store as the replication shell drives it: the log to read, and
/// the writes the engine's directives ask for. Each write returns once it is
/// durable (or throws, and nothing of it happened).
public protocol ReplicaStore: ReplicaLog, Sendable {
    /// Applies remote entries in order (entries of one origin arrive in
    /// order), sharing commits; returns, per entry, nil or why it failed.
    func applyEntries(_ entries: [LogEntry]) async -> [(any Error)?]
    /// Merges full states from a catch-up and raises positions, all or nothing.
    func applyCatchUp(_ states: [[UInt8]], positions: LogPositions) async throws
    /// Remembers what a peer has acknowledged.
    func recordAcknowledgement(peer: ReplicaID, positions: LogPositions) async throws
}
