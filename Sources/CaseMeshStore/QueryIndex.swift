/// The list-query columns of every case, held in memory in newest-updated
/// order, so that filtered lists need no SQL index.
///
/// Why not SQL indexes: every list is ordered by last update, so every such
/// index ends in `updated_at` and every single-field update would rewrite
/// each of them — one random B-tree page per index per write, which
/// dominated the durable write path. Here an update moves one 40-byte entry.
/// The index is derived data: it is rebuilt from the `cases` table when the
/// store opens and changed only after the transaction that changed the rows
/// has committed.
struct QueryIndex: Sendable {
    /// One case, as lists filter and order it. Strings are interned as codes
    /// so entries are plain values (no reference counting, cheap to move).
    struct Entry: Sendable, Equatable {
        var updatedAt: Int64
        var rowid: Int64
        var slaDueAt: Int64
        var status: UInt32
        var severity: UInt32
        var region: UInt32
        /// `0` when the case has no owner.
        var owner: UInt32

        /// List order: newest update first, ties by newest row first.
        static func precedesInStorage(_ a: Entry, _ b: Entry) -> Bool {
            a.updatedAt != b.updatedAt ? a.updatedAt < b.updatedAt : a.rowid < b.rowid
        }

        static let noDeadline = Int64.max
    }

    /// The column values of a row, before interning.
    struct Columns: Sendable {
        var rowid: Int64
        var status: String
        var severity: String
        var region: String
        var owner: String?
        var slaDueAt: Int64?
        var updatedAt: Int64
    }

    /// A position to continue a list after: the last entry of the previous page.
    struct Position: Sendable, Equatable {
        var updatedAt: Int64
        var rowid: Int64
    }

    /// Filters as codes; nil means "any".
    struct Filter: Sendable {
        var status: UInt32?
        var severity: UInt32?
        var region: UInt32?
        var owner: UInt32?
        var slaDueBefore: Int64?

        func matches(_ entry: Entry) -> Bool {
            if let status, entry.status != status { return false }
            if let severity, entry.severity != severity { return false }
            if let region, entry.region != region { return false }
            if let owner, entry.owner != owner { return false }
            if let slaDueBefore, !(entry.slaDueAt < slaDueBefore) { return false }
            return true
        }
    }

    /// Sorted runs of entries (ascending storage order, each run after the
    /// previous one), so inserting or removing moves at most one run.
    private var runs: [[Entry]] = []
    /// Where each case's entry sits: its update time (with the rowid, its sort key).
    private var updatedAtByRow: [Int64: Int64] = [:]
    /// The column values entries use now, as codes (see `Codes`).
    private var codes = Codes()
    private(set) var count = 0

    /// Most entries a run holds: a fuller one splits in two.
    let runCapacity: Int
    static let defaultRunCapacity = 1024

    init(runCapacity: Int = Self.defaultRunCapacity) {
        self.runCapacity = max(runCapacity, 2)
    }

    /// Builds the index of `rows` in one sort.
    init(_ rows: some Sequence<Columns>, runCapacity: Int = Self.defaultRunCapacity) {
        self.runCapacity = max(runCapacity, 2)
        var entries: [Entry] = []
        for row in rows where updatedAtByRow.updateValue(row.updatedAt, forKey: row.rowid) == nil {
            entries.append(makeEntry(row))
        }
        entries.sort(by: Entry.precedesInStorage)
        count = entries.count
        var start = 0
        // Runs start half full, leaving room for inserts.
        let fill = runCapacity / 2
        while start < entries.count {
            let end = min(start + fill, entries.count)
            runs.append(Array(entries[start..<end]))
            start = end
        }
    }

    /// The code of a column value, if an entry holds it now.
    func code(_ value: String) -> UInt32? { codes.code(value) }

    /// How many distinct column values the entries hold now.
    var distinctValues: Int { codes.count }

    /// Inserts or moves the entry of `columns.rowid`.
    mutating func upsert(_ columns: Columns) {
        if let previous = updatedAtByRow.updateValue(columns.updatedAt, forKey: columns.rowid),
           let removed = remove(Position(updatedAt: previous, rowid: columns.rowid)) {
            // Most updates leave these columns as they were: a value the old
            // entry holds too keeps its code and its count, with no lookup.
            insert(Entry(updatedAt: columns.updatedAt, rowid: columns.rowid, slaDueAt: columns.slaDueAt ?? Entry.noDeadline,
                         status: codes.replace(removed.status, with: columns.status),
                         severity: codes.replace(removed.severity, with: columns.severity),
                         region: codes.replace(removed.region, with: columns.region),
                         owner: codes.replace(removed.owner, with: columns.owner)))
        } else {
            insert(makeEntry(columns))
        }
    }

    /// Of the cases `rowids` (any order; repeats and unknown ones are
    /// ignored), up to `limit` matching `filter`, in list order, starting
    /// after `after`: what a full-text search found, filtered and ordered.
    func positions(of rowids: [Int64], matching filter: Filter, after: Position?, limit: Int) -> [Position] {
        var found: [Entry] = []
        var seen = Set<Int64>()
        for rowid in rowids where seen.insert(rowid).inserted {
            guard let entry = entry(rowid), filter.matches(entry) else { continue }
            if let after, !Entry.precedesInStorage(entry, Self.probe(after)) { continue }
            found.append(entry)
        }
        found.sort { Entry.precedesInStorage($1, $0) }
        return found.prefix(max(limit, 0)).map { Position(updatedAt: $0.updatedAt, rowid: $0.rowid) }
    }

    /// The entry of the case `rowid`, if it has one.
    private func entry(_ rowid: Int64) -> Entry? {
        guard let updatedAt = updatedAtByRow[rowid] else { return nil }
        let probe = Self.probe(Position(updatedAt: updatedAt, rowid: rowid))
        let runIndex = firstRun(notBefore: probe)
        guard runIndex < runs.count else { return nil }
        let run = runs[runIndex]
        let index = Self.lowerBound(run, probe)
        guard index < run.count, run[index].rowid == rowid, run[index].updatedAt == updatedAt else { return nil }
        return run[index]
    }

    /// An entry that sorts where `position` does (its other values do not count).
    private static func probe(_ position: Position) -> Entry {
        Entry(updatedAt: position.updatedAt, rowid: position.rowid, slaDueAt: 0, status: 0, severity: 0, region: 0, owner: 0)
    }

    /// Up to `limit` entries matching `filter`, in list order, starting after `after`.
    func positions(matching filter: Filter, after: Position?, limit: Int) -> [Position] {
        var result: [Position] = []
        guard limit > 0, !runs.isEmpty else { return result }
        var runIndex = runs.count - 1
        var index = runs[runIndex].count - 1
        if let after {
            // The first entry strictly before `after` in list order.
            let probe = Self.probe(after)
            runIndex = firstRun(notBefore: probe)
            if runIndex == runs.count {
                runIndex = runs.count - 1
                index = runs[runIndex].count - 1
            } else {
                index = Self.lowerBound(runs[runIndex], probe) - 1
            }
        }
        while runIndex >= 0 {
            let run = runs[runIndex]
            while index >= 0 {
                let entry = run[index]
                if filter.matches(entry) {
                    result.append(Position(updatedAt: entry.updatedAt, rowid: entry.rowid))
                    if result.count == limit { return result }
                }
                index -= 1
            }
            runIndex -= 1
            if runIndex >= 0 { index = runs[runIndex].count - 1 }
        }
        return result
    }

    // MARK: - Internals

    private mutating func makeEntry(_ columns: Columns) -> Entry {
        Entry(updatedAt: columns.updatedAt, rowid: columns.rowid, slaDueAt: columns.slaDueAt ?? Entry.noDeadline,
              status: codes.use(columns.status), severity: codes.use(columns.severity), region: codes.use(columns.region),
              owner: columns.owner.map { codes.use($0) } ?? 0)
    }

    /// The index of the first run whose last entry is not before `entry`
    /// (`runs.count` if every run ends before it).
    private func firstRun(notBefore entry: Entry) -> Int {
        var low = 0
        var high = runs.count
        while low < high {
            let mid = (low + high) / 2
            if Entry.precedesInStorage(runs[mid][runs[mid].count - 1], entry) { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private static func lowerBound(_ run: [Entry], _ entry: Entry) -> Int {
        var low = 0
        var high = run.count
        while low < high {
            let mid = (low + high) / 2
            if Entry.precedesInStorage(run[mid], entry) { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private mutating func insert(_ entry: Entry) {
        count += 1
        if runs.isEmpty {
            runs.append([entry])
            return
        }
        // Updates carry the newest time, so almost every insert lands at the end.
        let runIndex = min(firstRun(notBefore: entry), runs.count - 1)
        let position = Self.lowerBound(runs[runIndex], entry)
        runs[runIndex].insert(entry, at: position)
        if runs[runIndex].count > runCapacity {
            let upper = Array(runs[runIndex][(runCapacity / 2)...])
            runs[runIndex].removeSubrange((runCapacity / 2)...)
            runs.insert(upper, at: runIndex + 1)
        }
    }

    /// Removes the entry at `position` and returns it (nil if none is there).
    private mutating func remove(_ position: Position) -> Entry? {
        let probe = Entry(updatedAt: position.updatedAt, rowid: position.rowid, slaDueAt: 0, status: 0, severity: 0, region: 0, owner: 0)
        let runIndex = firstRun(notBefore: probe)
        guard runIndex < runs.count else { return nil }
        let index = Self.lowerBound(runs[runIndex], probe)
        guard index < runs[runIndex].count, runs[runIndex][index].rowid == position.rowid,
              runs[runIndex][index].updatedAt == position.updatedAt else { return nil }
        let removed = runs[runIndex].remove(at: index)
        count -= 1
        if runs[runIndex].isEmpty { runs.remove(at: runIndex) } else { compact(runIndex) }
        return removed
    }

    /// How many entries the runs have room for (their arrays' capacity;
    /// each array's header and the list of runs come on top).
    var reservedEntries: Int { runs.reduce(0) { $0 + $1.capacity } }

    /// How many runs hold the entries.
    var runCount: Int { runs.count }

    /// Keeps a run's memory in proportion to its entries once it has lost
    /// most of them.
    ///
    /// Why: an array keeps its capacity when elements leave, and an update
    /// takes its case's entry out of whichever run held it for good (it
    /// moves to the newest run). So older runs drained towards a few entries
    /// each while keeping room for a thousand, and the runs' memory grew
    /// with every update until a restart rebuilt the index: with 200,000
    /// entries and uniform updates, to 12.4 times the entries' own size
    /// after six updates per entry (about 500 MiB at a million cases), and
    /// still growing by 2 times per round. A run down to an eighth of a
    /// run's entries merges into a neighbour when both fit in half a run,
    /// and a run using a quarter of its room or less gives the rest back.
    /// Together they hold it at about 2.6 times, from the first round on;
    /// merging alone settles near 3.8.
    private mutating func compact(_ index: Int) {
        var kept = index
        let half = runCapacity / 2
        // Merging is decided by entries, not room: a run whose room was
        // already given back must still join its neighbours as it drains.
        if runs[index].count * 8 <= runCapacity {
            if index + 1 < runs.count, runs[index].count + runs[index + 1].count <= half {
                let next = runs.remove(at: index + 1)
                runs[index].append(contentsOf: next)
            } else if index > 0, runs[index - 1].count + runs[index].count <= half {
                let run = runs.remove(at: index)
                runs[index - 1].append(contentsOf: run)
                kept = index - 1
            }
        }
        if runs[kept].capacity > 32, runs[kept].count * 4 <= runs[kept].capacity {
            var smaller: [Entry] = []
            smaller.reserveCapacity(runs[kept].count * 2)
            smaller.append(contentsOf: runs[kept])
            runs[kept] = smaller
        }
    }
}

extension QueryIndex {
    /// Column values as small integer codes, counted by the entries that
    /// hold them. A value no entry holds any more gives its code back (for
    /// the next new value), so the table stays as large as the distinct
    /// values in use: owners are free text, and a node that reassigns cases
    /// for years would otherwise keep every owner it ever saw, and run out
    /// of codes. Code 0 is never given: entries use it for "no owner".
    struct Codes: Sendable {
        private var byValue: [String: UInt32] = [:]
        /// Indexed by code: the value and how many entries hold it (0 = free).
        private var values: [String] = [""]
        private var uses: [UInt32] = [0]
        private var free: [UInt32] = []

        var count: Int { byValue.count }

        func code(_ value: String) -> UInt32? { byValue[value] }

        /// The code of `value`, counting one more entry that holds it.
        mutating func use(_ value: String) -> UInt32 {
            if let code = byValue[value] {
                uses[Int(code)] += 1
                return code
            }
            let code: UInt32
            if let reused = free.popLast() {
                code = reused
                values[Int(code)] = value
                uses[Int(code)] = 1
            } else {
                precondition(values.count < Int(UInt32.max), "more distinct list column values than codes")
                code = UInt32(values.count)
                values.append(value)
                uses.append(1)
            }
            byValue[value] = code
            return code
        }

        /// The code of `value` for an entry that held `old` (0: no value)
        /// and now holds `value` (nil: none): `old` itself when the value
        /// is the same, with no lookup and no change to the counts.
        mutating func replace(_ old: UInt32, with value: String?) -> UInt32 {
            let slot = Int(old)
            if let value, slot > 0, slot < values.count, uses[slot] > 0, values[slot] == value { return old }
            // The new value is counted before the old one is let go, so a value both hold keeps its code.
            let code = value.map { use($0) } ?? 0
            if old != 0 { release(old) }
            return code
        }

        /// One entry less holds `code`'s value; the last one frees the code.
        mutating func release(_ code: UInt32) {
            let slot = Int(code)
            guard slot > 0, slot < uses.count, uses[slot] > 0 else { return }
            uses[slot] -= 1
            if uses[slot] == 0 {
                byValue[values[slot]] = nil
                values[slot] = ""
                free.append(code)
            }
        }
    }
}
