import Foundation
import Testing
import CaseMeshCRDT
import CaseMeshDomain
@testable import CaseMeshStore

/// Local writes: what `create` and `execute` answer, how case numbers are
/// handed out, and that a refused command leaves nothing behind.
@Suite struct StoreWriteTests {
    /// A create answers with the stored case, a fresh number of the node's
    /// region and the case's place in the log; a command answers with the
    /// updated case and its own log position; reads return the same states.
    @Test func createAndExecuteReturnTheirOutcomes() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock()
            let store = try openStore(dir, clock: clock)

            let first = try await store.create(draft(title: "Card payments time out"), actor: actor)
            #expect(first.created)
            #expect(first.state.header.number == "EMEA-000001")
            #expect(first.state.header.originRegion == region("EMEA"))
            #expect(first.state.header.originReplica == .emea)
            #expect(first.state.title == "Card payments time out")
            #expect(first.state.status == .new)
            #expect(first.delta == first.state)
            #expect(first.position == LogPosition(origin: .emea, counter: 1))
            #expect(first.followUpPosition == nil)

            let second = try await store.create(draft(title: "Refunds stuck"), actor: actor)
            #expect(second.created)
            #expect(second.state.header.number == "EMEA-000002")
            #expect(second.position == LogPosition(origin: .emea, counter: 2))
            #expect(second.state.id != first.state.id)

            let noted = try await store.execute(addNote("n1", "Customer sent HAR file"), on: first.state.id, actor: actor)
            #expect(!noted.created)
            #expect(noted.position == LogPosition(origin: .emea, counter: 3))
            #expect(noted.state.notes.map(\.text) == ["Customer sent HAR file"])
            let delta = try #require(noted.delta)
            #expect(delta.notes.map(\.text) == ["Customer sent HAR file"])
            #expect(delta.title == nil, "a note's delta carries the note, not the whole case")

            #expect(try store.caseState(first.state.id) == noted.state)
            #expect(try store.caseState(second.state.id) == second.state)
            #expect(store.digest.cases == 2)
            #expect(store.appliedPositions == [.emea: 3])
            let log = try logEntries(store, of: .emea)
            #expect(log.map(\.position.counter) == [1, 2, 3])
            #expect(log.map(\.delta) == [first.state, second.state, delta])
            await store.close()
        }
    }

    /// Numbers count up per region with six zero-padded digits and no gaps.
    @Test func caseNumbersAreZeroPaddedAndConsecutive() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock())
            var numbers: [String] = []
            for index in 1...12 {
                numbers.append(try await store.create(draft(title: "Case \(index)"), actor: actor).state.header.number)
            }
            #expect(numbers == (1...12).map { String(format: "EMEA-%06d", $0) })
            await store.close()
        }
    }

    /// A create the domain refuses (empty title) fails with `.rejected`
    /// naming the field, and leaves no trace: digest, count, log, listed
    /// cases and the number counter are as before, so the next create gets
    /// the next number with no gap.
    @Test func refusedCreateLeavesNoTrace() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock())
            _ = try await store.create(draft(title: "First"), actor: actor)
            let before = try StoreSnapshot(store)

            let error = await storeError { try await store.create(draft(title: "   "), actor: actor) }
            let domain = try #require(rejection(error), "expected .rejected, got \(String(describing: error))")
            #expect(domain.code == .validationFailed)
            #expect(domain.field == "title")
            #expect(try StoreSnapshot(store) == before)

            let next = try await store.create(draft(title: "Second"), actor: actor)
            #expect(next.state.header.number == "EMEA-000002")
            #expect(next.position == LogPosition(origin: .emea, counter: 2))
            await store.close()
        }
    }

    /// A command the process rules refuse (escalating without a complete
    /// escalation request) fails with `.rejected` carrying the rule, and
    /// changes neither the case nor the log nor the numbering.
    @Test func refusedCommandLeavesNoTrace() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock())
            let created = try await store.create(draft(), actor: actor)
            let before = try StoreSnapshot(store)

            let error = await storeError {
                try await store.execute(.escalate(level: .l2, reason: "customer is angry", approvedBy: nil), on: created.state.id, actor: actor)
            }
            let domain = try #require(rejection(error), "expected .rejected, got \(String(describing: error))")
            #expect(domain.code == .ruleViolated)
            #expect(domain.rule == EscalationRules.Rule.escalationRequest)
            #expect(try StoreSnapshot(store) == before)
            #expect(try store.caseState(created.state.id) == created.state)

            let next = try await store.create(draft(title: "Another"), actor: actor)
            #expect(next.state.header.number == "EMEA-000002")
            #expect(next.position == LogPosition(origin: .emea, counter: 2))
            await store.close()
        }
    }

    /// A command on an id the store does not hold is refused as not found.
    @Test func commandOnUnknownCaseIsNotFound() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock())
            let error = await storeError { try await store.execute(addNote("n1", "hello"), on: caseID("nope"), actor: actor) }
            let domain = try #require(rejection(error), "expected .rejected, got \(String(describing: error))")
            #expect(domain.code == .notFound)
            #expect(domain.field == "id")
            #expect(store.digest.cases == 0)
            #expect(store.appliedPositions.isEmpty)
            await store.close()
        }
    }

    /// Retrying a create with the same client id answers with the stored
    /// case and `created == false`, writes no delta and uses no number.
    @Test func createWithTheSameClientIDIsIdempotent() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock())
            let first = try await store.create(draft(id: "client-42", title: "Payments down"), actor: actor)
            #expect(first.created)
            #expect(first.state.id == caseID("client-42"))
            let before = try StoreSnapshot(store)

            let retry = try await store.create(draft(id: "client-42", title: "Payments down"), actor: actor)
            #expect(!retry.created)
            #expect(retry.state == first.state)
            #expect(retry.delta == nil)
            #expect(retry.position == nil)
            #expect(try StoreSnapshot(store) == before)

            // A retry is still checked: bad input is refused as for a new case.
            await #expect(throws: StoreError.self) { try await store.create(draft(id: "client-42", title: "  "), actor: actor) }
            #expect(try StoreSnapshot(store) == before)

            let next = try await store.create(draft(title: "Other"), actor: actor)
            #expect(next.state.header.number == "EMEA-000002")
            await store.close()
        }
    }

    /// Two concurrent creates with one client id (likely in the same group
    /// commit) store the case once: exactly one is `created`, both answer
    /// with the same state.
    @Test func concurrentRetriesOfOneCreateStoreOneCase() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock())
            let outcomes = try await withThrowingTaskGroup(of: WriteOutcome.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await store.create(draft(id: "client-7", title: "Retried"), actor: actor) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter(\.created).count == 1)
            #expect(Set(outcomes.map(\.state.digest)).count == 1)
            #expect(store.digest.cases == 1)
            #expect(try logEntries(store, of: .emea).count == 1)
            await store.close()
        }
    }

    /// 64 writers at once (grouped into few transactions): each creates a
    /// case and adds a note to it. All succeed, numbers 1…64 are each used
    /// once, every case holds its note, and the store's running digest
    /// equals the XOR of the per-case digests recomputed from the stored states.
    @Test func groupCommitOf64ConcurrentWriters() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock(step: 1), durability: .normal)
            let results = try await withThrowingTaskGroup(of: (WriteOutcome, WriteOutcome).self) { group in
                for index in 0..<64 {
                    group.addTask {
                        let created = try await store.create(draft(title: "Concurrent case \(index)"), actor: actor)
                        let noted = try await store.execute(addNote("note-\(index)", "note for case \(index)"), on: created.state.id, actor: actor)
                        return (created, noted)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.count == 64)
            #expect(store.digest.cases == 64)
            #expect(Set(results.map(\.0.state.header.number)) == Set((1...64).map { String(format: "EMEA-%06d", $0) }))
            for (created, noted) in results {
                let stored = try #require(try store.caseState(created.state.id))
                let index = try #require(created.state.title?.split(separator: " ").last)
                #expect(stored.notes.map(\.text) == ["note for case \(index)"])
                #expect(stored == noted.state)
            }
            var expected = StateDigest.zero
            for (created, _) in results { expected.toggle(try #require(try store.caseState(created.state.id)).digest) }
            #expect(store.digest.digest == expected)
            #expect(try recomputedDigest(store) == expected)
            #expect(store.appliedPositions == [.emea: 128])
            #expect(try logEntries(store, of: .emea).map(\.position.counter) == Array(1...128))
            #expect(try store.integrityCheck().isEmpty)
            await store.close()
        }
    }

    /// Refused creates mixed into the same group commit as valid ones fail
    /// alone: the valid ones are stored and numbered 1…n without gaps.
    @Test func refusalsInsideAGroupCommitFailAlone() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock())
            let results = await withTaskGroup(of: (Int, Result<WriteOutcome, any Error>).self) { group in
                for index in 0..<40 {
                    group.addTask {
                        let title = index % 3 == 0 ? "" : "Case \(index)"
                        do {
                            return (index, .success(try await store.create(draft(title: title), actor: actor)))
                        } catch {
                            return (index, .failure(error))
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            var stored: [String] = []
            for (index, result) in results {
                switch result {
                case let .success(outcome):
                    #expect(index % 3 != 0)
                    stored.append(outcome.state.header.number)
                case let .failure(error):
                    #expect(index % 3 == 0)
                    #expect(rejection(error as? StoreError)?.field == "title", "unexpected \(error)")
                }
            }
            let valid = (0..<40).filter { $0 % 3 != 0 }.count
            #expect(Set(stored) == Set((1...valid).map { String(format: "EMEA-%06d", $0) }))
            #expect(store.digest.cases == valid)
            #expect(store.digest.digest == (try recomputedDigest(store)))
            #expect(store.appliedPositions == [.emea: UInt64(valid)])
            await store.close()
        }
    }

    /// An update appends a version of the case (the next row id) and
    /// leaves its `cases` row as it was; the newest version is the one served.
    @Test func anUpdateAppendsAVersion() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock(step: 1))
            let id = try await store.create(draft(title: "Versioned case"), actor: actor).state.id
            let versions: @Sendable (NodeStore) throws -> [Int64] = { store in
                try store.read { db in
                    try Int64.fetchAll(db, sql: "SELECT v.rowid FROM case_versions v JOIN cases c ON c.rowid = v.case_row WHERE c.id = ? ORDER BY v.rowid",
                                       arguments: [id.rawValue])
                }
            }
            #expect(try versions(store) == [1])
            let updated = try await store.execute(.setFields([.owner: .text("Bo")]), on: id, actor: actor)
            #expect(try versions(store) == [1, 2])
            #expect(try store.caseState(id) == updated.state)
            await store.close()
            let reopened = try openStore(dir, clock: ManualClock(step: 1))
            #expect(try reopened.caseState(id) == updated.state)
            #expect(try allSummaries(reopened).map(\.owner) == ["Bo"])
            #expect(try reopened.integrityCheck().isEmpty)
            await reopened.close()
        }
    }
}
