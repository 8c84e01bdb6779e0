import CaseMeshCRDT
import CaseMeshDomain
@testable import CaseMeshStore
import Testing

/// The decoded copies of recently written cases agree with the table,
/// including after more cases were written than the copies hold.
@Suite struct RecentCasesTests {
    @Test func cachedStatesMatchTheTableAcrossEvictions() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock()
            // A small capacity, so evictions happen many times over with few cases.
            var settings = configuration(dir)
            settings.recentCases = 64
            let store = try NodeStore.open(settings, wallClock: clock.wallClock, logger: testLogger)
            let count = 400
            for start in stride(from: 0, to: count, by: 20) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in start..<min(start + 20, count) {
                        group.addTask {
                            _ = try await store.create(draft(id: "c\(index)", title: "Case \(index)"), actor: actor)
                            _ = try await store.execute(addNote("n\(index)", "first look at \(index)"), on: caseID("c\(index)"), actor: actor)
                        }
                    }
                    try await group.waitForAll()
                }
            }
            #expect(store.recent.withLock { $0.count } <= 64)
            // An evicted case and a cached one, changed again: both read back right.
            _ = try await store.execute(addNote("m0", "second look"), on: caseID("c0"), actor: actor)
            _ = try await store.execute(addNote("m1", "second look"), on: caseID("c\(count - 1)"), actor: actor)
            let cached = try StoreSnapshot(store)
            #expect(cached.cases == count)
            #expect(try store.caseState(caseID("c0"))?.notes.count == 2)
            await store.close()

            let reopened = try NodeStore.open(settings, wallClock: clock.wallClock, logger: testLogger)
            #expect(reopened.recent.withLock { $0.count } == 0)
            let fromTable = try StoreSnapshot(reopened)
            #expect(fromTable == cached)
            var recomputed = StateDigest.zero
            for state in fromTable.states.values { recomputed.toggle(state.digest) }
            #expect(fromTable.digest == recomputed)
            await reopened.close()
        }
    }
}

/// The bound and what eviction spares, on the map alone.
@Suite struct RecentCasesBoundTests {
    static func written(_ id: String, row: Int64) throws -> BatchCase {
        let header = CaseHeader(id: try CaseID(id), number: "EMEA-\(row)", originRegion: try Region("EMEA"), createdAt: .zero,
                                createdBy: "bench", originReplica: ReplicaID("emea"))
        return BatchCase(row: row, state: CaseState(header: header), digest: .zero, columns: nil)
    }

    @Test func aNewCaseThatOverfillsTheMapEvictsTheOldest() throws {
        var recent = RecentCases(capacity: 16)
        var dropped: [BatchCase] = []
        for row in 1...16 { recent.insert(try Self.written("c\(row)", row: Int64(row)), droppingInto: &dropped) }
        #expect(recent.count == 16)
        recent.insert(try Self.written("c17", row: 17), droppingInto: &dropped)
        #expect(recent.count == 16)
        #expect(recent[try CaseID("c1")] == nil)
        #expect(recent[try CaseID("c2")]?.row == 2)
        #expect(recent[try CaseID("c17")]?.row == 17)
    }

    @Test func aCaseWrittenAgainIsEvictedLast() throws {
        var recent = RecentCases(capacity: 16)
        var dropped: [BatchCase] = []
        for row in 1...16 { recent.insert(try Self.written("c\(row)", row: Int64(row)), droppingInto: &dropped) }
        // c1 written over and over: its older positions are stale, not evicted.
        for round in 1...1_000 { recent.insert(try Self.written("c1", row: Int64(1_000 + round)), droppingInto: &dropped) }
        for row in 17...31 { recent.insert(try Self.written("c\(row)", row: Int64(row)), droppingInto: &dropped) }
        #expect(recent.count == 16)
        #expect(recent[try CaseID("c1")]?.row == 2_000)
        for row in 2...16 { #expect(recent[try CaseID("c\(row)")] == nil) }
        recent.insert(try Self.written("c32", row: 32), droppingInto: &dropped)
        #expect(recent[try CaseID("c1")] == nil)
        #expect(recent[try CaseID("c17")]?.row == 17)
    }

    @Test func replacingACaseEvictsNothing() throws {
        var recent = RecentCases(capacity: 16)
        var dropped: [BatchCase] = []
        for row in 1...16 { recent.insert(try Self.written("c\(row)", row: Int64(row)), droppingInto: &dropped) }
        #expect(dropped.isEmpty)
        recent.insert(try Self.written("c5", row: 500), droppingInto: &dropped)
        #expect(recent.count == 16)
        #expect(recent[try CaseID("c5")]?.row == 500)
        // Only the case's own older copy is let go.
        #expect(dropped.map(\.row) == [5])
    }

    /// What the map lets go comes back to the caller (which frees it after
    /// answering): the evicted case, and a case's older copy.
    @Test func droppedCasesAreHandedBack() throws {
        var recent = RecentCases(capacity: 2)
        var dropped: [BatchCase] = []
        recent.insert(try Self.written("a", row: 1), droppingInto: &dropped)
        recent.insert(try Self.written("b", row: 2), droppingInto: &dropped)
        #expect(dropped.isEmpty)
        recent.insert(try Self.written("a", row: 10), droppingInto: &dropped)
        #expect(dropped.map(\.row) == [1])
        recent.insert(try Self.written("c", row: 3), droppingInto: &dropped)
        #expect(dropped.map(\.row) == [1, 2])
        #expect(dropped.map(\.state.id) == [try CaseID("a"), try CaseID("b")])
        #expect(recent.count == 2)
    }
}
