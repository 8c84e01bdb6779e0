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
    /// The part of `writing` spent in `COMMIT`: appending the batch's pages
    /// to the write-ahead log and syncing it (and, when the log has reached
    /// its mark, the writer's own checkpoint). The rest is the statements.
    public var committing = Duration.zero
    /// Commits whose `COMMIT` took at least `slowCommit`. Every write
    /// waiting meanwhile waits as long, so these make the latency's tail:
    /// the writer's own checkpoints (which sync the database file) and log
    /// syncs queued behind the checkpointer's on the same disk.
    public var slowCommits = 0
    public static let slowCommit = Duration.milliseconds(10)
    /// Remote writes refused because their hybrid time was too far ahead of our clock.
    public var clockRejections = 0
    /// Where answered writes spent their time in the store, stage by stage.
    public var latency = CommitLatency()
    /// Cases their writers read before queueing (see `EarlyRead`), and how
    /// many of those the batches used (the rest had changed meanwhile).
    public var earlyReads = 0
    public var earlyReadsUsed = 0

    public init() {}

    /// Mean writes per transaction.
    public var meanBatch: Double { commits == 0 ? 0 : Double(writes) / Double(commits) }

    mutating func recordEarly(offered: Int, used: Int) {
        earlyReads += offered
        earlyReadsUsed += used
    }

    mutating func record(jobs: Int, preparing: Duration, writing: Duration, committing: Duration) {
        commits += 1
        writes += jobs
        self.preparing += preparing
        self.writing += writing
        self.committing += committing
        if committing >= Self.slowCommit { slowCommits += 1 }
    }
}

/// The stages a write passes through inside the store, summed over the
/// writes answered (a write spends its whole batch's time in each stage
/// after the queue). What a caller measures beyond their sum is its own:
/// the time to get back onto a thread once answered, and its own code.
public struct CommitLatency: Sendable, Equatable {
    /// Writes answered (acknowledged or refused) and counted here.
    public var writes = 0
    /// Waiting in the queue until a batch took the write.
    public var queued = Duration.zero
    /// Its batch being prepared.
    public var preparing = Duration.zero
    /// Its batch, prepared, waiting for the writer to finish the batch before.
    public var waitingForWriter = Duration.zero
    /// Its batch's statements and commit (with the fsync).
    public var writing = Duration.zero
    /// From the commit to the answer: making the batch visible, handing it over.
    public var answering = Duration.zero

    public init() {}

    /// The sum of the stages.
    public var total: Duration { queued + preparing + waitingForWriter + writing + answering }

    /// Adds one batch: its writes' queue times, and the times of its stages.
    mutating func record(queued: Duration, writes: Int, stages: BatchStages) {
        let count = Int64(writes)
        self.writes += writes
        self.queued += queued
        preparing += (stages.prepared - stages.taken) * count
        waitingForWriter += (stages.writing - stages.prepared) * count
        writing += (stages.committed - stages.writing) * count
        answering += (stages.answered - stages.committed) * count
    }
}

/// When a batch reached each stage.
struct BatchStages: Sendable {
    var taken: ContinuousClock.Instant
    var prepared: ContinuousClock.Instant
    var writing: ContinuousClock.Instant
    var committed: ContinuousClock.Instant
    var answered: ContinuousClock.Instant
}
