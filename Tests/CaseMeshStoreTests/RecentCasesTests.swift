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
            let store = try openStore(dir, clock: clock)
            let count = RecentCases.capacity + 600
            for start in stride(from: 0, to: count, by: 100) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in start..<min(start + 100, count) {
                        group.addTask {
                            _ = try await store.create(draft(id: "c\(index)", title: "Case \(index)"), actor: actor)
                            _ = try await store.execute(addNote("n\(index)", "first look at \(index)"), on: caseID("c\(index)"), actor: actor)
                        }
                    }
                    try await group.waitForAll()
                }
            }
            #expect(store.recent.withLock { $0.count } <= RecentCases.capacity)
            // An evicted case and a cached one, changed again: both read back right.
            _ = try await store.execute(addNote("m0", "second look"), on: caseID("c0"), actor: actor)
            _ = try await store.execute(addNote("m1", "second look"), on: caseID("c\(count - 1)"), actor: actor)
            let cached = try StoreSnapshot(store)
            #expect(cached.cases == count)
            #expect(try store.caseState(caseID("c0"))?.notes.count == 2)
            await store.close()

            let reopened = try openStore(dir, clock: clock)
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
