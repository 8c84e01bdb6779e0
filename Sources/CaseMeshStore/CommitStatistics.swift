/// What the group committer has done since the store opened: how many
/// transactions, how many writes they carried, and where the time went.
public struct CommitStatistics: Sendable, Equatable {
    /// Batches committed (one transaction each, none when nothing in the batch was written).
    public var commits = 0
    /// Writes carried by those transactions.
    public var writes = 0
    /// Time spent preparing batches (reading the cases, running the
    /// commands, encoding and digesting the new states), before the writer
    /// gets them; the next batch is prepared while the writer has the last.
    public var preparing = Duration.zero
    /// Time the writer spent on batches: their statements and the commit
    /// with its fsync.
    public var writing = Duration.zero
    /// Remote writes refused because their hybrid time was too far ahead of our clock.
    public var clockRejections = 0

    public init() {}

    /// Mean writes per transaction.
    public var meanBatch: Double { commits == 0 ? 0 : Double(writes) / Double(commits) }

    mutating func record(jobs: Int, preparing: Duration, writing: Duration) {
        commits += 1
        writes += jobs
        self.preparing += preparing
        self.writing += writing
    }
}
