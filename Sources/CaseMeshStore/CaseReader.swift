import GRDB
import GRDBSQLite

/// The preparing queue's own read-only SQLite connection, for the cases a
/// batch changes.
///
/// Why not one of the pool's readers: a pool read takes a reader from the
/// pool, hops onto its queue and wraps the work in a savepoint whose
/// statements GRDB parses anew each time, and checks the schema; that came
/// to as much CPU per batch as reading a dozen cases. Here a batch's read
/// is three prepared statements: `BEGIN`, the lookups, `COMMIT`. The
/// connection is opened on first use and used by one thread at a time (the
/// store keeps it behind a lock).
final class CaseReader {
    private let path: String
    private var connection: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]

    init(path: String) { self.path = path }

    deinit { closeConnection() }

    /// Runs `body` in one read transaction: every lookup sees the same commit.
    func read<T>(_ body: (Transaction) throws -> T) throws -> T {
        let connection = try open()
        try step("BEGIN", on: connection)
        do {
            let result = try body(Transaction(statements: statements, connection: connection))
            try step("COMMIT", on: connection)
            return result
        } catch {
            // Leave the transaction whatever happened (a failed `COMMIT`
            // included), so the next read can begin; the first error is the
            // one reported.
            if sqlite3_get_autocommit(connection) == 0 { _ = try? step("ROLLBACK", on: connection) }
            throw error
        }
    }

    /// Closes the connection; the next read opens it again.
    func close() { closeConnection() }

    /// A read in progress: lookups on the reader's prepared statements.
    struct Transaction: RawRowSource {
        fileprivate let statements: [String: OpaquePointer]
        fileprivate let connection: OpaquePointer

        func firstRawRow<T>(_ sql: String, argument: RawArgument, _ body: (RawRow) throws -> T) throws -> T? {
            // Lookups are prepared when the connection opens (see `lookups`).
            guard let prepared = statements[sql] else { preconditionFailure("not a case lookup: \(sql)") }
            let error = { (code: Int32) in sqliteError(code, connection: connection, sql: sql) }
            let statement = try bound(prepared, { argument.bind(to: &$0) }, error: error)
            return try firstRow(of: statement, body, error: error)
        }
    }

    /// The statement `fetchCaseVersionBytes` runs, and the transaction's.
    private static let lookups = [
        "SELECT case_row, state, digest FROM case_states WHERE version = ?",
        "BEGIN", "COMMIT", "ROLLBACK",
    ]

    private func open() throws -> OpaquePointer {
        if let connection { return connection }
        var handle: OpaquePointer?
        let code = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil)
        guard code == SQLITE_OK, let handle else {
            let error = sqliteError(code, connection: handle, sql: "open")
            sqlite3_close_v2(handle)
            throw error
        }
        connection = handle
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, 10_000)
        do {
            // The page cache of the pool's readers (see `NodeStore.open`).
            let pragma = "PRAGMA cache_size = -\(NodeStore.readerCacheKiB)"
            let done = sqlite3_exec(handle, pragma, nil, nil, nil)
            guard done == SQLITE_OK else { throw sqliteError(done, connection: handle, sql: pragma) }
            for sql in Self.lookups { statements[sql] = try Self.prepare(sql, on: handle) }
        } catch {
            // Half set up: the next read opens it anew.
            closeConnection()
            throw error
        }
        return handle
    }

    private static func prepare(_ sql: String, on connection: OpaquePointer) throws -> OpaquePointer {
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v3(connection, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard code == SQLITE_OK, let statement else { throw sqliteError(code, connection: connection, sql: sql) }
        return statement
    }

    private func step(_ sql: String, on connection: OpaquePointer) throws {
        guard let statement = statements[sql] else { preconditionFailure("not prepared: \(sql)") }
        defer { sqlite3_reset(statement) }
        let code = sqlite3_step(statement)
        guard code == SQLITE_DONE else { throw sqliteError(code, connection: connection, sql: sql) }
    }

    private func closeConnection() {
        for statement in statements.values { sqlite3_finalize(statement) }
        statements = [:]
        if let connection { sqlite3_close_v2(connection) }
        connection = nil
    }
}
