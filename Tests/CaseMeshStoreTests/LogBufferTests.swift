import Foundation
import GRDB
import GRDBSQLite
import Testing
import CaseMeshCRDT
@testable import CaseMeshStore

/// The log-buffering VFS (`Sources/CaseMeshWALBuffer`) holds a commit's
/// writes to the write-ahead log and writes them at once. What it must
/// never do: let another connection see a commit whose frames are still
/// held, or leave on disk a log that does not hold what was committed.
@Suite struct LogBufferTests {
    /// A pool on `dir/db.sqlite` through the buffering VFS, at `synchronous`.
    private func openPool(_ dir: String, synchronous: String = "FULL", cachePages: Int? = nil) throws -> DatabasePool {
        try #require(registerLogBuffering() == 0)
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            if let cachePages { try db.execute(sql: "PRAGMA cache_size = \(cachePages)") }
        }
        let pool = try DatabasePool(path: dir + "/db.sqlite", configuration: configuration)
        try pool.writeWithoutTransaction { db in
            // GRDB sets NORMAL on the writer when it turns the log on.
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
            try db.execute(sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB NOT NULL)")
        }
        return pool
    }

    private func blob(_ random: inout SplitMix64, bytes: Int) -> Data {
        Data((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &random) })
    }

    @Test func aCommitIsWrittenInOneFlush() async throws {
        try await withTemporaryDirectory { dir in
            let pool = try openPool(dir)
            var random = SplitMix64(seed: 11)
            let rows = (0..<40).map { _ in blob(&random, bytes: 3_000) }
            let (before, after) = try pool.writeWithoutTransaction { db in
                let before = try #require(LogWriteCounts.connection(db))
                try db.inTransaction {
                    for (id, row) in rows.enumerated() { try db.execute(sql: "INSERT INTO t(id, b) VALUES (?, ?)", arguments: [id, row]) }
                    return .commit
                }
                return (before, try #require(LogWriteCounts.connection(db)))
            }
            // Forty pages and more, each a header and a page: one write system call per 64 KiB, one flush.
            #expect(after.buffered - before.buffered >= 80)
            #expect(after.flushes - before.flushes == 1)
            #expect(after.direct == before.direct)
            try pool.close()
        }
    }

    /// Other connections read a commit as soon as it returns, whatever the
    /// sync level: without a sync, only the commit frame's flush puts the
    /// frames in the file before SQLite publishes them. The log is started
    /// over now and then, so commits also follow a new log header.
    @Test(arguments: ["FULL", "NORMAL", "OFF"])
    func everyCommitIsReadableAtOnceByOtherConnections(synchronous: String) async throws {
        try await withTemporaryDirectory { dir in
            let pool = try openPool(dir, synchronous: synchronous)
            var random = SplitMix64(seed: 29)
            for id in 0..<60 {
                let row = blob(&random, bytes: Int.random(in: 50...20_000, using: &random))
                try await pool.write { db in try db.execute(sql: "INSERT INTO t(id, b) VALUES (?, ?)", arguments: [id, row]) }
                let read = try await pool.read { db in try Data.fetchOne(db, sql: "SELECT b FROM t WHERE id = ?", arguments: [id]) }
                #expect(read == row, "row \(id) at synchronous \(synchronous)")
                if id % 20 == 19 {
                    // Copy the log back and start it over: the next commit writes a new log header first.
                    try await pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(RESTART)") }
                }
            }
            let check = try await pool.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
            #expect(check == ["ok"])
            try pool.close()
        }
    }

    /// A transaction larger than the buffer (and than the writer's page
    /// cache, so SQLite writes pages out early and reads them back) leaves
    /// a log that a fresh process recovers exactly.
    @Test func aLargeTransactionIsWrittenInPiecesAndRecovers() async throws {
        try await withTemporaryDirectory { dir in
            let pool = try openPool(dir, cachePages: 64)
            var random = SplitMix64(seed: 47)
            let rows = (0..<1_000).map { _ in blob(&random, bytes: 4_000) }
            let (before, after, reread) = try pool.writeWithoutTransaction { db in
                let before = try #require(LogWriteCounts.connection(db))
                var reread: [Data?] = []
                try db.inTransaction {
                    for (id, row) in rows.enumerated() { try db.execute(sql: "INSERT INTO t(id, b) VALUES (?, ?)", arguments: [id, row]) }
                    // Early rows left the 64-page cache for the log: read them back from it.
                    for id in [0, 1, 250, 500] { reread.append(try Data.fetchOne(db, sql: "SELECT b FROM t WHERE id = ?", arguments: [id])) }
                    return .commit
                }
                return (before, try #require(LogWriteCounts.connection(db)), reread)
            }
            #expect(reread == [rows[0], rows[1], rows[250], rows[500]])
            // About 4 MB of frames through a 1 MiB buffer.
            #expect(after.flushes - before.flushes >= 4)
            // The files as they are now (nothing copied back from the log yet) are what a restart finds.
            let copy = dir + "/copy"
            try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
            for file in ["db.sqlite", "db.sqlite-wal"] { try FileManager.default.copyItem(atPath: dir + "/" + file, toPath: copy + "/" + file) }
            try pool.close()
            let recovered = try DatabaseQueue(path: copy + "/db.sqlite")
            let (count, check, sample) = try recovered.read { db in
                (try Int.fetchOne(db, sql: "SELECT count(*) FROM t"), try String.fetchAll(db, sql: "PRAGMA integrity_check"),
                 try Data.fetchAll(db, sql: "SELECT b FROM t ORDER BY id"))
            }
            #expect(count == rows.count)
            #expect(check == ["ok"])
            #expect(sample == rows)
            try recovered.close()
        }
    }
    /// The flush rules, on a log file opened through the VFS directly:
    /// frames are held until a commit frame's page, which is written at
    /// once, whether or not it follows its header.
    @Test func aCommitFramesPageIsWrittenAtOnceAndOtherFramesWait() async throws {
        try await withTemporaryDirectory { dir in
            try #require(registerLogBuffering() == 0)
            let vfs = try #require(sqlite3_vfs_find("casemesh-wal-buffer"))
            try #require(FileManager.default.createFile(atPath: dir + "/x.db", contents: nil))
            let path = dir + "/x.db-wal"
            // SQLite's file names end in two zero bytes; the name must outlive the file.
            let name = UnsafeMutablePointer<CChar>.allocate(capacity: path.utf8.count + 2)
            defer { name.deallocate() }
            name.initialize(repeating: 0, count: path.utf8.count + 2)
            _ = path.withCString { strcpy(name, $0) }
            let memory = UnsafeMutableRawPointer.allocate(byteCount: Int(vfs.pointee.szOsFile), alignment: 16)
            defer { memory.deallocate() }
            memory.initializeMemory(as: UInt8.self, repeating: 0, count: Int(vfs.pointee.szOsFile))
            let file = memory.assumingMemoryBound(to: sqlite3_file.self)
            var outFlags: Int32 = 0
            try #require(vfs.pointee.xOpen(vfs, name, file, SQLITE_OPEN_WAL | SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &outFlags) == SQLITE_OK)
            let methods = try #require(file.pointee.pMethods)
            func write(_ bytes: [UInt8], at offset: Int64) throws {
                let code = bytes.withUnsafeBytes { methods.pointee.xWrite(file, $0.baseAddress, Int32(bytes.count), offset) }
                try #require(code == SQLITE_OK)
            }
            func onDisk() throws -> Int { try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? -1 }
            func header(commit: Bool) -> [UInt8] { [0, 0, 0, 1] + (commit ? [0, 0, 0, 9] : [0, 0, 0, 0]) + Array(repeating: 7, count: 16) }
            let page = [UInt8](repeating: 3, count: 512)

            try write(Array(repeating: 1, count: 32), at: 0)  // the log header
            try write(header(commit: false), at: 32)
            try write(page, at: 56)
            #expect(try onDisk() == 0, "frames before the commit frame are held")
            try write(header(commit: true), at: 568)
            #expect(try onDisk() == 0, "a commit header alone is held")
            try write(page, at: 592)
            #expect(try onDisk() == 1_104, "the commit frame's page writes everything held")

            try write(header(commit: true), at: 1_104)
            try write(page, at: 4_000)  // does not follow its header
            #expect(try onDisk() == 4_512, "the commit frame's page is written even when it does not follow on")

            try write(header(commit: false), at: 4_512)
            try write(page, at: 4_536)
            #expect(try onDisk() == 4_512)
            try #require(methods.pointee.xSync(file, SQLITE_SYNC_NORMAL) == SQLITE_OK)
            #expect(try onDisk() == 5_048, "a sync writes what is held first")
            #expect(methods.pointee.xClose(file) == SQLITE_OK)
        }
    }
}
