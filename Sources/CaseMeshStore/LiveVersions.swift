import Synchronization

/// Each case's live version: the `case_versions` row holding its state now.
///
/// Why versions at all: a case's state used to be rewritten in place, so
/// every update dirtied a random page of a table of a million cases, and
/// each such page cost a log frame, a checkpoint copy and a random write
/// that the log's syncs queued behind. An update now appends a version
/// (row ids only grow, so a batch fills a few new pages at the table's
/// end) and the versions no case points to any more are cleaned from the
/// oldest end (see `VersionLog`). No SQL index says which version is live:
/// an index on the case would be a random page per update again. The map
/// is rebuilt when the store opens (the newest version of each case).
struct LiveVersions: Sendable {
    /// By case row id; `0` for none (row ids start at 1).
    private var byRow: [Int64] = []

    init() {}

    /// The live version of the case stored as `caseRow`.
    subscript(caseRow: Int64) -> Int64? {
        guard caseRow >= 0, caseRow < byRow.count else { return nil }
        let version = byRow[Int(caseRow)]
        return version == 0 ? nil : version
    }

    mutating func set(_ caseRow: Int64, _ version: Int64) {
        precondition(caseRow > 0 && version > 0, "case rows and versions start at 1")
        let index = Int(caseRow)
        if index >= byRow.count {
            // Grows geometrically: cases are added one at a time.
            byRow.append(contentsOf: repeatElement(0, count: max(index + 1 - byRow.count, byRow.count / 2, 1024)))
        }
        byRow[index] = version
    }
}

/// The live versions of committed cases, shared by everything that reads
/// states. Changed on the writer's queue right after each commit, so what
/// runs there (the search indexer) sees exactly what is committed; a
/// reader on another thread may look a version up just before a commit
/// cleans it away, finds no such row in its snapshot, and looks again
/// (see `NodeStore.readLive`).
final class CommittedVersions: Sendable {
    private let live: Mutex<LiveVersions>

    init(_ live: LiveVersions = LiveVersions()) { self.live = Mutex(live) }

    func version(of caseRow: Int64) -> Int64? { live.withLock { $0[caseRow] } }

    func versions(of caseRows: [Int64]) -> [Int64?] { live.withLock { live in caseRows.map { live[$0] } } }

    /// A committed batch's new live versions, in the order it gave them.
    func apply(_ changes: [VersionChange]) {
        guard !changes.isEmpty else { return }
        live.withLock { live in for change in changes { live.set(change.caseRow, change.version) } }
    }
}

/// A case's new live version, given by a batch.
struct VersionChange: Sendable, Equatable {
    var caseRow: Int64
    var version: Int64
}
