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

    /// `?, ?, …` for an `IN (…)` list of `count` values.
    static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ",")
    }

    func fetchInt64(_ sql: String, _ arguments: StatementArguments = []) throws -> Int64? {
        try Int64.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }
}
