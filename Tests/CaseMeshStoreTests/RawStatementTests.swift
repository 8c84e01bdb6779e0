import Foundation
import GRDB
@testable import CaseMeshStore
import Testing

/// The write path's direct statements store and read back exactly what
/// GRDB's own would: NULLs, empty blobs, text and integers; and a failing
/// statement reports SQLite's error as a `DatabaseError`.
@Suite struct RawStatementTests {
    static func database() throws -> DatabaseQueue {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, s TEXT, b BLOB NOT NULL, u TEXT UNIQUE)")
        }
        return queue
    }

    @Test func valuesRoundTrip() throws {
        let queue = try Self.database()
        try queue.write { db in
            try db.runRaw("INSERT INTO t(id, n, s, b, u) VALUES (?, ?, ?, ?, ?)") { binder in
                binder.bind(1, Int64(7)); binder.bind(2, Int64?.none); binder.bind(3, "héllo")
                binder.bind(4, Data()); binder.bind(5, String?.none)
            }
            try db.runRaw("INSERT INTO t(id, n, s, b, u) VALUES (?, ?, ?, ?, ?)") { binder in
                binder.bind(1, Int64(8)); binder.bind(2, Int64.min); binder.bind(3, String?.none)
                binder.bind(4, Data([0, 1, 255])); binder.bind(5, "x")
            }
        }
        try queue.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT id, n, s, b, u, typeof(b) FROM t ORDER BY id")
            #expect(rows.count == 2)
            #expect(rows[0][1] as Int64? == nil)
            #expect(rows[0][2] as String? == "héllo")
            #expect(rows[0][5] as String == "blob")  // an empty blob, not NULL
            #expect(rows[0][4] as String? == nil)
            #expect(rows[1][1] as Int64 == Int64.min)
            #expect(rows[1][2] as String? == nil)
            #expect(rows[1][3] as Data == Data([0, 1, 255]))

            let read = try db.firstRawRow("SELECT id, b, s FROM t WHERE id = ?", argument: .integer(8)) { row in
                (row.int64(0), row.bytes(1), row.bytes(2))
            }
            #expect(read?.0 == 8)
            #expect(read?.1 == [0, 1, 255])
            #expect(read?.2 == [])  // NULL reads as no bytes
            #expect(try db.firstRawRow("SELECT s FROM t WHERE id = ?", argument: .integer(7)) { $0.bytes(0) } == Array("héllo".utf8))
            #expect(try db.firstRawRow("SELECT id FROM t WHERE u = ?", argument: .text("x")) { $0.int64(0) } == 8)
            #expect(try db.firstRawRow("SELECT id FROM t WHERE id = ?", argument: .integer(99)) { $0.int64(0) } == nil)
        }
    }

    /// A constraint failure comes back as SQLite's error, the statement is
    /// reset, and the same statement runs again afterwards.
    @Test func failuresAreDatabaseErrors() throws {
        let queue = try Self.database()
        try queue.write { db in
            let insert = "INSERT INTO t(id, b, u) VALUES (?, ?, ?)"
            try db.runRaw(insert) { binder in binder.bind(1, Int64(1)); binder.bind(2, Data([1])); binder.bind(3, "same") }
            do {
                try db.runRaw(insert) { binder in binder.bind(1, Int64(2)); binder.bind(2, Data([1])); binder.bind(3, "same") }
                Issue.record("a duplicate unique value was accepted")
            } catch let error as DatabaseError {
                #expect(error.resultCode.primaryResultCode == .SQLITE_CONSTRAINT)
                #expect(error.message?.contains("UNIQUE") == true, "\(String(describing: error.message))")
            }
            try db.runRaw(insert) { binder in binder.bind(1, Int64(3)); binder.bind(2, Data([1])); binder.bind(3, "other") }
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM t") == 2)
        }
    }
}
