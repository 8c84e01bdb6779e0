/// What the group committer has done since the store opened: how many
/// transactions, how many writes they carried, and where the time went.
public struct CommitStatistics: Sendable, Equatable {
    /// Committed transactions (batches), successful or not.
    public var commits = 0
    /// Writes carried by those transactions.
    public var writes = 0
    /// Time spent applying writes inside transactions (reading, running
    /// commands, writing rows and deltas).
    public var applying = Duration.zero
    /// Time from handing a batch to the database to its durable commit
    /// (applying, the commit itself with its fsync, and waiting for the writer).
    public var committing = Duration.zero
    /// Remote writes refused because their hybrid time was too far ahead of our clock.
    public var clockRejections = 0

    public init() {}

    /// Mean writes per transaction.
    public var meanBatch: Double { commits == 0 ? 0 : Double(writes) / Double(commits) }

    mutating func record(jobs: Int, work: Duration, total: Duration) {
        commits += 1
        writes += jobs
        applying += work
        committing += total
    }
}
