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
        staged[id] != nil || stored[id] != nil
    }

    mutating func remember(_ loaded: BatchCase) {
        stored[loaded.state.id] = loaded
    }

    mutating func stage(_ state: CaseState) {
        if staged.updateValue(state, forKey: state.id) == nil { order.append(state.id) }
    }
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
        let digestBytes = try Data.fetchOne(db, sql: "SELECT value FROM node_meta WHERE key = 'digest'")
        let digest: StateDigest
        if let digestBytes {
            guard digestBytes.count == 32 else { throw StoreError.corrupt(path: configuration.databasePath, reason: "stored digest has \(digestBytes.count) bytes") }
            digest = StateDigest(bytes: [UInt8](digestBytes))
        } else {
            digest = .zero
        }
        let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM cases") ?? 0
        var applied: [ReplicaID: UInt64] = [:]
        var retained: [ReplicaID: UInt64] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT origin, applied, retained_from FROM log_positions") {
            let origin = ReplicaID(row["origin"] as String)
            applied[origin] = UInt64(row["applied"] as Int64)
            retained[origin] = UInt64(row["retained_from"] as Int64)
        }
        let clock = HybridLogicalClock(wallClock: wallClock, maxOffsetMillis: configuration.maxClockOffsetMillis,
                                       restoredUpperBound: UInt64(max(bound, 0)))
        return WriterState(clock: clock, digest: digest, caseCount: count, applied: applied, retainedFrom: retained, failure: nil)
    }

    /// Commits a batch in one transaction. Jobs the domain refuses fail
    /// alone; a storage failure fails the whole batch and nothing is
    /// acknowledged.
    func commit(_ jobs: [WriteJob]) async -> [Result<JobOutcome, StoreError>] {
        let start = writer.withLock { $0 }
        let clock = ContinuousClock()
        let began = clock.now
        do {
            let (results, end, changed, work) = try await pool.write { db in
                let workBegan = clock.now
                var state = start
                var cache = BatchCases()
                var results: [Result<JobOutcome, StoreError>] = []
                results.reserveCapacity(jobs.count)
                for job in jobs {
                    do {
                        results.append(.success(try self.apply(job, db: db, state: &state, cache: &cache)))
                    } catch let error as StoreError {
                        results.append(.failure(error))
                    } catch let error as DomainError {
                        results.append(.failure(.rejected(error)))
                    }
                }
                try self.writeStaged(db: db, state: &state, cache: &cache)
                try self.finishBatch(db: db, state: &state, start: start)
                return (results, state, cache.written, clock.now - workBegan)
            }
            let total = clock.now - began
            fingerprints.withLock { fingerprints in
                for written in changed { fingerprints[CaseBucket.of(written.state.id)][written.state.id] = CaseFingerprint.prefix(written.digest.bytes) }
            }
            recent.withLock { recent in
                for written in changed { recent.insert(written) }
            }
            writer.withLock { $0 = end }
            checkpointer.committed()
            statistics.withLock { $0.record(jobs: jobs.count, work: work, total: total) }
            queryIndex.withLock { index in
                for written in changed { index.upsert(written.columns!) }
            }
            return results
        } catch {
            let reason = Self.classifyWrite(error)
            logger.error("commit failed; writes refused until restart", metadata: ["node": "\(configuration.replica)", "reason": "\(reason)"])
            writer.withLock { $0.failure = reason }
            return jobs.map { _ in .failure(.writeFailed(reason: reason)) }
        }
    }

    private func apply(_ job: WriteJob, db: Database, state: inout WriterState,
                       cache: inout BatchCases) throws -> JobOutcome {
        switch job {
        case let .create(draft, actor):
            let id = try draft.id ?? CaseID(UUID().uuidString.lowercased())
            if let existing = try loadCase(id, db: db, cache: &cache) {
                // A retry must still be a valid request: bad input is refused
                // the same way whether or not the case exists.
                let retry = NewCase(id: id, number: existing.header.number, region: configuration.region, title: draft.title,
                                    customer: draft.customer, product: draft.product, severity: draft.severity, level: draft.level,
                                    fields: draft.fields)
                _ = try CaseState.create(retry, context: CommandContext(replica: configuration.replica, time: .zero, actor: actor))
                return .write(WriteOutcome(state: existing, delta: nil, position: nil, followUpPosition: nil, created: false))
            }
            let (number, sequence) = try nextCaseNumber(db: db)
            let time = try tick(&state, db: db)
            let newCase = NewCase(id: id, number: number, region: configuration.region, title: draft.title, customer: draft.customer,
                                  product: draft.product, severity: draft.severity, level: draft.level, fields: draft.fields)
            let created = try CaseState.create(newCase, context: CommandContext(replica: configuration.replica, time: time, actor: actor))
            try db.run("INSERT INTO region_counters(region, last) VALUES (?, ?) ON CONFLICT(region) DO UPDATE SET last = excluded.last", [configuration.region.rawValue, sequence])
            let position = try persist(created, delta: created, origin: configuration.replica, db: db, state: &state, cache: &cache)
            return .write(WriteOutcome(state: created, delta: created, position: position, followUpPosition: nil, created: true))

        case let .command(id, command, actor):
            guard let existing = try loadCase(id, db: db, cache: &cache) else {
                throw StoreError.rejected(DomainError(code: .notFound, message: "no case with id \(id)", field: "id"))
            }
            let time = try tick(&state, db: db)
            var updated = existing
            let delta = try updated.execute(command, context: CommandContext(replica: configuration.replica, time: time, actor: actor))
            if delta.causal.context.isEmpty && delta.timeline.count == 0 {
                // Nothing changed (e.g. a field set to its current value): nothing to log or ship.
                return .write(WriteOutcome(state: existing, delta: nil, position: nil, followUpPosition: nil, created: false))
            }
            let position = try persist(updated, delta: delta, origin: configuration.replica, db: db, state: &state, cache: &cache)
            return .write(WriteOutcome(state: updated, delta: delta, position: position, followUpPosition: nil, created: false))

        case let .remote(origin, counter, delta):
            let applied = state.applied[origin] ?? 0
            if counter <= applied {
                let current = try loadCase(delta.id, db: db, cache: &cache) ?? delta
                return .write(WriteOutcome(state: current, delta: nil, position: nil, followUpPosition: nil, created: false))
            }
            guard counter == applied + 1 else {
                throw StoreError.outOfOrder(origin: origin.rawValue, expected: applied + 1, got: counter)
            }
            // Fold the remote clock into ours (rejecting excess skew) before anything is written.
            try receive(delta.updatedAt, state: &state, db: db)
            let existing = try loadCase(delta.id, db: db, cache: &cache)
            var merged = existing ?? CaseState(header: delta.header)
            let followUp = merged.merge(delta)
            let position = try persist(merged, delta: delta, origin: origin, db: db, state: &state, cache: &cache)
            var followUpPosition: LogPosition?
            if let followUp {
                followUpPosition = try appendLog(origin: configuration.replica, caseID: delta.id, delta: followUp, db: db, state: &state)
            }
            return .write(WriteOutcome(state: merged, delta: delta, position: position, followUpPosition: followUpPosition, created: false))

        case let .catchUp(states, positions):
            // Everything is checked before anything is written: the clock
            // must accept the newest state (so no later local write can carry
            // an older time than one it overwrites), or nothing happens.
            if let latest = states.map(\.updatedAt).max() { try receive(latest, state: &state, db: db) }
            var followUpPosition: LogPosition?
            for incoming in states {
                let existing = try loadCase(incoming.id, db: db, cache: &cache)
                var merged = existing ?? CaseState(header: incoming.header)
                let followUp = merged.merge(incoming)
                if let existing, existing == merged { continue }
                cache.stage(merged)
                if let followUp {
                    followUpPosition = try appendLog(origin: configuration.replica, caseID: incoming.id, delta: followUp, db: db, state: &state)
                }
            }
            // The sender's states cover its positions: ours move up to them,
            // and the log of each origin that jumped restarts after its new position.
            for (origin, counter) in positions.sorted(by: { $0.key < $1.key })
            where origin != configuration.replica && counter > (state.applied[origin] ?? 0) {
                try db.run("DELETE FROM delta_log WHERE origin = ? AND counter <= ?", [origin.rawValue, Int64(clamping: counter)])
                state.applied[origin] = counter
                state.retainedFrom[origin] = counter + 1
            }
            return .caughtUp(followUp: followUpPosition)
        }
    }

    private func tick(_ state: inout WriterState, db: Database) throws -> HLCTimestamp {
        let reading = state.clock.now()
        if let bound = reading.upperBoundToPersist { try persistClockBound(bound, db: db) }
        return reading.timestamp
    }

    /// Folds a remote write's time into our clock, refusing excess skew
    /// before anything is written.
    private func receive(_ remoteTime: HLCTimestamp, state: inout WriterState, db: Database) throws {
        let reading: HLCReading
        do {
            reading = try state.clock.receive(remoteTime)
        } catch {
            statistics.withLock { $0.clockRejections += 1 }
            throw StoreError.clockSkew(error.description)
        }
        if let bound = reading.upperBoundToPersist { try persistClockBound(bound, db: db) }
    }

    private func persistClockBound(_ bound: UInt64, db: Database) throws {
        try db.run("INSERT INTO node_meta(key, value) VALUES ('hlc_upper_bound', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [Int64(clamping: bound)])
    }

    /// The case as the batch sees it (its own changes included).
    private func loadCase(_ id: CaseID, db: Database, cache: inout BatchCases) throws -> CaseState? {
        if cache.knows(id) { return cache.current(id) }
        if let recent = recent.withLock({ $0[id] }) {
            cache.remember(recent)
            return recent.state
        }
        guard let stored = try db.fetchStoredCase(id) else { return nil }
        cache.remember(BatchCase(row: stored.rowid, state: stored.state, digest: stored.digest, columns: nil))
        return stored.state
    }

    /// The next number of this node's region, e.g. `EMEA-000124`; the counter
    /// is only written once the case is known to be valid, so refusals leave no gaps.
    private func nextCaseNumber(db: Database) throws -> (String, Int64) {
        let region = configuration.region.rawValue
        let value = (try db.fetchInt64("SELECT last FROM region_counters WHERE region = ?", [region]) ?? 0) + 1
        let digits = String(value)
        return ("\(region)-\(String(repeating: "0", count: max(0, 6 - digits.count)))\(digits)", value)
    }

    /// Stages the new case (written when the batch ends) and logs the delta.
    private func persist(_ new: CaseState, delta: CaseState, origin: ReplicaID, db: Database, state: inout WriterState,
                         cache: inout BatchCases) throws -> LogPosition {
        cache.stage(new)
        return try appendLog(origin: origin, caseID: new.id, delta: delta, db: db, state: &state)
    }

    /// Writes every case the batch changed, once each. What each row needs
    /// from the states alone (the encoding, the digest, the list columns,
    /// the search text) is worked out for all of them at once on every core
    /// first: it is most of a write's work, and the writer is the one thread
    /// every write waits for.
    private func writeStaged(db: Database, state: inout WriterState, cache: inout BatchCases) throws {
        let now = Int64(clamping: wallClock.nowMillis())
        let changes = cache.order.compactMap { id in cache.staged[id].map { (new: $0, previous: cache.stored[id]) } }
        let prepared = Parallel.map(changes.count) { index in
            PreparedCase(new: changes[index].new, previous: changes[index].previous?.state, now: now)
        }
        for (change, prepared) in zip(changes, prepared) {
            cache.written.append(try writeCase(prepared, previous: change.previous, db: db, state: &state))
        }
    }

    /// Writes the case row, its search entry and the node and bucket digests.
    private func writeCase(_ prepared: PreparedCase, previous: BatchCase?, db: Database,
                           state: inout WriterState) throws -> BatchCase {
        let row = prepared.row
        let digest = prepared.digest
        let bucket = CaseBucket.of(prepared.new.id)
        let rowid: Int64
        if let previous {
            // id, number and creation time never change; leaving them out
            // keeps the unique id index untouched.
            try db.run("""
                UPDATE cases SET state = ?, digest = ?, title = ?, status = ?, severity = ?, owning_region = ?,
                    owner = ?, sla_due_at = ?, updated_at = ? WHERE rowid = ?
                """, [row.state, row.digest, row.title, row.status, row.severity,
                       row.owning_region, row.owner, row.sla_due_at, row.updated_at, previous.row])
            rowid = previous.row
        } else {
            let columns: StatementArguments = [row.id, row.number, row.state, row.digest, row.title, row.status, row.severity,
                                               row.owning_region, row.owner, row.sla_due_at, row.updated_at, row.created_at]
            try db.run("""
                INSERT INTO cases(id, number, state, digest, title, status, severity, owning_region, owner, sla_due_at, updated_at, created_at, bucket)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, columns + [bucket])
            rowid = db.lastInsertedRowID
            state.caseCount += 1
        }
        if let text = prepared.changedText {
            if previous != nil { try db.run("DELETE FROM case_search WHERE rowid = ?", [rowid]) }
            try db.run("INSERT INTO case_search(rowid, title, problem, notes) VALUES (?, ?, ?, ?)",
                       [rowid, text.title, text.problem, text.notes])
        }
        if let previous {
            state.digest.toggle(previous.digest)
            state.bucketDigests[bucket].toggle(previous.digest)
        }
        state.digest.toggle(digest)
        state.bucketDigests[bucket].toggle(digest)
        return BatchCase(row: rowid, state: prepared.new, digest: digest, columns: QueryIndex.Columns(row, rowid: rowid))
    }

    private func appendLog(origin: ReplicaID, caseID: CaseID, delta: CaseState, db: Database, state: inout WriterState) throws -> LogPosition {
        let counter = (state.applied[origin] ?? 0) + 1
        try db.run("INSERT INTO delta_log(origin, counter, case_id, delta, committed_at) VALUES (?, ?, ?, ?, ?)", [origin.rawValue, Int64(counter), caseID.rawValue, Data(delta.encodedBytes), Int64(clamping: wallClock.nowMillis())])
        state.applied[origin] = counter
        if state.retainedFrom[origin] == nil { state.retainedFrom[origin] = 1 }
        return LogPosition(origin: origin, counter: counter)
    }

    /// Writes what the batch changed in the node's bookkeeping and trims the log.
    func finishBatch(db: Database, state: inout WriterState, start: WriterState) throws {
        for (origin, counter) in state.applied where counter != start.applied[origin] {
            let limit = UInt64(max(configuration.deltaLogRetention, 1))
            var from = state.retainedFrom[origin] ?? 1
            // Trim in chunks of 10% so the delete runs rarely.
            if counter >= from && counter - from + 1 > limit + limit / 10 {
                from = counter - limit + 1
                try db.run("DELETE FROM delta_log WHERE origin = ? AND counter < ?", [origin.rawValue, Int64(from)])
                state.retainedFrom[origin] = from
            }
            try db.run("""
                INSERT INTO log_positions(origin, applied, retained_from) VALUES (?, ?, ?)
                ON CONFLICT(origin) DO UPDATE SET applied = excluded.applied, retained_from = excluded.retained_from
                """, [origin.rawValue, Int64(counter), Int64(from)])
        }
        if state.digest != start.digest {
            try db.run("INSERT INTO node_meta(key, value) VALUES ('digest', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [Data(state.digest.bytes)])
        }
    }
}
