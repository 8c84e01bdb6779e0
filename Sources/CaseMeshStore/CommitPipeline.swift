import CaseMeshDomain
import Dispatch
import Synchronization

/// The group committer's queue. Writes wait here while a batch is prepared
/// and written; then everything waiting becomes the next batch. Batches
/// are prepared one at a time on their own queue (reading the cases,
/// running the commands, encoding and digesting the new states) while
/// the writer's queue writes and syncs the batch before: neither waits
/// for a thread of Swift's cooperative pool, which the callers share.
struct CommitPipeline: Sendable {
    typealias Completion = @Sendable (Result<JobOutcome, StoreError>) -> Void
    typealias Entry = (job: WriteJob, early: EarlyRead?, queuedAt: ContinuousClock.Instant, completion: Completion)
    var pending: [Entry] = []
    /// A drain is scheduled or running on the preparing queue.
    var draining = false
    /// The store is closing: writes queued from now on are refused (one
    /// already reading its case early would otherwise miss `waitIdle`).
    var closed = false
    /// Batches handed to the writer and not yet answered (written and published).
    var atWriter = 0
    var idleWaiters: [CheckedContinuation<Void, Never>] = []
    /// The writer state after every batch prepared so far, written or not.
    var prepared: WriterState
    var sequence: UInt64 = 0
    static let maxBatch = 512

    init(prepared: WriterState) { self.prepared = prepared }

    var isIdle: Bool { !draining && atWriter == 0 }

    /// The waiters to resume if nothing is left to do.
    mutating func takeIdleWaiters() -> [CheckedContinuation<Void, Never>] {
        guard isIdle else { return [] }
        defer { idleWaiters = [] }
        return idleWaiters
    }
}

extension NodeStore {
    /// Queues `jobs` back to back, in order, so they share transactions;
    /// answers once all of them are committed (or refused).
    func submit(_ jobs: [WriteJob]) async -> [Result<JobOutcome, StoreError>] {
        guard !jobs.isEmpty else { return [] }
        // Read while the batch before is prepared, not after (see `EarlyRead`).
        return await submit(jobs, early: readEarly(jobs))
    }

    /// `submit`, with what the callers read early (one per job).
    func submit(_ jobs: [WriteJob], early: [EarlyRead?]) async -> [Result<JobOutcome, StoreError>] {
        guard !jobs.isEmpty else { return [] }
        return await withCheckedContinuation { continuation in
            let collector = ResultCollector(count: jobs.count) { continuation.resume(returning: $0) }
            let now = ContinuousClock.now
            let start = pipeline.withLock { pipeline -> Bool? in
                if pipeline.closed { return nil }
                for (index, job) in jobs.enumerated() {
                    pipeline.pending.append((job, index < early.count ? early[index] : nil, now, { result in collector.set(index, result) }))
                }
                guard !pipeline.draining else { return false }
                pipeline.draining = true
                return true
            }
            guard let start else {
                continuation.resume(returning: jobs.map { _ in .failure(.writeFailed(reason: "the store is closing")) })
                return
            }
            if start { preparing.async { self.drain() } }
        }
    }

    /// Prepares and hands over batches until nothing waits (on `preparing`).
    private func drain() {
        while true {
            writerSlots.wait()
            let next = pipeline.withLock { pipeline -> (batch: ArraySlice<CommitPipeline.Entry>, state: WriterState, sequence: UInt64)? in
                guard !pipeline.pending.isEmpty else {
                    pipeline.draining = false
                    return nil
                }
                let batch = pipeline.pending.prefix(CommitPipeline.maxBatch)
                pipeline.pending.removeFirst(batch.count)
                pipeline.sequence += 1
                pipeline.atWriter += 1
                return (batch, pipeline.prepared, pipeline.sequence)
            }
            guard let (batch, start, sequence) = next else {
                writerSlots.signal()
                resumeIdleWaiters()
                return
            }
            let taken = ContinuousClock.now
            let queued = batch.reduce(Duration.zero) { $0 + (taken - $1.queuedAt) }
            var state = start
            let prepared = prepare(batch.map { $0.job }, early: batch.map { $0.early }, state: &state, sequence: sequence)
            pipeline.withLock { $0.prepared = state }
            let preparedAt = ContinuousClock.now
            write(prepared, written: { self.writerSlots.signal() }) { results, writing, committed in
                let stages = BatchStages(taken: taken, prepared: preparedAt, writing: writing, committed: committed, answered: .now)
                self.statistics.withLock { $0.latency.record(queued: queued, writes: results.count, stages: stages) }
                for (entry, result) in zip(batch, results) { entry.completion(result) }
                self.pipeline.withLock { $0.atWriter -= 1 }
                self.resumeIdleWaiters()
            }
        }
    }

    private func resumeIdleWaiters() {
        for waiter in pipeline.withLock({ $0.takeIdleWaiters() }) { waiter.resume() }
    }

    /// Returns once every queued write is answered.
    func waitIdle() async {
        await withCheckedContinuation { continuation in
            let idle = pipeline.withLock { pipeline -> Bool in
                if pipeline.isIdle { return true }
                pipeline.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }
}
