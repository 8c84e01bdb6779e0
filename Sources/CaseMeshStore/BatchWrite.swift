import CaseMeshCRDT
import Foundation
import GRDB

/// One statement of a prepared batch. A batch is worked out in full (cases
/// read, commands run, states encoded and digested) before the writer gets
/// it; the writer only runs these, in order, in one transaction. So the
/// next batch can be prepared while this one is written and synced.
enum BatchWrite: Sendable {
    /// A new case's identity, with the row id the batch gave it.
    case insertCase(CaseRow, rowid: Int64, bucket: Int)
    /// A case's new state, as the version the batch gave it.
    case caseVersion(CaseRow, caseRow: Int64, version: Int64)
    /// Cleaning: a live version appended again as `to`, before the range
    /// holding `from` is deleted.
    case relocateVersion(from: Int64, to: Int64)
    /// Cleaning: deletes every version below `below` (none of them live).
    case dropVersions(below: Int64)
    /// The case's full-text document (title, problem statement); `replacing` when it had one.
    case caseText(rowid: Int64, title: String, problem: String, replacing: Bool)
    /// One note's full-text entry, replacing any it had; `text` nil drops it.
    case noteText(caseRow: Int64, note: String, text: String?)
    /// Marks the case's search entries as due (written by `SearchIndexer`).
    case searchPending(rowid: Int64)
    case appendLog(origin: String, counter: Int64, caseID: String, delta: Data, committedAt: Int64)
    /// Drops `origin`'s log entries below `counter`.
    case trimLog(origin: String, below: Int64)
    case logPosition(origin: String, applied: Int64, retainedFrom: Int64)
    case regionCounter(region: String, last: Int64)
    case clockBound(Int64)
}

extension Database {
    /// Runs a prepared batch's statements, in order.
    func run(_ writes: [BatchWrite]) throws {
        for write in writes {
            switch write {
            case let .insertCase(row, rowid, bucket):
                try runRaw("INSERT INTO cases(rowid, id, number, created_at, bucket) VALUES (?, ?, ?, ?, ?)") { binder in
                    binder.bind(1, rowid); binder.bind(2, row.id); binder.bind(3, row.number); binder.bind(4, row.created_at)
                    binder.bind(5, Int64(bucket))
                }
            case let .caseVersion(row, caseRow, version):
                try runRaw("""
                    INSERT INTO case_versions(rowid, case_row, digest, title, status, severity, owning_region, owner, sla_due_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """) { binder in
                    binder.bind(1, version); binder.bind(2, caseRow); binder.bind(3, row.digest)
                    binder.bind(4, row.title); binder.bind(5, row.status); binder.bind(6, row.severity); binder.bind(7, row.owning_region)
                    binder.bind(8, row.owner); binder.bind(9, row.sla_due_at); binder.bind(10, row.updated_at)
                }
                try runRaw("INSERT INTO case_states(version, case_row, state, digest) VALUES (?, ?, ?, ?)") { binder in
                    binder.bind(1, version); binder.bind(2, caseRow); binder.bind(3, row.state); binder.bind(4, row.digest)
                }
            case let .relocateVersion(from, to):
                try runRaw("""
                    INSERT INTO case_versions(rowid, case_row, digest, title, status, severity, owning_region, owner, sla_due_at, updated_at)
                    SELECT ?, case_row, digest, title, status, severity, owning_region, owner, sla_due_at, updated_at
                    FROM case_versions WHERE rowid = ?
                    """) { binder in
                    binder.bind(1, to); binder.bind(2, from)
                }
                // A live version that is not there: cleaning would lose the case.
                guard changesCount == 1 else {
                    throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "case version \(from) is missing; it should hold a case's state")
                }
                try runRaw("INSERT INTO case_states(version, case_row, state, digest) SELECT ?, case_row, state, digest FROM case_states WHERE version = ?") { binder in
                    binder.bind(1, to); binder.bind(2, from)
                }
                guard changesCount == 1 else {
                    throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "the state of case version \(from) is missing")
                }
            case let .dropVersions(below):
                try run("DELETE FROM case_versions WHERE rowid < ?", [below])
                try run("DELETE FROM case_states WHERE version < ?", [below])
            case let .caseText(rowid, title, problem, replacing):
                if replacing { try run("DELETE FROM case_text WHERE rowid = ?", [rowid]) }
                try run("INSERT INTO case_text(rowid, title, problem) VALUES (?, ?, ?)", [rowid, title, problem])
            case let .noteText(caseRow, note, text):
                // Written whether or not the note was indexed before, so an
                // index that disagrees with the cases heals instead of
                // failing the batch.
                try run("DELETE FROM note_text WHERE rowid = (SELECT rowid FROM case_notes WHERE case_row = ? AND note_id = ?)", [caseRow, note])
                if let text {
                    try run("INSERT INTO case_notes(case_row, note_id) VALUES (?, ?) ON CONFLICT(case_row, note_id) DO NOTHING", [caseRow, note])
                    try run("INSERT INTO note_text(rowid, text) SELECT rowid, ? FROM case_notes WHERE case_row = ? AND note_id = ?", [text, caseRow, note])
                } else {
                    try run("DELETE FROM case_notes WHERE case_row = ? AND note_id = ?", [caseRow, note])
                }
            case let .searchPending(rowid):
                try run("INSERT INTO search_pending(case_row) VALUES (?) ON CONFLICT(case_row) DO NOTHING", [rowid])
            case let .appendLog(origin, counter, caseID, delta, committedAt):
                try runRaw("INSERT INTO delta_log(origin, counter, case_id, delta, committed_at) VALUES (?, ?, ?, ?, ?)") { binder in
                    binder.bind(1, origin); binder.bind(2, counter); binder.bind(3, caseID); binder.bind(4, delta); binder.bind(5, committedAt)
                }
            case let .trimLog(origin, below):
                try run("DELETE FROM delta_log WHERE origin = ? AND counter < ?", [origin, below])
            case let .logPosition(origin, applied, retainedFrom):
                try run("""
                    INSERT INTO log_positions(origin, applied, retained_from) VALUES (?, ?, ?)
                    ON CONFLICT(origin) DO UPDATE SET applied = excluded.applied, retained_from = excluded.retained_from
                    """, [origin, applied, retainedFrom])
            case let .regionCounter(region, last):
                try run("INSERT INTO region_counters(region, last) VALUES (?, ?) ON CONFLICT(region) DO UPDATE SET last = excluded.last",
                        [region, last])
            case let .clockBound(bound):
                try run("INSERT INTO node_meta(key, value) VALUES ('hlc_upper_bound', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        [bound])
            }
        }
    }
}
