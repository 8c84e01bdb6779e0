import CaseMeshDomain
import Foundation
import GRDB
import Logging
import Synchronization

/// Brings the full-text index up to date after commits instead of inside
/// them, many writes' changes in one transaction.
///
/// Why: FTS5 pays per transaction, not per note. Every transaction that
/// writes to it adds an index segment, rewrites the segment structure and
/// the column totals, and feeds the segment merges: about 36 KB of log per
/// transaction holding one note, against 0.4 KB per note when a thousand
/// share one (measured with SQLite 3.40). Under a steady stream most commits
/// carry one write, so search was most of what a write put on disk.
///
/// What keeps it exact: a batch's commit also marks each case whose
/// searched text it changed (`search_pending`); the index changes are
/// queued in commit order and written, with the marks removed, in one
/// transaction on the writer connection. A search first writes whatever is
/// queued, so it sees every acknowledged write. Marks left by a crash (or
/// by a failed index transaction) are worked off from the stored cases.
final class SearchIndexer: Sendable {
    private struct State {
        /// Index changes of committed batches, in commit order.
        var queued: [BatchWrite] = []
        /// A write of the queue is scheduled.
        var scheduled = false
        /// The queue does not cover every mark: rebuild the marked cases' entries from their stored states.
        var recover = false
        /// A write has taken the queue and not finished: what it writes is
        /// not visible to readers yet.
        var writing = false
        var closed = false
    }

    private let state = Mutex(State())
    private let logger: Logger
    /// Shortest wait after a commit before its index changes are written.
    let delayMillis: Int

    init(delayMillis: Int, recover: Bool, logger: Logger) {
        self.delayMillis = max(delayMillis, 0)
        self.logger = logger
        state.withLock { $0.recover = recover }
    }

    /// A batch committed with these index changes (on the writer, right
    /// after the commit). True when the caller must schedule a `write`.
    func committed(_ changes: [BatchWrite]) -> Bool {
        guard !changes.isEmpty else { return false }
        return state.withLock { state in
            state.queued.append(contentsOf: changes)
            guard !state.scheduled, !state.closed else { return false }
            state.scheduled = true
            return true
        }
    }

    /// Whether anything waits to be written or is being written (a search
    /// then waits for the writer, behind the write in progress).
    var hasWork: Bool { state.withLock { !$0.queued.isEmpty || $0.recover || $0.writing } }

    /// Stops scheduled writes from running (the store is closing).
    func close() {
        state.withLock { $0.closed = true }
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    /// Writes the queued changes (or rebuilds the marked cases' entries)
    /// and drops the marks, in one transaction. Must run on the writer
    /// connection, so no commit falls between taking the queue and
    /// dropping the marks. On failure the marks stay and the next write
    /// rebuilds from them. `liveVersion` gives a case row's committed
    /// state's version (exact on the writer connection).
    func write(_ db: Database, liveVersion: (Int64) -> Int64?) throws {
        let (changes, recover) = state.withLock { state in
            defer {
                state.queued = []
                state.recover = false
                state.scheduled = false
                state.writing = true
            }
            return (state.queued, state.recover)
        }
        defer { state.withLock { $0.writing = false } }
        guard !changes.isEmpty || recover else { return }
        do {
            try db.inTransaction {
                if recover {
                    try Self.rebuildMarked(db, liveVersion: liveVersion, logger: logger)
                } else {
                    try db.run(changes)
                }
                try db.execute(sql: "DELETE FROM search_pending")
                return .commit
            }
        } catch {
            state.withLock { $0.recover = true }
            throw error
        }
    }

    /// Rewrites the search entries of every marked case from its stored
    /// state: its document, each of its notes, and no note it no longer has.
    static func rebuildMarked(_ db: Database, liveVersion: (Int64) -> Int64?, logger: Logger) throws {
        let rows = try Int64.fetchAll(db, sql: "SELECT case_row FROM search_pending ORDER BY case_row")
        for row in rows {
            guard let version = liveVersion(row),
                  let stored = try Row.fetchOne(db, sql: "SELECT c.id, s.state FROM case_states s JOIN cases c ON c.rowid = s.case_row WHERE s.version = ? AND s.case_row = ?",
                                                arguments: [version, row]) else { continue }
            let state: CaseState
            do {
                state = try stored.withUnsafeData(atIndex: 1) { data in try CaseState(decoding: [UInt8](data ?? Data())) }
            } catch {
                // Its writes fail on their own (`.corrupt`); its old entries stay.
                logger.warning("a marked case does not decode; its search entries are left as they were",
                               metadata: ["case": "\(stored["id"] as String? ?? "?")", "reason": "\(error)"])
                continue
            }
            let text = SearchText(new: state, previous: nil)
            var writes = text.writes(rowid: row, isNewCase: false)
            let current = Set(text.notes.map { $0.id.rawValue })
            for indexed in try String.fetchAll(db, sql: "SELECT note_id FROM case_notes WHERE case_row = ?", arguments: [row])
            where !current.contains(indexed) {
                writes.append(.noteText(caseRow: row, note: indexed, text: nil))
            }
            try db.run(writes)
        }
        if !rows.isEmpty { logger.info("search entries rebuilt for cases left unindexed", metadata: ["cases": "\(rows.count)"]) }
    }
}

extension NodeStore {
    /// Writes the queued full-text changes `searchIndexer.delayMillis` from
    /// now, behind the batches then waiting for the writer.
    func scheduleSearchWrite() {
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(searchIndexer.delayMillis)) {
            self.pool.asyncWriteWithoutTransaction { db in
                guard !self.searchIndexer.isClosed else { return }
                try? self.writeSearch(db)
            }
        }
    }

    /// Writes the queued full-text changes now, waiting for the writer: a
    /// search must see every acknowledged write. When they cannot be
    /// written (writes are refused, the disk fails), a search would miss
    /// writes that were acknowledged, so it is refused instead, saying why;
    /// other reads go on.
    func writeSearchNow() throws(StoreError) {
        guard searchIndexer.hasWork, !searchIndexer.isClosed else { return }
        if let failure = writer.withLock({ $0.failure }) {
            throw .searchUnavailable(reason: "the search index lacks changes committed just before writes were refused (\(failure)); "
                + "restart the node on a working disk")
        }
        do {
            try pool.writeWithoutTransaction { db in try writeSearch(db) }
        } catch {
            throw .searchUnavailable(reason: "the search index could not be brought up to date (\(Self.classifyWrite(error)))")
        }
    }

    /// `writeSearchNow` where nobody waits for an answer (opening, closing).
    func writeSearchIfPossible() {
        do {
            try writeSearchNow()
        } catch {
            logger.warning("the search index is not up to date", metadata: ["node": "\(configuration.replica)", "reason": "\(error)"])
        }
    }

    private func writeSearch(_ db: Database) throws {
        do {
            try searchIndexer.write(db, liveVersion: committedVersions.version(of:))
        } catch {
            logger.warning("updating the search index failed; it is rebuilt from the marked cases next time",
                           metadata: ["node": "\(configuration.replica)", "reason": "\(Self.describe(error))"])
            throw error
        }
    }
}
