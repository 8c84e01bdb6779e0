/// The versions stored, oldest to newest, with the case each belongs to,
/// and each case's live version: what the preparing stage needs to give
/// new versions their row ids and to plan cleaning, with no SQL.
///
/// Stored versions are always one contiguous range of row ids,
/// `oldest..<next`: versions are appended at `next`, and cleaning deletes
/// from `oldest` up. Cleaning keeps at most `limit` versions (the store
/// uses twice the number of cases): the oldest version is dropped when no
/// case points to it any more, or appended again (relocated) first when
/// its case still does. Random updates leave few live versions at the
/// oldest end, so this costs a fraction of an append per update.
struct VersionLog: Sendable {
    /// A live version copied to the end before its range is deleted.
    struct Relocation: Sendable, Equatable {
        var caseRow: Int64
        var from: Int64
        var to: Int64
    }

    /// What one round of cleaning does: relocate, then delete every
    /// version below `dropBelow`.
    struct Cleaning: Sendable, Equatable {
        var relocations: [Relocation]
        var dropBelow: Int64
    }

    private(set) var live = LiveVersions()
    /// The oldest version stored.
    private(set) var oldest: Int64
    /// The case row of each version from `oldest` on, starting at `head`.
    private var owners: [Int64] = []
    private var head = 0

    /// An empty log whose first version will be `first`.
    init(first: Int64 = 1) {
        oldest = first
    }

    /// The row id the next version gets.
    var next: Int64 { oldest + Int64(count) }
    /// How many versions are stored.
    var count: Int { owners.count - head }

    /// The versions already stored: `owners[i]` is the case row of
    /// version `oldest + i`. Each case's live version is its newest.
    init(oldest: Int64, owners: [Int64]) {
        self.oldest = oldest
        self.owners = owners
        for (index, caseRow) in owners.enumerated() { live.set(caseRow, oldest + Int64(index)) }
    }

    /// Gives the case's new state the next version, which becomes its live one.
    mutating func append(_ caseRow: Int64) -> Int64 {
        let version = next
        owners.append(caseRow)
        live.set(caseRow, version)
        return version
    }

    /// Once more than `limit + slack` versions are stored, cleans from the
    /// oldest end until at most `limit` are. `limit` must exceed the number
    /// of cases, or there may be nothing dead to clean (the loop then stops
    /// when only live versions are left in the way).
    ///
    /// The slack makes cleaning run in chunks: each round rewrites the
    /// pages at the tables' oldest end that it leaves partly full, and
    /// SQLite deletes row by row, merging underfull pages into their
    /// neighbours as it goes; once per batch, that came to about a third of
    /// the log frames of every commit.
    mutating func clean(limit: Int, slack: Int = 0) -> Cleaning? {
        guard count > limit + max(slack, 0) else { return nil }
        var relocations: [Relocation] = []
        var examined = 0
        // Every version is examined at most once per round: a relocated one
        // goes to the end, behind the ones to examine.
        let examinable = count
        while count > limit && examined < examinable {
            let version = oldest
            let caseRow = owners[head]
            head += 1
            oldest += 1
            examined += 1
            if live[caseRow] == version {
                relocations.append(Relocation(caseRow: caseRow, from: version, to: append(caseRow)))
            }
        }
        if head > 4096 && head * 2 > owners.count {
            owners.removeFirst(head)
            head = 0
        }
        return Cleaning(relocations: relocations, dropBelow: oldest)
    }
}
