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
