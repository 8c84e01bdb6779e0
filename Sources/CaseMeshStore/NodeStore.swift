import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshReplication
import Foundation
import GRDB
import GRDBSQLite
import Logging
import Synchronization

/// One node's durable store: case states, the replicated delta log, the
/// version vector of applied deltas, the HLC upper bound and per-peer
/// acknowledgements, in one SQLite database (WAL) under the data directory.
///
/// Every write is committed — case version, delta, and when they move the
/// log's start and the clock bound, all in one transaction — before its
/// caller is answered (applied positions and the node digest are worked out
/// again when the store opens). Concurrent
/// writers are grouped into one transaction (group commit) so one fsync
/// acknowledges many writes.
public final class NodeStore: Sendable {
    public let configuration: StoreConfiguration
    let pool: DatabasePool
    let logger: Logger
    let wallClock: any WallClock
    let writer: Mutex<WriterState>
    /// What list queries filter and sort on; changed after each commit.
    let queryIndex: Mutex<QueryIndex>
    /// Each case's row id and digest prefix, by bucket. The prefixes serve
    /// catch-up: a large catch-up lists every case, and reading them from
    /// the table means reading every case's state. Changed after each
    /// commit, before the writer state (and so the positions) is published:
    /// whoever reads positions and then fingerprints sees fingerprints at
    /// least as new.
    let knownCases: Mutex<[[CaseID: KnownCase]]>
    /// Recently written cases, decoded: a case being worked is read by the
    /// API and again by the writer on every change, and decoding its state
    /// from the table each time costs more than the change. Filled only
    /// after a commit succeeds, so it never holds what the table does not.
    let recent: Mutex<RecentCases>
    /// Writes waiting for a batch, and the state the next batch starts from.
    let pipeline: Mutex<CommitPipeline>
    /// Where batches are prepared, one at a time, in order.
    let preparing = DispatchQueue(label: "casemesh.store.prepare")
    /// Where committed batches are published and answered, in order.
    let publishing = DispatchQueue(label: "casemesh.store.publish")
    /// At most two prepared batches are at the writer (one written, one
    /// waiting): enough to keep it busy, few enough that batches fill up.
    let writerSlots = DispatchSemaphore(value: 2)
    let statistics = Mutex(CommitStatistics())
    /// Cases written by batches prepared but not yet committed, with the
    /// batch that wrote them last: the next batch is prepared while the
    /// last one is written, and must see its changes.
    let inflight = Mutex<[CaseID: (sequence: UInt64, written: BatchCase)]>([:])
    /// The connection batches read their cases through (see `CaseReader`).
    let caseReader: Mutex<CaseReader>
    /// The connections writers read their cases through before queueing (see `EarlyRead`).
    let earlyReaders: [EarlyReader]
    /// Every stored version and each case's live one as the batches
    /// prepared so far leave them, written or not: used (and changed) only
    /// by the preparing stage.
    let versionLog: Mutex<VersionLog>
    /// Each case's live version as committed: what readers read.
    let committedVersions: CommittedVersions

    /// SQLite's page cache of the writing connection and of each reader (see `open`).
    static let writerCacheKiB = 32_768
    static let readerCacheKiB = 2_048

    /// Opens (creating if needed) the store of `configuration`.
    public static func open(_ configuration: StoreConfiguration, wallClock: any WallClock, logger: Logger) throws(StoreError) -> NodeStore {
        let opening = ContinuousClock.now
        let directory = configuration.storeDirectory
        // Every connection of the process, from here on, writes its log a commit at a time (see WALBuffer.c).
        let registered = registerLogBuffering()
        guard registered == SQLITE_OK else {
            throw .cannotOpen(path: directory, reason: "cannot register the log-buffering SQLite VFS (SQLite error \(registered))")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .cannotOpen(path: directory, reason: describe(error))
        }
        var config = Configuration()
        config.label = "casemesh-\(configuration.replica)"
        config.busyMode = .timeout(10)
        config.maximumReaderCount = 4
        let durability = configuration.durability
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(durability.pragma)")
            // The writer keeps its pages from one transaction to the next.
            // A reader does not: SQLite empties a connection's page cache
            // whenever a read transaction starts after another connection
            // committed, which here is nearly every time, and emptying it
            // walks every slot of its hash table. So readers get a small
            // cache, enough for one transaction's pages.
            let kibibytes = db.configuration.readonly ? NodeStore.readerCacheKiB : NodeStore.writerCacheKiB
            try db.execute(sql: "PRAGMA cache_size = -\(kibibytes)")
        }
        let path = configuration.databasePath
        let lock = try DirectoryLock(directory: directory)
        // Before any connection of the pool exists: see `prefetchOpeningScan`.
        let prefetch = prefetchOpeningScan(path: path)
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: config)
            // GRDB sets synchronous = NORMAL on the writer when it enables WAL,
            // after prepareDatabase ran: set the configured level again.
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = \(durability.pragma)")
                try db.execute(sql: "PRAGMA wal_autocheckpoint = \(Checkpointer.walPages)")
                // Cleaning deletes old case versions a range at a time; with
                // SQLite's secure delete on (as Debian builds it), every page
                // freed would be written again as zeros.
                try db.execute(sql: "PRAGMA secure_delete = FAST")
                // Applied when the writer starts the log over (see `walFileLimitBytes`).
                try db.execute(sql: "PRAGMA journal_size_limit = \(max(configuration.walFileLimitBytes, 0))")
            }
            try Schema.migrator.migrate(pool)
        } catch {
            throw classifyOpen(error, path: path)
        }
        var state: WriterState
        let derived: DerivedIndexes
        let checkpointer: Checkpointer
        let searchIndexer: SearchIndexer
        do {
            state = try pool.write { db in try loadWriterState(db, configuration: configuration, wallClock: wallClock) }
            let unindexed = try pool.read { db in try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM search_pending)") ?? false }
            searchIndexer = SearchIndexer(delayMillis: configuration.searchIndexDelayMillis, recover: unindexed, logger: logger)
            derived = try pool.read { db in try loadDerivedIndexes(db, path: path) }
            checkpointer = try Checkpointer(path: path, durability: durability, logger: logger)
            state.bucketDigests = derived.bucketDigests
            // `count(*)` would read an index of its own, page by page.
            state.caseCount = derived.caseCount
        } catch {
            try? pool.close()
            throw classifyOpen(error, path: path)
        }
        logger.info("store opened", metadata: [
            "node": "\(configuration.replica)", "path": "\(path)", "cases": "\(state.caseCount)",
            "durability": "\(configuration.durability.rawValue)", "prefetched": "\(prefetch)",
            "elapsed": "\(milliseconds(ContinuousClock.now - opening))",
        ])
        let store = NodeStore(configuration: configuration, pool: pool, lock: lock, logger: logger, wallClock: wallClock, state: state,
                              derived: derived, checkpointer: checkpointer, searchIndexer: searchIndexer)
        // Cases a crash left unindexed are indexed before anything is served.
        store.writeSearchIfPossible()
        return store
    }

    /// Has the kernel read the pages of the tables `loadDerivedIndexes`
    /// scans (see `TablePrefetch`): with the file not in the page cache, the
    /// scan would otherwise wait for them one at a time. Returns what it
    /// did, for the log; it is advice, so anything that fails only skips it.
    ///
    /// It runs before the pool opens, and takes the page size and the root
    /// pages from a connection of its own that it closes before touching the
    /// file: the locks SQLite holds on the database file are POSIX locks,
    /// which a process loses on that file all at once when it closes any
    /// descriptor of it, so a descriptor of ours closed while the pool's
    /// connections are open would silently drop theirs.
    private static func prefetchOpeningScan(path: String) -> String {
        guard FileManager.default.fileExists(atPath: path) else { return "none: a new database" }
        let start = ContinuousClock.now
        let pageSize: Int
        let roots: [Int64]
        do {
            var configuration = Configuration()
            configuration.readonly = true
            configuration.label = "casemesh-prefetch"
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            (pageSize, roots) = try queue.read { db in
                (try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 0,
                 try Int64.fetchAll(db, sql: "SELECT rootpage FROM sqlite_schema WHERE type = 'table' AND name IN ('cases', 'case_versions')"))
            }
            try queue.close()
        } catch {
            return "none: \(describe(error))"
        }
        let limit = TablePrefetch.availableMemoryBytes().map { $0 / 2 } ?? Int.max
        guard let report = TablePrefetch.run(path: path, pageSize: pageSize, roots: roots.map { UInt32(clamping: $0) }, limitBytes: limit) else {
            return "none: cannot read the file"
        }
        let left = report.leftOutPages > 0 ? " (\(report.leftOutPages) more left out: half the available memory)" : ""
        return "\(report.interiorPages + report.leafPages) pages in \(report.runs) runs\(left), \(milliseconds(ContinuousClock.now - start))"
    }

    /// `duration` as whole milliseconds, for the log.
    private static func milliseconds(_ duration: Duration) -> String {
        "\(duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000) ms"
    }

    /// The first and last version, and the first and last state. Each end
    /// is a subquery of its own: SQLite finds a lone `min()` or `max()` at
    /// the edge of the B-tree, but answers both in one select by scanning
    /// the whole table (for `case_states`, nearly the whole file).
    static let versionEndsSQL = "SELECT (SELECT min(rowid) FROM case_versions), (SELECT max(rowid) FROM case_versions)"
    static let stateEndsSQL = "SELECT (SELECT min(version) FROM case_states), (SELECT max(version) FROM case_states)"

    /// What is kept in memory and derived from the case tables.
    private struct DerivedIndexes {
        var query: QueryIndex
        var bucketDigests: [StateDigest]
        var knownCases: [[CaseID: KnownCase]]
        var versions: VersionLog
        var caseCount: Int
    }

    /// Derives, in one scan of the cases and one of the versions: the
    /// stored versions and each case's live one, the list columns for the
    /// query index, the bucket digests and each case's row id and
    /// fingerprint. The versions are scanned newest first, so the first
    /// one met of each case is its live one and only those are decoded.
    private static func loadDerivedIndexes(_ db: Database, path: String) throws -> DerivedIndexes {
        let lastRow = try Int64.fetchOne(db, sql: "SELECT max(rowid) FROM cases") ?? 0
        var ids = [CaseID?](repeating: nil, count: Int(max(lastRow, 0)) + 1)
        var perBucket = [Int](repeating: 0, count: CaseBucket.count)
        var caseCount = 0
        let cases = try Row.fetchCursor(db, sql: "SELECT rowid, id, bucket FROM cases")
        while let row = try cases.next() {
            let caseRow: Int64 = row[0]
            let bucket: Int = row[2]
            let id = try CaseID(row[1] as String)
            guard caseRow >= 1, (0..<CaseBucket.count).contains(bucket), CaseBucket.of(id) == bucket else {
                throw StoreError.corrupt(path: path, reason: "case row \(caseRow) has bucket \(bucket)")
            }
            ids[Int(caseRow)] = id
            perBucket[bucket] += 1
            caseCount += 1
        }

        let range = try Row.fetchOne(db, sql: versionEndsSQL)
        let oldest: Int64 = range?[0] ?? 1
        let newest: Int64 = range?[1] ?? 0
        // The states' table ends where the versions' does.
        let states = try Row.fetchOne(db, sql: stateEndsSQL)
        let statesOldest: Int64? = states?[0]
        let statesNewest: Int64? = states?[1]
        guard statesOldest == range?[0] as Int64?, statesNewest == range?[1] as Int64? else {
            throw StoreError.corrupt(path: path, reason: "case states \(statesOldest.map(String.init) ?? "none")…\(statesNewest.map(String.init) ?? "none") "
                                     + "do not match case versions \(newest >= oldest ? "\(oldest)…\(newest)" : "none")")
        }
        var owners = [Int64](repeating: 0, count: Int(max(newest - oldest + 1, 0)))
        var columns: [QueryIndex.Columns] = []
        var buckets = Array(repeating: StateDigest.zero, count: CaseBucket.count)
        // Sized up front: growing a million entries' maps rehashes them again and again.
        var known = perBucket.map { [CaseID: KnownCase](minimumCapacity: $0) }
        var expected = newest
        var seen = [Bool](repeating: false, count: ids.count)
        let versions = try Row.fetchCursor(db, sql: """
            SELECT rowid, case_row, status, severity, owning_region, owner, sla_due_at, updated_at, digest FROM case_versions ORDER BY rowid DESC
            """)
        while let row = try versions.next() {
            let version: Int64 = row[0]
            let caseRow: Int64 = row[1]
            guard version == expected else { throw StoreError.corrupt(path: path, reason: "case versions \(version + 1) to \(expected) are missing") }
            expected -= 1
            guard caseRow >= 1, caseRow <= lastRow, let id = ids[Int(caseRow)] else {
                throw StoreError.corrupt(path: path, reason: "case version \(version) belongs to case row \(caseRow), which does not exist")
            }
            owners[Int(version - oldest)] = caseRow
            // An older version of a case already met.
            guard !seen[Int(caseRow)] else { continue }
            seen[Int(caseRow)] = true
            let bucket = CaseBucket.of(id)
            let digest = try row.withUnsafeData(atIndex: 8) { data -> StateDigest in
                guard let data, data.count == 32 else {
                    throw StoreError.corrupt(path: path, reason: "case version \(version) has a \(data?.count ?? 0)-byte digest")
                }
                return StateDigest(bytes: [UInt8](data))
            }
            columns.append(QueryIndex.Columns(rowid: caseRow, status: row[2], severity: row[3], region: row[4], owner: row[5],
                                              slaDueAt: row[6], updatedAt: row[7]))
            buckets[bucket].toggle(digest)
            known[bucket][id] = KnownCase(rowid: caseRow, fingerprint: CaseFingerprint.prefix(digest.bytes))
        }
        if let missing = ids.indices.first(where: { ids[$0] != nil && !seen[$0] }) {
            throw StoreError.corrupt(path: path, reason: "case \(ids[missing]!) (row \(missing)) has no stored state")
        }
        return DerivedIndexes(query: QueryIndex(columns), bucketDigests: buckets, knownCases: known,
                              versions: VersionLog(oldest: oldest, owners: owners), caseCount: caseCount)
    }

    private let lock: DirectoryLock
    /// Copies the log into the database file beside the writer.
    let checkpointer: Checkpointer
    /// Writes full-text changes after commits, many at a time.
    let searchIndexer: SearchIndexer

    private init(configuration: StoreConfiguration, pool: DatabasePool, lock: DirectoryLock, logger: Logger, wallClock: any WallClock,
                 state: WriterState, derived: DerivedIndexes, checkpointer: Checkpointer, searchIndexer: SearchIndexer) {
        self.configuration = configuration
        self.pool = pool
        self.lock = lock
        self.checkpointer = checkpointer
        self.searchIndexer = searchIndexer
        self.logger = logger
        self.wallClock = wallClock
        writer = Mutex(state)
        queryIndex = Mutex(derived.query)
        knownCases = Mutex(derived.knownCases)
        recent = Mutex(RecentCases(capacity: configuration.recentCases))
        pipeline = Mutex(CommitPipeline(prepared: state))
        caseReader = Mutex(CaseReader(path: configuration.databasePath))
        earlyReaders = (0..<Self.earlyReaderCount).map { _ in EarlyReader(path: configuration.databasePath) }
        versionLog = Mutex(derived.versions)
        committedVersions = CommittedVersions(derived.versions.live)
    }

    /// A store dropped without `close()` still stops its checkpointer.
    deinit {
        checkpointer.stop()
    }

    /// Closes the database; pending writes finish first, and writes
    /// submitted from now on are refused.
    public func close() async {
        pipeline.withLock { $0.closed = true }
        await waitIdle()
        writeSearchIfPossible()
        searchIndexer.close()
        checkpointer.stop()
        caseReader.withLock { $0.close() }
        for early in earlyReaders { early.close() }
        try? pool.close()
        lock.release()
    }

    // MARK: - Writes

    /// Opens a new case. A retry with the id of an existing case returns
    /// that case with `created == false` instead of failing.
    public func create(_ draft: CaseDraft, actor: String) async throws(StoreError) -> WriteOutcome {
        try await submit(.create(draft, actor: actor))
    }

    /// Runs a command on a case.
    public func execute(_ command: CaseCommand, on id: CaseID, actor: String) async throws(StoreError) -> WriteOutcome {
        try await submit(.command(id, command, actor: actor))
    }

    /// Applies a delta that `origin` logged as its `counter`-th. Duplicates
    /// are acknowledged without effect; a gap is refused so the sender resends.
    public func applyRemote(origin: ReplicaID, counter: UInt64, delta: CaseState) async throws(StoreError) -> WriteOutcome {
        try await submit(.remote(origin: origin, counter: counter, delta: delta))
    }

    /// Merges full case states from a catch-up and raises the applied
    /// positions to at least `positions`, all in one transaction, or does
    /// nothing (e.g. `clockSkew` when a state's time is too far ahead).
    /// Returns where a conflict follow-up was logged, if one was.
    public func applyCatchUp(states: [CaseState], positions: [ReplicaID: UInt64]) async throws(StoreError) -> LogPosition? {
        guard case let .caughtUp(followUp) = try await run(.catchUp(states: states, positions: positions)) else {
            preconditionFailure("a catch-up job answered with a write outcome")
        }
        return followUp
    }

    private func submit(_ job: WriteJob) async throws(StoreError) -> WriteOutcome {
        guard case let .write(outcome) = try await run(job) else { preconditionFailure("a write job answered with a catch-up outcome") }
        return outcome
    }

    /// Applies remote deltas in order, sharing transactions (group commit);
    /// one result per delta.
    public func applyRemote(_ deltas: [(origin: ReplicaID, counter: UInt64, delta: CaseState)]) async -> [Result<WriteOutcome, StoreError>] {
        if let failure = writer.withLock({ $0.failure }) { return deltas.map { _ in .failure(.readOnly(reason: failure)) } }
        let jobs = deltas.map { WriteJob.remote(origin: $0.origin, counter: $0.counter, delta: $0.delta) }
        return await submit(jobs).map { result in
            result.flatMap { outcome in
                guard case let .write(write) = outcome else { preconditionFailure("a remote delta answered with a catch-up outcome") }
                return .success(write)
            }
        }
    }

    private func run(_ job: WriteJob) async throws(StoreError) -> JobOutcome {
        if let failure = writer.withLock({ $0.failure }) { throw .readOnly(reason: failure) }
        let result = await submit([job])[0]
        return try result.get()
    }

    // MARK: - Reads

    /// The node's digest (the XOR of the bucket digests, which every
    /// commit keeps current) and case count.
    public var digest: (digest: StateDigest, cases: Int) {
        let (buckets, cases) = writer.withLock { ($0.bucketDigests, $0.caseCount) }
        return (buckets.reduce(into: .zero) { $0.toggle($1) }, cases)
    }

    /// Counters of the group committer since the store opened.
    public var commitStatistics: CommitStatistics { statistics.withLock { $0 } }

    /// Why writes are refused, if they are.
    public var writeFailure: String? { writer.withLock { $0.failure } }

    /// The highest contiguous log counter applied per origin.
    public var appliedPositions: [ReplicaID: UInt64] { writer.withLock { $0.applied } }

    public func caseState(_ id: CaseID) throws(StoreError) -> CaseState? {
        if let cached = recent.withLock({ $0[id] }) { return cached.state }
        guard let rowid = knownCases.withLock({ $0[CaseBucket.of(id)][id]?.rowid }) else { return nil }
        let bytes: [UInt8]? = try readLive([rowid]) { db, versions -> [UInt8]?? in
            // Known cases have a live version from their commit on; none would be a store bug, not a case.
            guard let version = versions[0] else { return .some(nil) }
            // Not there: it moved on (see `readLive`).
            guard let found = try db.fetchCaseVersionBytes(caseRow: rowid, versions: [version]) else { return .none }
            return .some(found.state)
        }
        guard let bytes else { return nil }
        let state: CaseState
        do {
            state = try CaseState(decoding: bytes)
        } catch {
            throw .corrupt(path: configuration.databasePath, reason: "case \(id) does not decode: \(error)")
        }
        guard state.id == id else { throw .corrupt(path: configuration.databasePath, reason: "case \(id)'s row holds case \(state.id)") }
        return state
    }

    /// Runs `body` in a read transaction with the live versions of
    /// `caseRows` (nil for a case with none), as often as it takes until
    /// `body` finds what it looks for: it returns nil when a version it was
    /// given is no longer stored (cleaning moved it between the lookup and
    /// the transaction's snapshot; the next lookup has its new place).
    func readLive<T: Sendable>(_ caseRows: [Int64], _ body: @Sendable (Database, [Int64?]) throws -> T?) throws(StoreError) -> T {
        for attempt in 0..<Self.liveReadAttempts {
            let versions = committedVersions.versions(of: caseRows)
            if let found = try read({ db in try body(db, versions) }) { return found }
            // The commit that moved it updates the versions right after it; give it a moment.
            if attempt > 0 { usleep(100) }
        }
        throw .readFailed(reason: "cases moved on between every lookup of their versions and the read (\(Self.liveReadAttempts) tries)")
    }

    /// Each of `caseRows` that has a live version, as `decode` reads its row
    /// of `SELECT v.case_row, <columns> FROM case_versions v JOIN cases c`
    /// (so `columns` start at index 1; with `states`, `case_states s` is
    /// joined too), by case row; read again as `readLive` does while one of
    /// them moved on.
    func readLiveRows<T: Sendable>(_ caseRows: [Int64], columns: String, states: Bool = false,
                                   _ decode: @escaping @Sendable (Row) throws -> T) throws(StoreError) -> [Int64: T] {
        guard !caseRows.isEmpty else { return [:] }
        return try readLive(caseRows) { db, versions -> [Int64: T]? in
            let wanted = zip(caseRows, versions).compactMap { caseRow, version in version.map { (caseRow: caseRow, version: $0) } }
            guard !wanted.isEmpty else { return [:] }
            let sql = """
                SELECT v.case_row, \(columns) FROM case_versions v JOIN cases c ON c.rowid = v.case_row
                \(states ? "JOIN case_states s ON s.version = v.rowid" : "")
                WHERE v.rowid IN (\(Database.placeholders(wanted.count)))
                """
            var byRow: [Int64: T] = [:]
            let rows = try Row.fetchCursor(db, sql: sql, arguments: StatementArguments(wanted.map(\.version)))
            while let row = try rows.next() { byRow[row[0]] = try decode(row) }
            // One not there moved on.
            return wanted.allSatisfy { byRow[$0.caseRow] != nil } ? byRow : nil
        }
    }

    /// Far more than a relocation ever needs (one more lookup), but finite.
    static let liveReadAttempts = 1_000

    /// Runs `PRAGMA integrity_check`; returns the problems found (empty when ok).
    public func integrityCheck() throws(StoreError) -> [String] {
        try read { db in
            let rows = try String.fetchAll(db, sql: "PRAGMA integrity_check")
            return rows == ["ok"] ? [] : rows
        }
    }

    func read<T: Sendable>(_ body: @Sendable (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try pool.read(body)
        } catch let error as StoreError {
            throw error
        } catch let error as CodecError {
            throw .corrupt(path: configuration.databasePath, reason: "a stored case does not decode: \(error)")
        } catch {
            throw Self.classifyRead(error, path: configuration.databasePath)
        }
    }

    // MARK: - Error classification

    static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError { return error.message ?? "\(error.resultCode)" }
        return "\(error)"
    }

    static func classifyOpen(_ error: any Error, path: String) -> StoreError {
        if let error = error as? StoreError { return error }
        if let db = error as? DatabaseError {
            switch db.resultCode.primaryResultCode {
            case .SQLITE_CORRUPT, .SQLITE_NOTADB: return .corrupt(path: path, reason: describe(db))
            case .SQLITE_FULL: return .writeFailed(reason: "the disk is full")
            default: return .cannotOpen(path: path, reason: describe(db))
            }
        }
        if error is CodecError { return .corrupt(path: path, reason: "\(error)") }
        return .cannotOpen(path: path, reason: describe(error))
    }

    static func classifyRead(_ error: any Error, path: String) -> StoreError {
        if let db = error as? DatabaseError,
           db.resultCode.primaryResultCode == .SQLITE_CORRUPT || db.resultCode.primaryResultCode == .SQLITE_NOTADB {
            return .corrupt(path: path, reason: describe(db))
        }
        return .readFailed(reason: describe(error))
    }

    static func classifyWrite(_ error: any Error) -> String {
        if let db = error as? DatabaseError {
            switch db.resultCode.primaryResultCode {
            case .SQLITE_FULL: return "the disk is full"
            case .SQLITE_READONLY: return "the database or its folder is read-only"
            case .SQLITE_IOERR: return "disk I/O error (\(describe(db)))"
            case .SQLITE_CORRUPT: return "the database is damaged (\(describe(db)))"
            default: return describe(db)
            }
        }
        return describe(error)
    }
}

/// Gathers the results of jobs submitted together and answers once all are in.
final class ResultCollector: Sendable {
    private let state: Mutex<(results: [Result<JobOutcome, StoreError>?], missing: Int)>
    private let done: @Sendable ([Result<JobOutcome, StoreError>]) -> Void

    init(count: Int, done: @escaping @Sendable ([Result<JobOutcome, StoreError>]) -> Void) {
        state = Mutex((Array(repeating: nil, count: count), count))
        self.done = done
    }

    func set(_ index: Int, _ result: Result<JobOutcome, StoreError>) {
        let finished: [Result<JobOutcome, StoreError>]? = state.withLock { state in
            state.results[index] = result
            state.missing -= 1
            return state.missing == 0 ? state.results.map { $0! } : nil
        }
        if let finished { done(finished) }
    }
}
