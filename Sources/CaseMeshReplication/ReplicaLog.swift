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

    /// Every case in `buckets`, with its fingerprint.
    func caseFingerprints(inBuckets buckets: [Int]) throws -> [(id: CaseID, fingerprint: CaseFingerprint)]

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

/// What a catch-up compares per case: a 64-bit hash of the case id and the
/// first 8 bytes of its state digest. Sixteen bytes instead of the id and
/// the whole digest keep the receiver's request small and its comparison
/// free of string keys. Two different states share a fingerprint with a
/// chance of 2⁻⁶⁴ per case; the full digests still decide convergence.
public struct CaseFingerprint: Hashable, Comparable, Sendable {
    public var id: UInt64
    public var digest: UInt64

    public init(id: UInt64, digest: UInt64) {
        self.id = id
        self.digest = digest
    }

    public init(id: CaseID, digestPrefix: UInt64) {
        self.init(id: Self.hash(id), digest: digestPrefix)
    }

    public init(id: CaseID, digest: StateDigest) {
        self.init(id: id, digestPrefix: Self.prefix(digest.bytes))
    }

    /// FNV-1a (64 bits) over the id's UTF-8 bytes: the same on every node.
    public static func hash(_ id: CaseID) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in id.rawValue.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// The first 8 bytes of a digest, big-endian.
    public static func prefix(_ digest: some Collection<UInt8>) -> UInt64 {
        digest.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.id, lhs.digest) < (rhs.id, rhs.digest) }
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
