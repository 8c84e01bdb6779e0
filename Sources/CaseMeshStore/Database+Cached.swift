import CaseMeshDomain
import GRDB

/// The write path runs the same few statements thousands of times a second;
/// preparing SQL costs more than executing it, so hot statements are cached
/// per connection.
extension Database {
    func run(_ sql: String, _ arguments: StatementArguments = []) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }

    func fetchCaseRow(_ id: CaseID) throws -> CaseRow? {
        try CaseRow.fetchOne(cachedStatement(sql: "SELECT * FROM cases WHERE id = ?"), arguments: [id.rawValue])
    }

    func fetchInt64(_ sql: String, _ arguments: StatementArguments = []) throws -> Int64? {
        try Int64.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }
}
