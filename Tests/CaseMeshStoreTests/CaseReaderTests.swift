import CaseMeshDomain
import Foundation
import GRDB
@testable import CaseMeshStore
import Testing

/// The preparing queue's own connection: a batch's lookups see one commit,
/// a failed read leaves no transaction open, and a connection that cannot
/// be opened is reported as SQLite's error and tried again on the next read.
@Suite struct CaseReaderTests {
    /// A database with the store's schema and one case (row 1) whose
    /// version 1 holds `state`.
    static func database(_ directory: String, state: [UInt8]) throws -> (DatabasePool, path: String) {
        let path = directory + "/cases.sqlite"
        let pool = try DatabasePool(path: path)
        try Schema.migrator.migrate(pool)
        try pool.write { db in
            try db.execute(sql: "INSERT INTO cases(rowid, id, number, created_at) VALUES (1, 'case-a', 'EMEA-000001', 0)")
            try db.execute(sql: """
                INSERT INTO case_versions(rowid, case_row, digest, title, status, severity, owning_region, updated_at)
                VALUES (1, 1, zeroblob(32), 't', 'new', 'sev2', 'EMEA', 0);
                INSERT INTO case_states(version, case_row, state, digest) VALUES (1, 1, ?, zeroblob(32))
                """, arguments: [Data(state)])
        }
        return (pool, path)
    }

    static func setState(_ pool: DatabasePool, _ state: [UInt8]) throws {
        try pool.write { db in try db.execute(sql: "UPDATE case_states SET state = ? WHERE version = 1", arguments: [Data(state)]) }
    }

    static func stateOfCaseA(_ db: some RawRowSource, versions: [Int64] = [1]) throws -> [UInt8]? {
        try db.fetchCaseVersionBytes(caseRow: 1, versions: versions)?.state
    }

    @Test func lookupsInOneReadSeeOneCommit() async throws {
        try await withTemporaryDirectory { directory in
            let (pool, path) = try Self.database(directory, state: [1])
            let reader = CaseReader(path: path)
            let seen = try reader.read { db in
                let first = try Self.stateOfCaseA(db)
                // Another connection commits between the two lookups.
                try Self.setState(pool, [2])
                let second = try Self.stateOfCaseA(db)
                return [first, second]
            }
            #expect(seen == [[1], [1]])
            #expect(try reader.read { db in try Self.stateOfCaseA(db) } == [2])
            // The first version given that is stored is read; one of another case is not.
            #expect(try reader.read { db in try Self.stateOfCaseA(db, versions: [7, 1]) } == [2])
            #expect(try reader.read { db in try Self.stateOfCaseA(db, versions: [7]) } == nil)
            #expect(try reader.read { db in try db.fetchCaseVersionBytes(caseRow: 2, versions: [1]) } == nil)
            reader.close()
            try pool.close()
        }
    }

    /// A read whose body throws rolls back: the next read starts a fresh
    /// transaction (with one left open, `BEGIN` would fail) and sees later commits.
    @Test func aFailedReadLeavesNoTransactionOpen() async throws {
        struct Stop: Error {}
        try await withTemporaryDirectory { directory in
            let (pool, path) = try Self.database(directory, state: [1])
            let reader = CaseReader(path: path)
            #expect(throws: Stop.self) {
                try reader.read { db -> Int in
                    _ = try Self.stateOfCaseA(db)
                    throw Stop()
                }
            }
            try Self.setState(pool, [3])
            #expect(try reader.read { db in try Self.stateOfCaseA(db) } == [3])
            // Closed, it opens again on the next read.
            reader.close()
            try Self.setState(pool, [4])
            #expect(try reader.read { db in try Self.stateOfCaseA(db) } == [4])
            reader.close()
            try pool.close()
        }
    }

    @Test func aFileThatCannotBeReadIsSQLitesError() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/cases.sqlite"
            let reader = CaseReader(path: path)
            // No file: a read-only connection cannot create one.
            let missing = #expect(throws: DatabaseError.self) { try reader.read { _ in 0 } }
            #expect(missing?.resultCode.primaryResultCode == .SQLITE_CANTOPEN)
            // Not a database.
            try Data(repeating: 0x41, count: 8_192).write(to: URL(fileURLWithPath: path))
            let garbage = #expect(throws: DatabaseError.self) {
                try reader.read { db in try Self.stateOfCaseA(db) }
            }
            #expect(garbage?.resultCode.primaryResultCode == .SQLITE_NOTADB)
            // The store reports it as a damaged database.
            guard case .corrupt = NodeStore.classifyRead(garbage!, path: path) else {
                Issue.record("not classified as corrupt: \(NodeStore.classifyRead(garbage!, path: path))")
                return
            }
            // Once the file is a database, the same reader reads it.
            try FileManager.default.removeItem(atPath: path)
            let (pool, _) = try Self.database(directory, state: [5])
            #expect(try reader.read { db in try Self.stateOfCaseA(db) } == [5])
            reader.close()
            try pool.close()
        }
    }
}
