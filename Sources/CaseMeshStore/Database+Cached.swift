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

    /// The same, with the state still encoded (so it can be decoded elsewhere).
    func fetchStoredCaseBytes(_ id: CaseID) throws -> (rowid: Int64, state: [UInt8], digest: StateDigest)? {
        guard let row = try Row.fetchOne(cachedStatement(sql: "SELECT rowid, state, digest FROM cases WHERE id = ?"),
                                         arguments: [id.rawValue]) else { return nil }
        let state = try row.withUnsafeData(atIndex: 1) { data in [UInt8](data ?? Data()) }
        let digest: Data = row[2]
        return (row[0], state, StateDigest(bytes: [UInt8](digest)))
    }

    /// `?, ?, …` for an `IN (…)` list of `count` values.
    static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ",")
    }

    func fetchInt64(_ sql: String, _ arguments: StatementArguments = []) throws -> Int64? {
        try Int64.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }
}
