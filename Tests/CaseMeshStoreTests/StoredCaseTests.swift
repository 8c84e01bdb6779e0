import CaseMeshCRDT
import CaseMeshDomain
import Foundation
import GRDB
@testable import CaseMeshStore
import Testing

/// A case's notes live in rows of their own (`note_states`); the rest of
/// the case in its `cases` row. Reads put them back together exactly.
@Suite struct StoredCaseTests {
    func noteRows(_ store: NodeStore, _ id: CaseID) throws -> [String] {
        try store.read { db in
            try String.fetchAll(db, sql: "SELECT note_id FROM note_states WHERE case_row = (SELECT rowid FROM cases WHERE id = ?) ORDER BY note_id",
                                arguments: [id.rawValue])
        }
    }

    @Test func aNoteAddedWritesItsOwnRowAndReadsPutTheCaseBackTogether() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock(step: 1))
            let id = try await store.create(draft(title: "Kafka consumer lag"), actor: actor).state.id
            #expect(try noteRows(store, id).isEmpty)
            for index in 1...3 { _ = try await store.execute(addNote("n\(index)", "note \(index)"), on: id, actor: actor) }
            _ = try await store.execute(.setFields([.owner: .text("ann")]), on: id, actor: actor)
            _ = try await store.execute(.removeNote(noteID("n2")), on: id, actor: actor)
            #expect(try noteRows(store, id) == ["n1", "n3"])
            let rowState = try store.read { db in try Data.fetchOne(db, sql: "SELECT state FROM cases WHERE id = ?", arguments: [id.rawValue]) }
            #expect(try CaseState(decoding: [UInt8](try #require(rowState))).notes.isEmpty, "the case row holds no notes")
            let inMemory = try #require(try store.caseState(id))
            await store.close()

            let reopened = try openStore(dir, clock: ManualClock(step: 1))
            let fromDisk = try #require(try reopened.caseState(id))
            #expect(fromDisk == inMemory)
            #expect(fromDisk.notes.map(\.text) == ["note 1", "note 3"])
            #expect(try recomputedDigest(reopened) == reopened.digest.digest)
            // What a peer catching up receives is the whole state.
            let sent = try reopened.encodedCases([id, id])
            #expect(sent.count == 1)
            #expect(try CaseState(decoding: sent[0]) == inMemory)
            await reopened.close()
        }
    }

    /// A note row that does not decode, or holds a dot its case has not
    /// seen, makes its case `.corrupt` (its writes fail, naming it); the
    /// other cases go on.
    @Test(arguments: ["garbage", "unseen dot"])
    func aDamagedNoteRowFailsOnlyItsCase(damage: String) async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(step: 1)
            let first = try openStore(dir, clock: clock)
            let damaged = try await first.create(draft(id: "damaged", title: "Damaged case"), actor: actor).state.id
            let healthy = try await first.create(draft(id: "healthy", title: "Healthy case"), actor: actor).state.id
            _ = try await first.execute(addNote("n1", "first look"), on: damaged, actor: actor)
            await first.close()
            let entry: Data
            if damage == "garbage" {
                entry = Data([0xFF, 0xFE, 0x00, 0x13])
            } else {
                let stranger = DotFun<Note>(DotFun<Note>.Entry(dot: Dot(ReplicaID("apac"), 999), time: HLCTimestamp(wallMillis: 1, logical: 0),
                                                               value: Note(id: noteID("n1"), author: "x", text: "forged", visibility: .internal, createdAt: 1)))
                entry = Data(stranger.encodedBytes)
            }
            try await DatabaseQueue(path: configuration(dir).databasePath).write { db in
                try db.execute(sql: "UPDATE note_states SET entry = ? WHERE note_id = 'n1'", arguments: [entry])
            }

            let store = try openStore(dir, clock: clock)
            let error = await storeError { try await store.execute(addNote("n2", "second look"), on: damaged, actor: actor) }
            if case let .corrupt(_, reason)? = error {
                #expect(reason.contains("damaged"), "reason: \(reason)")
            } else {
                Issue.record("expected .corrupt, got \(String(describing: error))")
            }
            _ = try await store.execute(addNote("n1", "fine"), on: healthy, actor: actor)
            #expect(try store.caseState(healthy)?.notes.count == 1)
            #expect(store.writeFailure == nil)
            await store.close()
        }
    }

    @Test func noteChangesNameTheRowsToWriteAndDelete() throws {
        let header = CaseHeader(id: try CaseID("c1"), number: "EMEA-1", originRegion: try Region("EMEA"), createdAt: .zero,
                                createdBy: "t", originReplica: ReplicaID("emea"))
        let context = CommandContext(replica: ReplicaID("emea"), time: HLCTimestamp(wallMillis: 10, logical: 0), actor: "t")
        var state = CaseState(header: header)
        for id in ["a", "b", "c"] { _ = try state.execute(addNote(id, "text \(id)"), context: context) }
        #expect(StoredCase.noteChanges(from: nil, to: state).map(\.id.rawValue) == ["a", "b", "c"])
        #expect(StoredCase.noteChanges(from: state, to: state).isEmpty)
        var next = state
        _ = try next.execute(.removeNote(noteID("a")), context: context)
        _ = try next.execute(addNote("d", "text d"), context: context)
        let changes = StoredCase.noteChanges(from: state, to: next)
        #expect(changes.map(\.id.rawValue) == ["a", "d"])
        #expect(changes.map { $0.entry == nil } == [true, false])
    }
}
