import CaseMeshCRDT
import CaseMeshDomain
import Foundation
import GRDB
import Synchronization
import Testing
@testable import CaseMeshStore

/// The group committer prepares a batch while the batch before it is still
/// being written: these check that a batch sees the one in flight, and that
/// a failure of the one in flight takes the next one down with it.
@Suite struct CommitPipelineTests {
    /// 200 writers at once on one case, each adding its own note, five
    /// cases in turn: batches are prepared on top of batches not yet
    /// written, so a batch that read the case from the table (or from the
    /// cases written before) would drop the notes in flight. All notes are
    /// kept, the log counts without gaps, and the state read back after a
    /// restart is the last one acknowledged.
    @Test func writersOnOneCaseKeepEveryWrite() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(step: 1)
            let store = try openStore(dir, clock: clock, durability: .normal)
            var finals: [CaseID: CaseState] = [:]
            for round in 0..<5 {
                let id = try await store.create(draft(title: "Busy case \(round)"), actor: actor).state.id
                let outcomes = try await withThrowingTaskGroup(of: WriteOutcome.self) { group in
                    for index in 0..<200 {
                        group.addTask { try await store.execute(addNote("n\(index)", "note \(index)"), on: id, actor: actor) }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                let stored = try #require(try store.caseState(id))
                #expect(Set(stored.notes.map { $0.text }) == Set((0..<200).map { "note \($0)" }), "round \(round)")
                let last = try #require(outcomes.max { $0.position!.counter < $1.position!.counter })
                #expect(last.state == stored)
                finals[id] = stored
            }
            #expect(try logEntries(store, of: .emea).map(\.position.counter) == Array(1...1_005))
            #expect(store.digest.digest == (try recomputedDigest(store)))
            #expect(store.commitStatistics.commits < 1_005, "the writes were never batched")
            await store.close()

            let reopened = try openStore(dir, clock: clock, durability: .normal)
            for (id, state) in finals { #expect(try reopened.caseState(id) == state) }
            #expect(reopened.digest.digest == (try recomputedDigest(reopened)))
            await reopened.close()
        }
    }

    /// A commit counts as slow from `slowCommit` on, and its time is added
    /// to the writer's `COMMIT` time either way.
    @Test(arguments: [(Duration.milliseconds(9), 0), (CommitStatistics.slowCommit, 1), (.milliseconds(40), 1)])
    func slowCommitsAreCounted(committing: Duration, slow: Int) {
        var statistics = CommitStatistics()
        statistics.record(jobs: 3, preparing: .milliseconds(1), writing: committing + .milliseconds(2), committing: committing)
        statistics.record(jobs: 2, preparing: .milliseconds(1), writing: .milliseconds(3), committing: .milliseconds(2))
        #expect(statistics.slowCommits == slow)
        #expect(statistics.committing == committing + .milliseconds(2))
        #expect(statistics.commits == 2 && statistics.writes == 5)
    }

    /// Every answered write is counted in the latency breakdown once, and
    /// its stages add up to no more than what its caller waited: the
    /// breakdown splits the callers' time, it does not invent any.
    @Test func theLatencyBreakdownCountsEveryAnsweredWrite() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock(step: 1), durability: .normal)
            let waited = Stopwatch()
            let id = try await waited.timed { try await store.create(draft(title: "Timed"), actor: actor).state.id }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<64 {
                    group.addTask { _ = try await waited.timed { try await store.execute(addNote("n\(index)", "note \(index)"), on: id, actor: actor) } }
                }
                try await group.waitForAll()
            }
            // A refused write is answered too.
            await #expect(throws: StoreError.self) {
                try await waited.timed { try await store.execute(addNote("x", "x"), on: CaseID("no-such-case"), actor: actor) }
            }
            await store.waitIdle()
            let statistics = store.commitStatistics
            // COMMIT is part of the writer's time, and takes some of it.
            #expect(statistics.committing > .zero && statistics.committing <= statistics.writing)
            let latency = statistics.latency
            #expect(latency.writes == 66)
            #expect(latency.preparing > .zero && latency.writing > .zero)
            for stage in [latency.queued, latency.preparing, latency.waitingForWriter, latency.writing, latency.answering] {
                #expect(stage >= .zero)
            }
            #expect(latency.total <= waited.total, "the stages add up to more than the callers waited")
            await store.close()
        }
    }

    /// Cases created by a batch still in flight get their row id from the
    /// batch: the next batch updates them by that row id, and the search
    /// index and list columns follow.
    @Test func casesCreatedInFlightAreUpdatedByTheNextBatch() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock(step: 1), durability: .normal)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        let created = try await store.create(draft(id: "case-\(index)", title: "Case \(index)"), actor: actor)
                        _ = try await store.execute(addNote("n", "searchword\(index)"), on: created.state.id, actor: actor)
                        _ = try await store.execute(.setFields([.owner: .text("owner-\(index)")]), on: created.state.id, actor: actor)
                    }
                }
                try await group.waitForAll()
            }
            #expect(store.digest.cases == 40)
            for index in 0..<40 {
                #expect(try store.list(CaseQuery(text: "searchword\(index)")).cases.map(\.id) == ["case-\(index)"])
                #expect(try store.list(CaseQuery(owner: "owner-\(index)")).cases.map(\.id) == ["case-\(index)"])
            }
            #expect(try store.integrityCheck().isEmpty)
            await store.close()
        }
    }

    /// Many writers fill a small disk. The batch that does not fit fails,
    /// and so does every batch prepared on top of it: after a restart with
    /// more space the store holds exactly the acknowledged cases, its
    /// digest and positions match them, and numbering goes on without a gap.
    @Test(.enabled(if: FaultEnvironment.canMountTmpfs, "needs root and tmpfs mounts (mount -t tmpfs) to fill a real file system"))
    func aFailedBatchFailsTheBatchesPreparedOnIt() async throws {
        try await withTemporaryDirectory { dir in try await FaultEnvironment.withSmallDisk(in: dir) { mountPoint in
            let clock = ManualClock(step: 1)
            let store = try openStore(mountPoint, clock: clock, durability: .normal)
            // Each writer creates cases until its first refusal.
            let outcomes = await withTaskGroup(of: ([CaseState], StoreError?).self) { group in
                for writer in 0..<16 {
                    group.addTask {
                        var created: [CaseState] = []
                        for index in 0..<200 {
                            let problem = FaultEnvironment.bulkyText(writer * 1_000 + index)
                            do {
                                created.append(try await store.create(draft(title: "Large case \(writer)-\(index)", fields: [.problemStatement: .text(problem)]), actor: actor).state)
                            } catch let error as StoreError {
                                return (created, error)
                            } catch {
                                Issue.record("unexpected \(error)")
                                return (created, nil)
                            }
                        }
                        return (created, nil)
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            var cases: [CaseID: CaseState] = [:]
            for (created, _) in outcomes { for state in created { cases[state.id] = state } }
            let errors = outcomes.compactMap { $0.1 }
            #expect(errors.count == 16, "every writer should have hit the full disk")
            #expect(errors.allSatisfy { error in
                switch error {
                case .writeFailed, .readOnly: true
                default: false
                }
            }, "\(errors)")
            #expect(!cases.isEmpty)
            #expect(store.digest.cases == cases.count)
            await store.close()

            try FaultEnvironment.growSmallDisk(mountPoint)
            let reopened = try openStore(mountPoint, clock: clock, durability: .normal)
            #expect(reopened.digest.cases == cases.count)
            for (id, state) in cases { #expect(try reopened.caseState(id) == state) }
            #expect(reopened.digest.digest == (try recomputedDigest(reopened)))
            #expect(reopened.appliedPositions == [.emea: UInt64(cases.count)])
            #expect(try reopened.integrityCheck().isEmpty)
            let next = try await reopened.create(draft(title: "After more space"), actor: actor)
            #expect(next.state.header.number == String(format: "EMEA-%06d", cases.count + 1))
            await reopened.close()
        } }
    }

    /// A stored case whose state no longer decodes (a damaged row) fails
    /// the writes that need it with `.corrupt`, naming the case; writes to
    /// other cases in the same batches go on, and the row is left as it is.
    @Test func aCaseThatDoesNotDecodeFailsOnlyItsWrites() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(step: 1)
            let first = try openStore(dir, clock: clock)
            _ = try await first.create(draft(id: "damaged", title: "Damaged case"), actor: actor)
            _ = try await first.create(draft(id: "healthy", title: "Healthy case"), actor: actor)
            await first.close()
            let garbage = Data([0xFF, 0xFE, 0x00, 0x13])
            try await DatabaseQueue(path: configuration(dir).databasePath).write { db in
                try db.execute(sql: "UPDATE case_states SET state = ? WHERE case_row = (SELECT rowid FROM cases WHERE id = 'damaged')", arguments: [garbage])
            }

            let store = try openStore(dir, clock: clock)
            let results = await withTaskGroup(of: (String, StoreError?).self) { group in
                for index in 0..<20 {
                    let target = index % 2 == 0 ? "damaged" : "healthy"
                    group.addTask {
                        (target, await storeError { try await store.execute(addNote("n\(index)", "note \(index)"), on: caseID(target), actor: actor) })
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            for (target, error) in results {
                if target == "healthy" {
                    #expect(error == nil, "\(String(describing: error))")
                } else if case let .corrupt(_, reason)? = error {
                    #expect(reason.contains("damaged"), "reason: \(reason)")
                } else {
                    Issue.record("expected .corrupt for the damaged case, got \(String(describing: error))")
                }
            }
            #expect(store.writeFailure == nil)
            #expect(try store.caseState(caseID("healthy"))?.notes.count == 10)
            _ = try await store.create(draft(title: "Still taking writes"), actor: actor)
            let stored = try store.read { db in
                try Data.fetchAll(db, sql: "SELECT state FROM case_states WHERE case_row = (SELECT rowid FROM cases WHERE id = 'damaged')")
            }
            #expect(!stored.isEmpty && stored.allSatisfy { $0 == garbage })
            await store.close()
        }
    }

    /// When the cases a batch names cannot be read at all (here the index
    /// on case ids is damaged, and the batch creates cases the store does
    /// not know, so it must look their ids up there; cases it knows are
    /// read by row id), the whole batch fails with `.writeFailed`, every
    /// caller is answered, and the store refuses writes from then on.
    @Test func aBatchWhoseCasesCannotBeReadFailsWhole() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(step: 1)
            let first = try openStore(dir, clock: clock)
            for index in 0..<30 { _ = try await first.create(draft(id: "case-\(index)", title: "Case \(index)"), actor: actor) }
            await first.close()
            let path = configuration(dir).databasePath
            let root = try await DatabaseQueue(path: path).read { db in
                try Int.fetchOne(db, sql: "SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_cases_1'")
            }
            let page = try #require(root)
            let file = try #require(FileHandle(forUpdatingAtPath: path))
            try file.seek(toOffset: UInt64(page - 1) * 4_096)
            try file.write(contentsOf: Data(repeating: 0xAB, count: 4_096))
            try file.close()

            let store = try openStore(dir, clock: clock)
            // A caller left without an answer would wait forever: give up after 30 s.
            let answered = await firstOf(seconds: 30) {
                await withTaskGroup(of: StoreError?.self) { group in
                    for index in 0..<8 {
                        group.addTask { await storeError { try await store.create(draft(id: "new-\(index)", title: "New \(index)"), actor: actor) } }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
            }
            let errors = try #require(answered, "the writers were never answered")
            #expect(errors.count == 8)
            for error in errors {
                switch error {
                case .writeFailed?, .readOnly?: break
                default: Issue.record("expected .writeFailed or .readOnly, got \(String(describing: error))")
                }
            }
            #expect(store.writeFailure != nil)
            await store.close()
        }
    }
}

/// `body`'s result, or nil if it takes longer than `seconds` (it is then
/// left running: a test must not hang on a caller that is never answered).
func firstOf<T: Sendable>(seconds: Int, _ body: @escaping @Sendable () async -> T) async -> T? {
    let once = Once()
    return await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
        Task {
            let value = await body()
            if once.claim() { continuation.resume(returning: value) }
        }
        Task {
            try? await Task.sleep(for: .seconds(seconds))
            if once.claim() { continuation.resume(returning: nil) }
        }
    }
}

/// True for the first caller of `claim()` only.
final class Once: Sendable {
    private let claimed = Mutex(false)
    func claim() -> Bool { claimed.withLock { done in defer { done = true }; return !done } }
}

/// Adds up the time callers spent waiting for the store.
private final class Stopwatch: Sendable {
    private let sum = Mutex(Duration.zero)
    var total: Duration { sum.withLock { $0 } }

    func timed<T: Sendable>(_ body: () async throws -> T) async rethrows -> T {
        let began = ContinuousClock.now
        defer {
            let took = ContinuousClock.now - began
            sum.withLock { $0 += took }
        }
        return try await body()
    }
}
