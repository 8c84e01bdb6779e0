import CaseMeshDomain
import Foundation
import GRDB
@testable import CaseMeshStore
import Testing

/// Full-text search indexes each note on its own: adding, removing and
/// finding notes, and the upgrade of a store that held all notes in one
/// document.
@Suite struct SearchTextTests {
    func search(_ store: NodeStore, _ text: String) throws -> Set<String> {
        Set(try allSummaries(store, CaseQuery(text: text, limit: 1000)).map(\.id))
    }

    @Test func wordsOfARemovedNoteAreNoLongerFoundAndWordsMayComeFromDifferentParts() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock(step: 1))
            let kafka = try await store.create(draft(title: "Kafka consumer lag"), actor: actor).state.id
            let other = try await store.create(draft(title: "Login loops"), actor: actor).state.id
            _ = try await store.execute(addNote("n1", "captured a tcpdump"), on: kafka, actor: actor)
            _ = try await store.execute(addNote("n2", "rebalance storm at noon"), on: kafka, actor: actor)
            _ = try await store.execute(addNote("n1", "tcpdump of the redirects"), on: other, actor: actor)

            #expect(try search(store, "tcpdump") == [kafka.rawValue, other.rawValue])
            #expect(try search(store, "kafka tcpdump") == [kafka.rawValue], "title and note words together")
            #expect(try search(store, "tcpdump rebalance") == [kafka.rawValue], "words of two notes together")
            #expect(try search(store, "redirects rebalance").isEmpty)

            _ = try await store.execute(.removeNote(noteID("n1")), on: kafka, actor: actor)
            #expect(try search(store, "tcpdump") == [other.rawValue])
            #expect(try search(store, "rebalance") == [kafka.rawValue])
            // Added again under the same id, with other words.
            _ = try await store.execute(addNote("n1", "heap dump attached"), on: kafka, actor: actor)
            #expect(try search(store, "heap") == [kafka.rawValue])
            #expect(try search(store, "tcpdump") == [other.rawValue])
            await store.close()

            // The index is stored, not rebuilt on open.
            let reopened = try openStore(dir, clock: ManualClock(step: 1))
            #expect(try search(reopened, "heap rebalance kafka") == [kafka.rawValue])
            #expect(try search(reopened, "captured").isEmpty)
            await reopened.close()
        }
    }

    /// An index entry the cases do not explain (left by a bug, or a hand
    /// edit) must not fail the writes of its case: it is replaced.
    @Test func aStaleNoteEntryIsReplacedNotAFailure() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock(step: 1))
            let kafka = try await store.create(draft(title: "Kafka consumer lag"), actor: actor).state.id
            await store.close()
            let queue = try DatabaseQueue(path: configuration(dir).databasePath)
            try await queue.write { db in
                try db.execute(sql: "INSERT INTO case_notes(case_row, note_id) SELECT rowid, 'n9' FROM cases WHERE id = ?", arguments: [kafka.rawValue])
                try db.execute(sql: "INSERT INTO note_text(rowid, text) VALUES (last_insert_rowid(), 'stale words')")
            }
            try queue.close()

            let reopened = try openStore(dir, clock: ManualClock(step: 1))
            #expect(try search(reopened, "stale") == [kafka.rawValue])
            _ = try await reopened.execute(addNote("n9", "fresh words"), on: kafka, actor: actor)
            #expect(try search(reopened, "stale").isEmpty)
            #expect(try search(reopened, "fresh") == [kafka.rawValue])
            await reopened.close()
        }
    }

    @Test func changesBetweenNoteListsAreMergedById() throws {
        let old = [(id: noteID("a"), text: "one"), (id: noteID("b"), text: "two"), (id: noteID("d"), text: "four")]
        let new = [(id: noteID("b"), text: "TWO"), (id: noteID("c"), text: "three"), (id: noteID("d"), text: "four")]
        #expect(SearchText.changes(from: old, to: new) == [
            .init(id: noteID("a"), text: nil),
            .init(id: noteID("b"), text: "TWO"),
            .init(id: noteID("c"), text: "three"),
        ])
        #expect(SearchText.changes(from: old, to: old).isEmpty)
        #expect(SearchText.changes(from: [], to: old).map(\.text) == ["one", "two", "four"])
    }

    @Test func wordsTheTokenizerSkipsDoNotFilter() {
        #expect(CaseMeshStore.NodeStore.ftsPhrases("kafka + lag") == ["\"kafka\"", "\"lag\""])
        #expect(CaseMeshStore.NodeStore.ftsPhrases("*") == ["\"*\""], "nothing but such words: kept, and finds nothing")
        #expect(CaseMeshStore.NodeStore.ftsPhrases("   ").isEmpty)
        #expect(CaseMeshStore.NodeStore.ftsPhrases("say \"hi\"") == ["\"say\"", "\"\"\"hi\"\"\""])
    }

    /// A store written before notes were indexed one by one (migration v4):
    /// on open its search tables are rebuilt, and its notes are found and
    /// can be removed like new ones.
    @Test func aStoreWithAllNotesInOneDocumentIsUpgraded() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock(step: 1))
            let (kafka, quiet) = try await writeKafkaAndQuietCases(store)
            await store.close()

            // Back to the v4 shape: one document per case, notes joined.
            let queue = try DatabaseQueue(path: configuration(dir).databasePath)
            try await queue.write { db in
                try revertToCasesWithStates(db)
                try db.execute(sql: """
                    CREATE VIRTUAL TABLE case_search USING fts5(title, problem, notes, tokenize = 'unicode61');
                    INSERT INTO case_search(rowid, title, problem, notes)
                        SELECT c.rowid, t.title, t.problem, coalesce((SELECT group_concat(n.text, char(10)) FROM case_notes m
                            JOIN note_text n ON n.rowid = m.rowid WHERE m.case_row = c.rowid), '')
                        FROM cases c JOIN case_text t ON t.rowid = c.rowid;
                    DROP TABLE case_text; DROP TABLE note_text; DROP TABLE case_notes;
                    DELETE FROM grdb_migrations WHERE identifier = 'v5';
                    """)
                #expect(try String.fetchOne(db, sql: "SELECT notes FROM case_search WHERE title = 'Kafka consumer lag'")?.contains("tcpdump") == true)
            }
            try queue.close()

            let upgraded = try openStore(dir, clock: ManualClock(step: 1))
            #expect(try search(upgraded, "tcpdump") == [kafka.rawValue])
            #expect(try search(upgraded, "offsets rebalance") == [kafka.rawValue])
            #expect(try search(upgraded, "quiet") == [quiet.rawValue])
            _ = try await upgraded.execute(.removeNote(noteID("n1")), on: kafka, actor: actor)
            #expect(try search(upgraded, "tcpdump").isEmpty)
            #expect(try search(upgraded, "rebalance") == [kafka.rawValue])
            #expect(try upgraded.integrityCheck().isEmpty)
            await upgraded.close()
        }
    }
}

/// Two cases for search tests: "Kafka consumer lag" (problem statement
/// "Offsets stall nightly", notes n1 "captured a tcpdump" and n2 "rebalance
/// storm") and "Quiet case".
func writeKafkaAndQuietCases(_ store: NodeStore) async throws -> (kafka: CaseID, quiet: CaseID) {
    let kafka = try await store.create(draft(title: "Kafka consumer lag", fields: [.problemStatement: .text("Offsets stall nightly")]),
                                       actor: actor).state.id
    _ = try await store.execute(addNote("n1", "captured a tcpdump"), on: kafka, actor: actor)
    _ = try await store.execute(addNote("n2", "rebalance storm"), on: kafka, actor: actor)
    let quiet = try await store.create(draft(title: "Quiet case"), actor: actor).state.id
    return (kafka, quiet)
}
