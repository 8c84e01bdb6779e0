import CaseMeshDomain
import Foundation
import GRDB
import GRDBSQLite

// The write path's hottest statements (reading each case a batch changes,
// writing each case row and log entry) talk to SQLite's statement directly:
// GRDB's `Row`, `StatementArguments` and `DatabaseValue` machinery cost more
// per statement than SQLite's own work. The statements are still GRDB's
// cached statements of the same connection, inside GRDB's transactions.

/// A result row read straight from SQLite's statement.
struct RawRow {
    fileprivate let statement: OpaquePointer

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }

    /// The column's bytes (a blob's, or a text's UTF-8), copied.
    func bytes(_ column: Int32) -> [UInt8] {
        // The pointer first, then the length: SQLite's documented order.
        guard let start = sqlite3_column_blob(statement, column) else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: start, count: Int(sqlite3_column_bytes(statement, column))))
    }
}

/// Binds a statement's parameters (numbered from 1); SQLite copies each value.
struct RawBinder {
    fileprivate let statement: OpaquePointer
    fileprivate var failure: Int32 = SQLITE_OK

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    mutating func bind(_ index: Int32, _ value: Int64?) {
        note(value.map { sqlite3_bind_int64(statement, index, $0) } ?? sqlite3_bind_null(statement, index))
    }

    mutating func bind(_ index: Int32, _ value: String?) {
        note(value.map { sqlite3_bind_text(statement, index, $0, -1, Self.transient) } ?? sqlite3_bind_null(statement, index))
    }

    mutating func bind(_ index: Int32, _ value: Data) {
        note(value.withUnsafeBytes { bytes in
            // A zero-length blob still needs a non-null pointer, or SQLite stores NULL.
            sqlite3_bind_blob(statement, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(bytes.count), Self.transient)
        })
    }

    private mutating func note(_ code: Int32) {
        if failure == SQLITE_OK { failure = code }
    }
}

/// A connection that can run a one-row query straight on SQLite's statement.
protocol RawRowSource {
    /// Runs `sql` with one integer or text argument and hands its first
    /// row, if any, to `body`.
    func firstRawRow<T>(_ sql: String, argument: RawArgument, _ body: (RawRow) throws -> T) throws -> T?
}

extension RawRowSource {
    /// The encoded state and digest of the case stored as `caseRow`, from
    /// the first of `versions` that is stored and belongs to it (the caller
    /// decodes and checks them). More than one version is given when the
    /// caller cannot tell which of them the snapshot holds (see
    /// `NodeStore.readCases`); none of them there means the case moved on
    /// after the caller looked its versions up, and it reads again.
    func fetchCaseVersionBytes(caseRow: Int64, versions: [Int64]) throws -> (state: [UInt8], digest: [UInt8])? {
        for version in versions {
            let found = try firstRawRow("SELECT case_row, state, digest FROM case_states WHERE version = ?", argument: .integer(version)) { row in
                row.int64(0) == caseRow ? (row.bytes(1), row.bytes(2)) : nil
            } ?? nil
            if let found { return found }
        }
        return nil
    }
}

extension RawArgument {
    /// Binds the argument as the statement's first parameter (SQLite copies it).
    func bind(to binder: inout RawBinder) {
        switch self {
        case let .integer(value): binder.bind(1, value)
        case let .text(value): binder.bind(1, value)
        }
    }
}

/// Resets `statement` and sets its parameters with `bind`; a value SQLite
/// refuses resets it again and is thrown as `error` makes it.
func bound(_ statement: OpaquePointer, _ bind: (inout RawBinder) -> Void, error: (Int32) -> any Error) throws -> OpaquePointer {
    sqlite3_reset(statement)
    var binder = RawBinder(statement: statement)
    bind(&binder)
    guard binder.failure == SQLITE_OK else {
        sqlite3_reset(statement)
        throw error(binder.failure)
    }
    return statement
}

/// Steps a statement whose parameters are bound, hands its first row (if
/// any) to `body` and resets it, whatever happens.
func firstRow<T>(of statement: OpaquePointer, _ body: (RawRow) throws -> T, error: (Int32) -> any Error) throws -> T? {
    defer { sqlite3_reset(statement) }
    switch sqlite3_step(statement) {
    case SQLITE_ROW: return try body(RawRow(statement: statement))
    case SQLITE_DONE: return nil
    case let code: throw error(code)
    }
}

/// SQLite's error on `connection`, as GRDB reports its own (so the store classifies both alike).
func sqliteError(_ code: Int32, connection: OpaquePointer?, sql: String) -> DatabaseError {
    let message = connection.map { String(cString: sqlite3_errmsg($0)) }
    return DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: sql)
}

extension Database: RawRowSource {
    /// Runs `sql` (a cached statement) with one integer or text argument
    /// and hands its first row, if any, to `body`. The statement is reset
    /// before returning, whatever happens.
    func firstRawRow<T>(_ sql: String, argument: RawArgument, _ body: (RawRow) throws -> T) throws -> T? {
        let statement = try rawStatement(sql) { argument.bind(to: &$0) }
        return try firstRow(of: statement, body) { rawError($0, sql) }
    }

    /// Runs `sql` (a cached statement that returns no rows) with the
    /// parameters `bind` sets.
    func runRaw(_ sql: String, _ bind: (inout RawBinder) -> Void) throws {
        let statement = try rawStatement(sql, bind)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        let code = sqlite3_step(statement)
        guard code == SQLITE_DONE else { throw rawError(code, sql) }
    }

    /// The cached statement of `sql`, reset and with the parameters `bind` sets.
    private func rawStatement(_ sql: String, _ bind: (inout RawBinder) -> Void) throws -> OpaquePointer {
        try bound(cachedStatement(sql: sql).sqliteStatement, bind) { rawError($0, sql) }
    }

    /// SQLite's error, as GRDB reports its own (so the store classifies both alike).
    private func rawError(_ code: Int32, _ sql: String) -> DatabaseError {
        sqliteError(code, connection: sqliteConnection, sql: sql)
    }
}

/// The one argument of a `firstRawRow` query.
enum RawArgument {
    case integer(Int64)
    case text(String)
}
