import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshReplication
import Foundation
import GRDB

/// A case as stored: read by a batch, or written by one (then carrying its
/// new list columns for the query index).
struct BatchCase: Sendable {
    var row: Int64
    var state: CaseState
    var digest: StateDigest
    /// Set once the batch has written the case.
    var columns: QueryIndex.Columns?
}

/// The cases one batch reads and changes. Later jobs of the batch see
/// earlier ones' effects; each changed case is encoded, digested and
/// written once when the batch ends, however many of its jobs touched it
/// (a burst of remote deltas to one busy case costs one write, not one per
/// delta: encoding a case with a long timeline is the expensive part).
struct BatchCases {
    /// Cases as stored before the batch changed them.
    private(set) var stored: [CaseID: BatchCase] = [:]
    /// Ids known not to be stored.
    private(set) var absent: Set<CaseID> = []
    /// Stored cases whose state does not decode, and why.
    private(set) var damaged: [CaseID: String] = [:]
    /// The batch's new states, in the order the cases were first changed.
    private(set) var staged: [CaseID: CaseState] = [:]
    private(set) var order: [CaseID] = []
    /// The cases written when the batch ended.
    var written: [BatchCase] = []

    /// The case as the batch sees it now: staged, or as stored (nil when
    /// unknown here; the caller loads it with `remember`).
    func current(_ id: CaseID) -> CaseState? {
        staged[id] ?? stored[id]?.state
    }

    func knows(_ id: CaseID) -> Bool {
        staged[id] != nil || stored[id] != nil || absent.contains(id) || damaged[id] != nil
    }

    mutating func rememberDamaged(_ id: CaseID, reason: String) {
        damaged[id] = reason
    }

    mutating func remember(_ loaded: BatchCase) {
        stored[loaded.state.id] = loaded
    }

    mutating func rememberAbsent(_ id: CaseID) {
        absent.insert(id)
    }

    mutating func stage(_ state: CaseState) {
        if staged.updateValue(state, forKey: state.id) == nil { order.append(state.id) }
    }
}

/// Why a stored case cannot be used: its state does not decode, or its digest is malformed.
struct DamagedCase: Error {
    var reason: String
}

/// A batch worked out and ready for the writer: its statements, its
/// callers' answers and the writer state once it is committed.
struct PreparedBatch: Sendable {
    var sequence: UInt64
    var writes: [BatchWrite]
    var results: [Result<JobOutcome, StoreError>]
    var end: WriterState
    var written: [BatchCase]
    /// The cases' new live versions (their writes' and cleaning's), for
    /// readers once the batch is committed.
    var versions: [VersionChange]
    /// Full-text changes, written after the commit by `SearchIndexer`.
    var search: [BatchWrite]
    var preparing: Duration
    /// Why nothing of the batch can be written (a stored case could not be read).
    var failure: String?
}

/// What only the (serialised) write path changes, mirrored from the database.
struct WriterState: Sendable {
    var clock: HybridLogicalClock
    var caseCount: Int
    var applied: [ReplicaID: UInt64]
    var retainedFrom: [ReplicaID: UInt64]
    /// This node's region's last case number.
    var regionLast: Int64
    /// The highest row id in `cases`: new cases get their row id when prepared.
    var lastRowID: Int64
    var failure: String?
    /// XOR of the case digests in each bucket, for digest catch-up; the
    /// node's digest is the XOR of these (`NodeStore.digest`).
    var bucketDigests = Array(repeating: StateDigest.zero, count: CaseBucket.count)
}

extension NodeStore {
    static func loadWriterState(_ db: Database, configuration: StoreConfiguration, wallClock: any WallClock) throws -> WriterState {
        if let owner = try String.fetchOne(db, sql: "SELECT CAST(value AS TEXT) FROM node_meta WHERE key = 'node'") {
            guard owner == configuration.replica.rawValue else {
                throw StoreError.wrongNode(expected: configuration.replica.rawValue, found: owner)
            }
        } else {
            try db.run("INSERT INTO node_meta(key, value) VALUES ('node', ?)", [configuration.replica.rawValue])
        }
        let bound = try Int64.fetchOne(db, sql: "SELECT CAST(value AS INTEGER) FROM node_meta WHERE key = 'hlc_upper_bound'") ?? 0
        let lastRowID = try Int64.fetchOne(db, sql: "SELECT max(rowid) FROM cases") ?? 0
        let regionLast = try db.fetchInt64("SELECT last FROM region_counters WHERE region = ?", [configuration.region.rawValue]) ?? 0
        var applied: [ReplicaID: UInt64] = [:]
        var retained: [ReplicaID: UInt64] = [:]
        // A batch writes an origin's row only when where its log starts
        // moves; the counter is then the log's newest entry when it has one.
        for row in try Row.fetchAll(db, sql: Self.logPositionsSQL) {
            let origin = ReplicaID(row["origin"] as String)
            applied[origin] = UInt64(row["applied"] as Int64)
            retained[origin] = UInt64(row["retained_from"] as Int64)
        }
        let clock = HybridLogicalClock(wallClock: wallClock, maxOffsetMillis: configuration.maxClockOffsetMillis,
                                       restoredUpperBound: UInt64(max(bound, 0)))
        // The bucket digests (and so the node's) and the case count come
        // from the opening scan (`loadDerivedIndexes`).
        return WriterState(clock: clock, caseCount: 0, applied: applied, retainedFrom: retained,
                           regionLast: regionLast, lastRowID: lastRowID, failure: nil)
    }

    /// Each origin's applied counter (the newer of the stored one and the
    /// log's newest entry; each a seek in the primary key) and where its
    /// log starts.
    static let logPositionsSQL = """
        SELECT origin, max(applied, coalesce((SELECT max(counter) FROM delta_log WHERE delta_log.origin = log_positions.origin), 0)) AS applied,
               retained_from
        FROM log_positions
        """

    // MARK: - Preparing a batch (outside the writer)

    /// Works out a batch from `state` (the state after every batch prepared
    /// before it, written or not), advancing it. `early` holds what the
    /// jobs' callers read before queueing (one per job; see `EarlyRead`).
    /// Jobs the domain refuses, and jobs on a case whose stored state does
    /// not decode, fail alone; a read that fails outright (an I/O error)
    /// fails the whole batch.
    func prepare(_ jobs: [WriteJob], early: [EarlyRead?], state: inout WriterState, sequence: UInt64) -> PreparedBatch {
        let clock = ContinuousClock()
        let began = clock.now
        let start = state
        var cache = BatchCases()
        var writes: [BatchWrite] = []
        var search: [BatchWrite] = []
        var versions: [VersionChange] = []
        var results: [Result<JobOutcome, StoreError>] = []
        results.reserveCapacity(jobs.count)
        do {
            try preload(jobs, early: early, cache: &cache)
            for job in jobs {
                do {
                    results.append(.success(try apply(job, state: &state, cache: &cache, writes: &writes)))
                } catch let error as StoreError {
                    results.append(.failure(error))
                } catch let error as DomainError {
                    results.append(.failure(.rejected(error)))
                }
            }
            writeStaged(state: &state, cache: &cache, writes: &writes, search: &search, versions: &versions)
            finishBatch(state: &state, start: start, writes: &writes)
        } catch {
            state = start
            let reason = Self.classifyWrite(error)
            // One answer per job, like any batch: every caller hears of the failure.
            return PreparedBatch(sequence: sequence, writes: [], results: jobs.map { _ in .failure(.writeFailed(reason: reason)) }, end: start,
                                 written: [], versions: [], search: [], preparing: clock.now - began, failure: reason)
        }
        // Later batches, prepared before this one is written, must see its cases.
        inflight.withLock { inflight in
            for written in cache.written { inflight[written.state.id] = (sequence, written) }
        }
        return PreparedBatch(sequence: sequence, writes: writes, results: results, end: state, written: cache.written,
                             versions: versions, search: search, preparing: clock.now - began, failure: nil)
    }

    /// A case as the write path last left it: written by a batch still in
    /// flight, or recently written, or nil when it must be read from the table.
    func latest(_ id: CaseID) -> BatchCase? {
        if let pending = inflight.withLock({ $0[id]?.written }) { return pending }
        return recent.withLock { $0[id] }
    }

    /// Gets every case the batch's jobs name: as the write path last left
    /// it, or as the job's caller read it early when that is still the
    /// case's live version; the rest are read in one snapshot, decoded on
    /// every core.
    private func preload(_ jobs: [WriteJob], early: [EarlyRead?], cache: inout BatchCases) throws {
        var wanted: [CaseID] = []
        var seen = Set<CaseID>()
        var earlyUsed = 0
        func want(_ id: CaseID, _ early: EarlyRead? = nil) {
            guard seen.insert(id).inserted else { return }
            if let known = latest(id) {
                cache.remember(known)
            } else if let early, early.loaded.state.id == id, versionLog.withLock({ $0.live[early.loaded.row] }) == early.version {
                cache.remember(early.loaded)
                earlyUsed += 1
            } else {
                wanted.append(id)
            }
        }
        for (index, job) in jobs.enumerated() {
            let read = index < early.count ? early[index] : nil
            switch job {
            case let .create(draft, _): if let id = draft.id { want(id) }
            case let .command(id, _, _): want(id, read)
            case let .remote(_, _, delta): want(delta.id, read)
            case let .catchUp(states, _): for state in states { want(state.id) }
            }
        }
        let offered = early.reduce(0) { $0 + ($1 == nil ? 0 : 1) }
        if offered > 0 { statistics.withLock { $0.recordEarly(offered: offered, used: earlyUsed) } }
        try readCases(wanted, into: &cache)
    }

    /// Reads `ids` from the table in one snapshot and decodes them on every
    /// core; each becomes known to the batch as stored, absent or damaged.
    ///
    /// Which version to read: the one the batches prepared so far left
    /// live, which is stored unless the batch that gave it (by cleaning:
    /// a case changed by a batch in flight is never read here) is not
    /// committed yet; then the committed one is, since only that batch
    /// deletes it. The versions are looked up before the snapshot starts,
    /// so it is at least as new as they are. A case found in neither
    /// (which those rules exclude) is looked up and read again, and in the
    /// end counts as damaged rather than absent: its row exists.
    private func readCases(_ ids: [CaseID], into cache: inout BatchCases) throws {
        guard !ids.isEmpty else { return }
        let rowids = knownCases.withLock { known in ids.map { known[CaseBucket.of($0)][$0]?.rowid } }
        // The ones not stored (no row id) are absent; the rest are read until found.
        var missing = ids.indices.filter { rowids[$0] != nil }
        var stored = [(state: [UInt8], digest: [UInt8])?](repeating: nil, count: ids.count)
        for _ in 0..<3 where !missing.isEmpty {
            let rows = missing.map { rowids[$0]! }
            let prepared = versionLog.withLock { log in rows.map { log.live[$0] } }
            let committed = committedVersions.versions(of: rows)
            let found = try caseReader.withLock { reader in
                try reader.read { db in
                    try rows.indices.map { index in
                        var candidates: [Int64] = []
                        if let version = prepared[index] { candidates.append(version) }
                        if let version = committed[index], version != prepared[index] { candidates.append(version) }
                        return try db.fetchCaseVersionBytes(caseRow: rows[index], versions: candidates)
                    }
                }
            }
            for (index, bytes) in zip(missing, found) { stored[index] = bytes }
            missing = missing.filter { stored[$0] == nil }
        }
        let read = stored
        let decoded = Parallel.map(read.count) { index in read[index].map { Self.decodeStored($0, as: ids[index]) } }
        for (index, id) in ids.enumerated() {
            guard let rowid = rowids[index] else {
                cache.rememberAbsent(id)
                continue
            }
            guard let found = stored[index], let state = decoded[index] else {
                cache.rememberDamaged(id, reason: "no stored version of it could be read")
                continue
            }
            switch state {
            case let .success(state): cache.remember(BatchCase(row: rowid, state: state, digest: StateDigest(bytes: found.digest), columns: nil))
            case let .failure(damage): cache.rememberDamaged(id, reason: damage.reason)
            }
        }
    }

    private func apply(_ job: WriteJob, state: inout WriterState, cache: inout BatchCases,
                       writes: inout [BatchWrite]) throws -> JobOutcome {
        switch job {
        case let .create(draft, actor):
            let id = try draft.id ?? CaseID(UUID().uuidString.lowercased())
            if let existing = try loadCase(id, cache: &cache) {
                // A retry must still be a valid request: bad input is refused
                // the same way whether or not the case exists.
                let retry = NewCase(id: id, number: existing.header.number, region: configuration.region, title: draft.title,
                                    customer: draft.customer, product: draft.product, severity: draft.severity, level: draft.level,
                                    fields: draft.fields)
                _ = try CaseState.create(retry, context: CommandContext(replica: configuration.replica, time: .zero, actor: actor))
                return .write(WriteOutcome(state: existing, delta: nil, position: nil, followUpPosition: nil, created: false))
            }
            let (number, sequence) = nextCaseNumber(state)
            let time = tick(&state, writes: &writes)
            let newCase = NewCase(id: id, number: number, region: configuration.region, title: draft.title, customer: draft.customer,
                                  product: draft.product, severity: draft.severity, level: draft.level, fields: draft.fields)
            let created = try CaseState.create(newCase, context: CommandContext(replica: configuration.replica, time: time, actor: actor))
            // The counter moves only once the case is known to be valid, so refusals leave no gaps.
            state.regionLast = sequence
            writes.append(.regionCounter(region: configuration.region.rawValue, last: sequence))
            let position = persist(created, delta: created, origin: configuration.replica, state: &state, cache: &cache, writes: &writes)
            return .write(WriteOutcome(state: created, delta: created, position: position, followUpPosition: nil, created: true))

        case let .command(id, command, actor):
            guard let existing = try loadCase(id, cache: &cache) else {
                throw StoreError.rejected(DomainError(code: .notFound, message: "no case with id \(id)", field: "id"))
            }
            let time = tick(&state, writes: &writes)
            var updated = existing
            let delta = try updated.execute(command, context: CommandContext(replica: configuration.replica, time: time, actor: actor))
            if delta.causal.context.isEmpty && delta.timeline.count == 0 {
                // Nothing changed (e.g. a field set to its current value): nothing to log or ship.
                return .write(WriteOutcome(state: existing, delta: nil, position: nil, followUpPosition: nil, created: false))
            }
            let position = persist(updated, delta: delta, origin: configuration.replica, state: &state, cache: &cache, writes: &writes)
            return .write(WriteOutcome(state: updated, delta: delta, position: position, followUpPosition: nil, created: false))

        case let .remote(origin, counter, delta):
            let applied = state.applied[origin] ?? 0
            if counter <= applied {
                let current = try loadCase(delta.id, cache: &cache) ?? delta
                return .write(WriteOutcome(state: current, delta: nil, position: nil, followUpPosition: nil, created: false))
            }
            guard counter == applied + 1 else {
                throw StoreError.outOfOrder(origin: origin.rawValue, expected: applied + 1, got: counter)
            }
            // Fold the remote clock into ours (rejecting excess skew) before anything is written.
            try receive(delta.updatedAt, state: &state, writes: &writes)
            let existing = try loadCase(delta.id, cache: &cache)
            var merged = existing ?? CaseState(header: delta.header)
            let followUp = merged.merge(delta)
            let position = persist(merged, delta: delta, origin: origin, state: &state, cache: &cache, writes: &writes)
            var followUpPosition: LogPosition?
            if let followUp {
                followUpPosition = appendLog(origin: configuration.replica, caseID: delta.id, delta: followUp, state: &state, writes: &writes)
            }
            return .write(WriteOutcome(state: merged, delta: delta, position: position, followUpPosition: followUpPosition, created: false))

        case let .catchUp(states, positions):
            // Everything is checked before anything is written: the clock
            // must accept the newest state (so no later local write can carry
            // an older time than one it overwrites), or nothing happens.
            if let latest = states.map({ $0.updatedAt }).max() { try receive(latest, state: &state, writes: &writes) }
            var followUpPosition: LogPosition?
            for incoming in states {
                let existing = try loadCase(incoming.id, cache: &cache)
                var merged = existing ?? CaseState(header: incoming.header)
                let followUp = merged.merge(incoming)
                if let existing, existing == merged { continue }
                cache.stage(merged)
                if let followUp {
                    followUpPosition = appendLog(origin: configuration.replica, caseID: incoming.id, delta: followUp, state: &state, writes: &writes)
                }
            }
            // The sender's states cover its positions: ours move up to them,
            // and the log of each origin that jumped restarts after its new position.
            for (origin, counter) in positions.sorted(by: { $0.key < $1.key })
            where origin != configuration.replica && counter > (state.applied[origin] ?? 0) {
                writes.append(.trimLog(origin: origin.rawValue, below: Int64(clamping: counter) &+ 1))
                state.applied[origin] = counter
                state.retainedFrom[origin] = counter + 1
            }
            return .caughtUp(followUp: followUpPosition)
        }
    }

    private func tick(_ state: inout WriterState, writes: inout [BatchWrite]) -> HLCTimestamp {
        let reading = state.clock.now()
        if let bound = reading.upperBoundToPersist { writes.append(.clockBound(Int64(clamping: bound))) }
        return reading.timestamp
    }

    /// Folds a remote write's time into our clock, refusing excess skew
    /// before anything is written.
    private func receive(_ remoteTime: HLCTimestamp, state: inout WriterState, writes: inout [BatchWrite]) throws {
        let reading: HLCReading
        do {
            reading = try state.clock.receive(remoteTime)
        } catch {
            statistics.withLock { $0.clockRejections += 1 }
            throw StoreError.clockSkew(error.description)
        }
        if let bound = reading.upperBoundToPersist { writes.append(.clockBound(Int64(clamping: bound))) }
    }

    /// The case as the batch sees it (its own changes included). Cases the
    /// jobs name are preloaded; anything else is read here. A case whose
    /// stored state does not decode fails the jobs that need it
    /// (`.corrupt`); the rest of the batch and the store go on.
    private func loadCase(_ id: CaseID, cache: inout BatchCases) throws -> CaseState? {
        if !cache.knows(id) {
            if let known = latest(id) { cache.remember(known) } else { try readCases([id], into: &cache) }
        }
        if let reason = cache.damaged[id] {
            throw StoreError.corrupt(path: configuration.databasePath, reason: "case \(id) does not decode: \(reason)")
        }
        return cache.current(id)
    }

    /// The next number of this node's region, e.g. `EMEA-000124`.
    private func nextCaseNumber(_ state: WriterState) -> (String, Int64) {
        let region = configuration.region.rawValue
        let value = state.regionLast + 1
        let digits = String(value)
        return ("\(region)-\(String(repeating: "0", count: max(0, 6 - digits.count)))\(digits)", value)
    }

    /// Stages the new case (written when the batch ends) and logs the delta.
    private func persist(_ new: CaseState, delta: CaseState, origin: ReplicaID, state: inout WriterState,
                         cache: inout BatchCases, writes: inout [BatchWrite]) -> LogPosition {
        cache.stage(new)
        return appendLog(origin: origin, caseID: new.id, delta: delta, state: &state, writes: &writes)
    }

    /// Writes every case the batch changed, once each. What each row needs
    /// from the states alone (the encoding, the digest, the list columns,
    /// the search text) is worked out for all of them at once on every core:
    /// it is most of a write's work.
    private func writeStaged(state: inout WriterState, cache: inout BatchCases, writes: inout [BatchWrite], search: inout [BatchWrite],
                             versions: inout [VersionChange]) {
        let now = Int64(clamping: wallClock.nowMillis())
        let changes = cache.order.compactMap { id in cache.staged[id].map { (new: $0, previous: cache.stored[id]) } }
        let prepared = Parallel.map(changes.count) { index in
            PreparedCase(new: changes[index].new, previous: changes[index].previous?.state, now: now)
        }
        versionLog.withLock { log in
            for (change, prepared) in zip(changes, prepared) {
                cache.written.append(writeCase(prepared, previous: change.previous, state: &state, log: &log, writes: &writes, search: &search,
                                               versions: &versions))
            }
            clean(&log, caseCount: state.caseCount, writes: &writes, versions: &versions)
        }
    }

    /// Cleans the oldest case versions down to twice as many as cases
    /// (and a few more, so a small store does not clean on every batch),
    /// once they pass that by the slack. Twice: relocations then cost about
    /// a quarter of an append per update under random updates, and the
    /// table stays within about twice the states' size.
    private func clean(_ log: inout VersionLog, caseCount: Int, writes: inout [BatchWrite], versions: inout [VersionChange]) {
        let limit = Self.versionLimit(caseCount: caseCount)
        guard let cleaning = log.clean(limit: limit, slack: Self.cleaningSlack(limit: limit)) else { return }
        for relocation in cleaning.relocations {
            writes.append(.relocateVersion(from: relocation.from, to: relocation.to))
            versions.append(VersionChange(caseRow: relocation.caseRow, version: relocation.to))
        }
        writes.append(.dropVersions(below: cleaning.dropBelow))
    }

    /// How many case versions cleaning leaves.
    static func versionLimit(caseCount: Int) -> Int { 2 * caseCount + 64 }

    /// How far the versions may pass `limit` before cleaning runs: a round
    /// then deletes hundreds of versions, not the dozen of one batch, and
    /// costs a batch's latency about as much as one more batch would.
    static func cleaningSlack(limit: Int) -> Int { min(cleaningChunk, limit / 8) }
    static let cleaningChunk = 256

    /// Writes the case row and the bucket digests; queues its
    /// search entries' changes (marking them due when there are any).
    private func writeCase(_ prepared: PreparedCase, previous: BatchCase?, state: inout WriterState, log: inout VersionLog,
                           writes: inout [BatchWrite], search: inout [BatchWrite], versions: inout [VersionChange]) -> BatchCase {
        let row = prepared.row
        let digest = prepared.digest
        let bucket = CaseBucket.of(prepared.new.id)
        let rowid: Int64
        if let previous {
            rowid = previous.row
        } else {
            state.lastRowID += 1
            rowid = state.lastRowID
            writes.append(.insertCase(row, rowid: rowid, bucket: bucket))
            state.caseCount += 1
        }
        let version = log.append(rowid)
        writes.append(.caseVersion(row, caseRow: rowid, version: version))
        versions.append(VersionChange(caseRow: rowid, version: version))
        let searchChanges = prepared.search.writes(rowid: rowid, isNewCase: previous == nil)
        if !searchChanges.isEmpty {
            writes.append(.searchPending(rowid: rowid))
            search.append(contentsOf: searchChanges)
        }
        if let previous { state.bucketDigests[bucket].toggle(previous.digest) }
        state.bucketDigests[bucket].toggle(digest)
        return BatchCase(row: rowid, state: prepared.new, digest: digest, columns: QueryIndex.Columns(row, rowid: rowid))
    }

    private func appendLog(origin: ReplicaID, caseID: CaseID, delta: CaseState, state: inout WriterState,
                           writes: inout [BatchWrite]) -> LogPosition {
        let counter = (state.applied[origin] ?? 0) + 1
        writes.append(.appendLog(origin: origin.rawValue, counter: Int64(counter), caseID: caseID.rawValue, delta: Data(delta.encodedBytes),
                                 committedAt: Int64(clamping: wallClock.nowMillis())))
        state.applied[origin] = counter
        if state.retainedFrom[origin] == nil { state.retainedFrom[origin] = 1 }
        return LogPosition(origin: origin, counter: counter)
    }

    /// What the batch changed in the node's bookkeeping, and the log trim.
    private func finishBatch(state: inout WriterState, start: WriterState, writes: inout [BatchWrite]) {
        for (origin, counter) in state.applied where counter != start.applied[origin] {
            let limit = UInt64(max(configuration.deltaLogRetention, 1))
            var from = state.retainedFrom[origin] ?? 1
            // Trim in chunks of 10% so the delete runs rarely.
            if counter >= from && counter - from + 1 > limit + limit / 10 {
                from = counter - limit + 1
                writes.append(.trimLog(origin: origin.rawValue, below: Int64(from)))
                state.retainedFrom[origin] = from
            }
            // The applied counter alone need not be written: the log's
            // newest entry gives it when the store opens (`loadWriterState`).
            // Where the log starts is written whenever it moves, with the
            // counter (a catch-up moves both and may leave no entry).
            if state.retainedFrom[origin] != start.retainedFrom[origin] {
                writes.append(.logPosition(origin: origin.rawValue, applied: Int64(counter), retainedFrom: Int64(from)))
            }
        }
        // The node's digest is not written either: it is the XOR of the
        // bucket digests, which the opening scan works out from the versions.
    }

    // MARK: - Writing a batch (the writer)

    /// Runs a prepared batch's statements in one transaction on the
    /// writer's queue (so batches are written in the order they were
    /// prepared), calls `written` as soon as the writer is done with it,
    /// then publishes what it changed on the publishing queue (in the same
    /// order; the writer meanwhile goes on with the next batch) and answers
    /// with `done`, which also gets when the writer started on the batch and
    /// when it had committed it. A storage failure fails the whole batch,
    /// nothing is acknowledged, and writes are refused from then on (later
    /// batches prepared on top of this one included).
    func write(_ batch: PreparedBatch, written: @escaping @Sendable () -> Void,
               done: @escaping @Sendable (_ results: [Result<JobOutcome, StoreError>], _ writing: ContinuousClock.Instant,
                                          _ committed: ContinuousClock.Instant) -> Void) {
        pool.asyncWriteWithoutTransaction { db in
            let writing = ContinuousClock.now
            let outcome = self.commit(batch, db: db)
            let committed = ContinuousClock.now
            written()
            self.publishing.async {
                switch outcome {
                case let .failure(refusals): done(refusals, writing, committed)
                case let .success(committing):
                    let (results, dropped) = self.publish(batch, written: committed - writing, committing: committing)
                    done(results, writing, committed)
                    // The cases the recent map let go are freed only now, after the answers.
                    withExtendedLifetime(dropped) {}
                }
            }
        }
    }

    /// What committing a batch came to: committed (with the time `COMMIT`
    /// took), or every caller's refusal.
    private enum CommitOutcome {
        case success(committing: Duration)
        case failure([Result<JobOutcome, StoreError>])
    }

    private func commit(_ batch: PreparedBatch, db: Database) -> CommitOutcome {
        if let failure = writer.withLock({ $0.failure }) {
            return .failure(batch.results.map { _ in .failure(.writeFailed(reason: failure)) })
        }
        var failure = batch.failure
        var committing = Duration.zero
        if failure == nil, !batch.writes.isEmpty {
            do {
                var statementsDone = ContinuousClock.now
                try db.inTransaction {
                    try db.run(batch.writes)
                    statementsDone = .now
                    return .commit
                }
                committing = .now - statementsDone
                committedVersions.apply(batch.versions)
                if searchIndexer.committed(batch.search) { scheduleSearchWrite() }
            } catch {
                failure = Self.classifyWrite(error)
            }
        }
        if let failure {
            logger.error("commit failed; writes refused until restart", metadata: ["node": "\(configuration.replica)", "reason": "\(failure)"])
            writer.withLock { $0.failure = failure }
            return .failure(batch.results.map { _ in .failure(.writeFailed(reason: failure)) })
        }
        return .success(committing: committing)
    }

    /// Makes a committed batch visible: the caches, the query index, the
    /// writer state (positions, digests) and the statistics. Returns the
    /// callers' answers, and the decoded cases the recent map let go (for
    /// the caller to free once it has answered).
    private func publish(_ batch: PreparedBatch, written: Duration,
                         committing: Duration) -> (results: [Result<JobOutcome, StoreError>], dropped: [BatchCase]) {
        knownCases.withLock { known in
            for case_ in batch.written {
                known[CaseBucket.of(case_.state.id)][case_.state.id] = KnownCase(rowid: case_.row, fingerprint: CaseFingerprint.prefix(case_.digest.bytes))
            }
        }
        let dropped = recent.withLock { recent -> [BatchCase] in
            var dropped: [BatchCase] = []
            dropped.reserveCapacity(2 * batch.written.count)  // at most its older copy and an evicted case per case
            for case_ in batch.written { recent.insert(case_, droppingInto: &dropped) }
            return dropped
        }
        // A later batch may have failed meanwhile: its failure stays.
        writer.withLock { state in
            let failure = state.failure
            state = batch.end
            state.failure = failure
        }
        checkpointer.committed()
        statistics.withLock { $0.record(jobs: batch.results.count, preparing: batch.preparing, writing: written, committing: committing) }
        queryIndex.withLock { index in
            for case_ in batch.written { index.upsert(case_.columns!) }
        }
        // Only now (recent cases and the table hold them) may later batches stop seeing these here.
        inflight.withLock { inflight in
            for case_ in batch.written where inflight[case_.state.id]?.sequence == batch.sequence {
                inflight[case_.state.id] = nil
            }
        }
        return (batch.results, dropped)
    }
}
