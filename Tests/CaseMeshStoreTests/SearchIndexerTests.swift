import CaseMeshDomain
import Foundation
import GRDB
import Synchronization
@testable import CaseMeshStore
import Testing

/// Full-text changes are written after their commits, many at a time: a
/// commit only marks its cases. A search, a close and an open each bring
/// the index up to date first, so nothing acknowledged is missing from it.
@Suite struct SearchIndexerTests {
    /// A store whose background index writes wait an hour: only a search,
    /// a close or an open write them during a test.
    func openSlowIndexing(_ dir: String) throws -> NodeStore {
        var settings = configuration(dir)
        settings.searchIndexDelayMillis = 3_600_000
        return try NodeStore.open(settings, wallClock: ManualClock(step: 1).wallClock, logger: testLogger)
    }

    func search(_ store: NodeStore, _ text: String) throws -> Set<String> {
        Set(try allSummaries(store, CaseQuery(text: text, limit: 1000)).map(\.id))
    }

    /// The marks and the index as the database file holds them, read beside the store.
    func onDisk(_ dir: String, _ word: String) throws -> (marked: Int, indexedNotes: Int) {
        var readOnly = Configuration()
        readOnly.readonly = true
        let queue = try DatabaseQueue(path: configuration(dir).databasePath, configuration: readOnly)
        defer { try? queue.close() }
        return try queue.read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM search_pending") ?? -1,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM note_text WHERE note_text MATCH ?", arguments: [word]) ?? -1)
        }
    }

    @Test func aCommitMarksItsCaseAndASearchWritesTheIndexFirst() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openSlowIndexing(dir)
            let kafka = try await store.create(draft(title: "Kafka consumer lag"), actor: actor).state.id
            _ = try await store.execute(addNote("n1", "captured a tcpdump"), on: kafka, actor: actor)
            // Committed and acknowledged; the index is not written yet.
            #expect(try onDisk(dir, "tcpdump") == (marked: 1, indexedNotes: 0))

            #expect(try search(store, "tcpdump") == [kafka.rawValue])
            #expect(try search(store, "kafka tcpdump") == [kafka.rawValue])
            #expect(try onDisk(dir, "tcpdump") == (marked: 0, indexedNotes: 1))

            // A write that changes no searched text marks nothing.
            _ = try await store.execute(.setFields([.owner: .text("dana")]), on: kafka, actor: actor)
            #expect(try onDisk(dir, "tcpdump") == (marked: 0, indexedNotes: 1))
            await store.close()
        }
    }

    @Test func closingWritesWhatIsQueued() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openSlowIndexing(dir)
            let kafka = try await store.create(draft(title: "Kafka consumer lag"), actor: actor).state.id
            _ = try await store.execute(addNote("n1", "captured a tcpdump"), on: kafka, actor: actor)
            _ = try await store.execute(addNote("n2", "rebalance storm"), on: kafka, actor: actor)
            _ = try await store.execute(.removeNote(noteID("n1")), on: kafka, actor: actor)
            await store.close()
            #expect(try onDisk(dir, "tcpdump") == (marked: 0, indexedNotes: 0))
            #expect(try onDisk(dir, "rebalance") == (marked: 0, indexedNotes: 1))
        }
    }

    @Test func theBackgroundWriteComesWithoutASearch() async throws {
        try await withTemporaryDirectory { dir in
            var settings = configuration(dir)
            settings.searchIndexDelayMillis = 10
            let store = try NodeStore.open(settings, wallClock: ManualClock(step: 1).wallClock, logger: testLogger)
            let kafka = try await store.create(draft(title: "Kafka consumer lag"), actor: actor).state.id
            _ = try await store.execute(addNote("n1", "captured a tcpdump"), on: kafka, actor: actor)
            var state = try onDisk(dir, "tcpdump")
            for _ in 0..<3_000 where state != (marked: 0, indexedNotes: 1) {
                try await Task.sleep(for: .milliseconds(10))
                state = try onDisk(dir, "tcpdump")
            }
            #expect(state == (marked: 0, indexedNotes: 1))
            await store.close()
        }
    }

    /// A crash between a commit and its index write leaves the case marked
    /// with entries that disagree with it: on open, the marked cases'
    /// entries are rebuilt from their stored states before anything is served.
    @Test func casesACrashLeftUnindexedAreIndexedWhenTheStoreOpens() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openSlowIndexing(dir)
            let (kafka, quiet) = try await writeKafkaAndQuietCases(store)
            await store.close()

            // What a crash could leave: n2 and the title never indexed, a
            // note indexed that the case no longer has, the case marked.
            let queue = try DatabaseQueue(path: configuration(dir).databasePath)
            try await queue.write { db in
                let row = try Int64.fetchOne(db, sql: "SELECT rowid FROM cases WHERE id = ?", arguments: [kafka.rawValue])!
                try db.execute(sql: "DELETE FROM note_text WHERE rowid IN (SELECT rowid FROM case_notes WHERE case_row = ? AND note_id = 'n2')", arguments: [row])
                try db.execute(sql: "DELETE FROM case_notes WHERE case_row = ? AND note_id = 'n2'", arguments: [row])
                try db.execute(sql: "DELETE FROM case_text WHERE rowid = ?", arguments: [row])
                try db.execute(sql: "INSERT INTO case_notes(case_row, note_id) VALUES (?, 'n9')", arguments: [row])
                try db.execute(sql: "INSERT INTO note_text(rowid, text) VALUES (last_insert_rowid(), 'stale words')")
                try db.execute(sql: "INSERT INTO search_pending(case_row) VALUES (?)", arguments: [row])
            }
            try queue.close()
            #expect(try onDisk(dir, "rebalance") == (marked: 1, indexedNotes: 0))

            let reopened = try openSlowIndexing(dir)
            // Rebuilt by the open itself, before any search asked.
            #expect(try onDisk(dir, "rebalance") == (marked: 0, indexedNotes: 1))
            #expect(try onDisk(dir, "stale") == (marked: 0, indexedNotes: 0))
            #expect(try search(reopened, "kafka offsets rebalance") == [kafka.rawValue])
            #expect(try search(reopened, "tcpdump") == [kafka.rawValue])
            #expect(try search(reopened, "quiet") == [quiet.rawValue])
            #expect(try search(reopened, "stale").isEmpty)
            #expect(try reopened.integrityCheck().isEmpty)
            await reopened.close()
        }
    }

    /// While a write of the queue is in progress its changes are not
    /// visible to readers, so a search must still wait for the writer.
    @Test func workIsPendingUntilTheIndexTransactionHasCommitted() throws {
        let queue = try DatabaseQueue()
        try Schema.migrator.migrate(queue)
        let indexer = SearchIndexer(delayMillis: 3_600_000, recover: false, logger: testLogger)
        #expect(!indexer.hasWork)
        #expect(indexer.committed([.noteText(caseRow: 1, note: "n1", text: "captured a tcpdump")]))
        #expect(!indexer.committed([.noteText(caseRow: 1, note: "n2", text: "rebalance storm")]), "one write is scheduled at a time")
        #expect(indexer.hasWork)
        let seen = Mutex<[Bool]>([])
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "INSERT INTO search_pending(case_row) VALUES (1)")
            db.add(function: DatabaseFunction("observe_indexer", argumentCount: 0, pure: false) { _ in
                seen.withLock { $0.append(indexer.hasWork) }
                return nil
            })
            try db.execute(sql: "CREATE TEMP TRIGGER observe AFTER DELETE ON search_pending BEGIN SELECT observe_indexer(); END")
            try indexer.write(db, liveVersion: { _ in nil })
        }
        #expect(seen.withLock { $0 } == [true])
        #expect(!indexer.hasWork)
        let (indexed, marked) = try queue.read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM note_text WHERE note_text MATCH 'tcpdump OR rebalance'"),
             try Int.fetchOne(db, sql: "SELECT count(*) FROM search_pending"))
        }
        #expect(indexed == 2)
        #expect(marked == 0)
    }
}
