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

    /// A case's decoded state.
    func fetchStoredState(_ id: CaseID) throws -> CaseState? {
        try fetchStoredCaseBytes(id).map { try CaseState(decoding: $0.state) }
    }

    /// A case's row id, encoded state and digest: the three columns the
    /// write path needs, copied straight out of SQLite (the caller decodes
    /// and checks them). With the case's row id (see `KnownCase`) the row is
    /// found in the table's B-tree alone, without first descending the id
    /// index; a row that turns out to hold another case is not trusted, and
    /// the case is looked up by id instead.
    func fetchStoredCaseBytes(_ id: CaseID, rowid: Int64? = nil) throws -> (rowid: Int64, state: [UInt8], digest: [UInt8])? {
        func columns(_ row: RawRow) -> (rowid: Int64, state: [UInt8], digest: [UInt8]) { (row.int64(0), row.bytes(1), row.bytes(2)) }
        if let rowid,
           let found = try firstRawRow("SELECT rowid, state, digest, id FROM cases WHERE rowid = ?", argument: .integer(rowid), { row in
               row.holds(3, text: id.rawValue) ? columns(row) : nil
           }) ?? nil {
            return found
        }
        return try firstRawRow("SELECT rowid, state, digest FROM cases WHERE id = ?", argument: .text(id.rawValue), columns)
    }

    /// `?, ?, …` for an `IN (…)` list of `count` values.
    static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ",")
    }

    func fetchInt64(_ sql: String, _ arguments: StatementArguments = []) throws -> Int64? {
        try Int64.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }
}
