import CaseMeshCRDT
import CaseMeshDomain
import Foundation
import GRDB

/// The write path runs the same few statements thousands of times a second;
/// preparing SQL costs more than executing it, so hot statements are cached
/// per connection.
extension Database {
    func run(_ sql: String, _ arguments: StatementArguments = []) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }

    /// A case's row id, decoded state and digest: the three columns the
    /// write path needs, read without decoding the whole record.
    func fetchStoredCase(_ id: CaseID) throws -> (rowid: Int64, state: CaseState, digest: StateDigest)? {
        guard let stored = try fetchStoredCaseBytes(id) else { return nil }
        return (stored.rowid, try CaseState(decoding: stored.state), stored.digest)
    }

    /// The same, with the state still encoded (so it can be decoded
    /// elsewhere). With the case's row id (see `KnownCase`) the row is found
    /// in the table's B-tree alone, without first descending the id index;
    /// a row that turns out to hold another case is not trusted, and the
    /// case is looked up by id instead.
    func fetchStoredCaseBytes(_ id: CaseID, rowid: Int64? = nil) throws -> (rowid: Int64, state: [UInt8], digest: StateDigest)? {
        if let rowid {
            let rows = try Row.fetchCursor(cachedStatement(sql: "SELECT rowid, state, digest, id FROM cases WHERE rowid = ?"), arguments: [rowid])
            if let row = try rows.next(), row[3] as String? == id.rawValue { return try Self.storedCaseBytes(row) }
        }
        let rows = try Row.fetchCursor(cachedStatement(sql: "SELECT rowid, state, digest FROM cases WHERE id = ?"), arguments: [id.rawValue])
        return try rows.next().map(Self.storedCaseBytes)
    }

    /// Copies a case row's bytes straight out of SQLite's row (a cursor's
    /// row is not copied first).
    private static func storedCaseBytes(_ row: Row) throws -> (rowid: Int64, state: [UInt8], digest: StateDigest) {
        let state = try row.withUnsafeData(atIndex: 1) { data in [UInt8](data ?? Data()) }
        let digest = try row.withUnsafeData(atIndex: 2) { data in [UInt8](data ?? Data()) }
        return (row[0], state, StateDigest(bytes: digest))
    }

    /// `?, ?, …` for an `IN (…)` list of `count` values.
    static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ",")
    }

    func fetchInt64(_ sql: String, _ arguments: StatementArguments = []) throws -> Int64? {
        try Int64.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }
}
