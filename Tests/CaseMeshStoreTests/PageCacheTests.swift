import Testing
import CaseMeshCRDT
@testable import CaseMeshStore

/// The writer keeps a large page cache and the readers a small one: SQLite
/// empties a reader's cache whenever it starts a read after another
/// connection's commit, at a cost that grows with the cache, so a large
/// reader cache only costs time on a store that is being written.
@Suite struct PageCacheTests {
    @Test func theWriterHasTheLargeCacheAndReadersTheSmallOne() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock(), durability: .normal)
            _ = try await store.create(draft(), actor: actor)
            let writer = try await store.pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA cache_size") }
            let reader = try await store.pool.read { db in try Int.fetchOne(db, sql: "PRAGMA cache_size") }
            #expect(writer == -NodeStore.writerCacheKiB)
            #expect(reader == -NodeStore.readerCacheKiB)
            #expect(NodeStore.readerCacheKiB < NodeStore.writerCacheKiB)
            await store.close()
        }
    }
}
