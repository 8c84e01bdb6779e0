import CaseMeshCRDT
import CaseMeshDomain

/// How hard a commit works to survive failures. Maps to SQLite's
/// `synchronous` setting in WAL mode.
public enum Durability: String, Sendable, CaseIterable {
    /// Default. Every commit is fsynced before it is acknowledged: an
    /// acknowledged write survives a process crash and a power loss.
    case full
    /// Commits reach the OS but the WAL is fsynced only at checkpoints: an
    /// acknowledged write survives a process crash, but the last commits
    /// before a power loss or kernel panic may be lost.
    case normal
    /// No fsync at all: survives a process crash only while the OS stays up;
    /// a power loss can lose recent commits or corrupt the database. For
    /// benchmarks and throwaway test clusters only.
    case off

    var pragma: String {
        switch self {
        case .full: return "FULL"
        case .normal: return "NORMAL"
        case .off: return "OFF"
        }
    }
}

/// Settings of one node's store.
public struct StoreConfiguration: Sendable {
    /// The node's data directory; the database lives in `<dataDirectory>/store/`.
    public var dataDirectory: String
    public var replica: ReplicaID
    public var region: Region
    public var durability: Durability
    /// How many delta-log entries to keep per origin replica. Older entries
    /// are dropped; a peer that needs them catches up by digest comparison.
    public var deltaLogRetention: Int
    /// Maximum HLC offset accepted from remote timestamps.
    public var maxClockOffsetMillis: UInt64
    /// Recently written cases kept decoded in memory (see `RecentCases`).
    public var recentCases: Int = RecentCases.defaultCapacity
    /// The size the write-ahead log file is cut back to once its pages are
    /// in the database. SQLite otherwise keeps the file at the largest size
    /// it ever reached: one large transaction (an upgrade, a catch-up)
    /// would hold that much disk for good.
    public var walFileLimitBytes: Int = 64 * 1024 * 1024
    /// How long after a commit its full-text changes are written, together
    /// with those of the commits that follow (see `SearchIndexer`). A search
    /// writes them at once, so it never misses an acknowledged write.
    public var searchIndexDelayMillis: Int = 100

    public init(dataDirectory: String, replica: ReplicaID, region: Region, durability: Durability = .full,
                deltaLogRetention: Int = 100_000, maxClockOffsetMillis: UInt64 = 500) {
        self.dataDirectory = dataDirectory
        self.replica = replica
        self.region = region
        self.durability = durability
        self.deltaLogRetention = deltaLogRetention
        self.maxClockOffsetMillis = maxClockOffsetMillis
    }

    public var storeDirectory: String { dataDirectory + "/store" }
    public var databasePath: String { storeDirectory + "/casemesh.sqlite" }
}
