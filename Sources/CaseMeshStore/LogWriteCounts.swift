import CaseMeshWALBuffer
import GRDB
import GRDBSQLite

/// Makes the log-buffering VFS SQLite's default for every connection the
/// process opens from now on (the first call; later ones do nothing).
/// Returns an SQLite result code.
func registerLogBuffering() -> Int32 { casemesh_wal_buffer_register() }

/// How writes to SQLite's write-ahead log went through the buffering VFS
/// (`Sources/CaseMeshWALBuffer`): held and written with the rest of their
/// commit, passed straight through, and the flushes that wrote held ones.
public struct LogWriteCounts: Sendable, Equatable {
    public var buffered: UInt64
    public var direct: UInt64
    public var flushes: UInt64

    init(_ counts: casemesh_wal_buffer_counts) {
        buffered = counts.bufferedWrites
        direct = counts.directWrites
        flushes = counts.flushes
    }

    /// Every log write of the process so far.
    public static var process: LogWriteCounts { LogWriteCounts(casemesh_wal_buffer_counts_now()) }

    /// The log writes of `db`'s connection; nil when its log is not open
    /// through the buffering VFS.
    static func connection(_ db: Database) -> LogWriteCounts? {
        var counts = casemesh_wal_buffer_counts()
        guard casemesh_wal_buffer_log_counts(db.sqliteConnection, &counts) == SQLITE_OK else { return nil }
        return LogWriteCounts(counts)
    }
}
