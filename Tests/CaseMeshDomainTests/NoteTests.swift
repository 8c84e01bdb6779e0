import Testing
import CaseMeshCRDT
@testable import CaseMeshDomain

/// Notes: add and remove, ids unique per case, text validated.
@Suite struct NoteTests {
    /// A note keeps its author, trimmed text, visibility and time, and the timeline says it was added.
    @Test func addNoteRecordsNoteAndEvent() throws {
        var c = try ReplicaCase()
        let delta = try c.run(.addNote(id: noteID("n1"), text: "  Called the customer  ", visibility: .customer), actor: "Bea Lead")
        let note = try #require(c.state.notes.first)
        #expect(c.state.notes.count == 1)
        #expect(note.id == noteID("n1"))
        #expect(note.text == "Called the customer")
        #expect(note.author == "Bea Lead")
        #expect(note.visibility == .customer)
        #expect(note.createdAt == c.clock)
        let event = try #require(delta.events.first?.event)
        #expect(event.kind == .noteAdded)
        #expect(event.ref == "n1")
        #expect(event.to == "customer")
        #expect(event.actor == "Bea Lead")
    }

    /// A case's store says whether it holds a dot a context has seen, in any
    /// of its parts (a join asks before looking for removals): a note's dot,
    /// and no dot that only the case's own later writes would have made.
    @Test func caseStoreKnowsWhichDotsAContextHasSeen() throws {
        var c = try ReplicaCase()
        #expect(c.state.causal.store.holdsDot(seenBy: c.state.causal.context))
        #expect(!c.state.causal.store.holdsDot(seenBy: CausalContext()))
        try c.run(.addNote(id: noteID("n1"), text: "First", visibility: .internal))
        let store = c.state.causal.store
        let noteDots = CausalContext(dots: store.notes.dots)
        #expect(!noteDots.isEmpty)
        #expect(store.holdsDot(seenBy: noteDots))
        #expect(store.notes.holdsDot(seenBy: noteDots) && !store.fields.holdsDot(seenBy: noteDots))
    }

    /// A client retry with the same note id must not create a second note or overwrite it.
    @Test func duplicateNoteIdIsRefused() throws {
        var c = try ReplicaCase()
        try c.run(.addNote(id: noteID("n1"), text: "First", visibility: .internal))
        c.expectRefusal(.addNote(id: noteID("n1"), text: "Second", visibility: .customer), code: .ruleViolated,
                        rule: "note_exists", field: "id", mentions: ["note", "n1", "already exists"])
    }

    /// Removing a note drops only that note, is recorded, and frees its id.
    @Test func removeNoteDropsItAndRecordsAnEvent() throws {
        var c = try ReplicaCase()
        try c.run(.addNote(id: noteID("n1"), text: "First", visibility: .internal))
        try c.run(.addNote(id: noteID("n2"), text: "Second", visibility: .customer))
        let delta = try c.run(.removeNote(noteID("n1")))
        #expect(c.state.notes.map(\.id) == [noteID("n2")])
        #expect(delta.events.map(\.event.kind) == [.noteRemoved])
        #expect(delta.events.first?.event.ref == "n1")
        // A removed id may be used again.
        try c.run(.addNote(id: noteID("n1"), text: "Again", visibility: .internal))
        #expect(c.state.notes.map(\.text).sorted() == ["Again", "Second"])
    }

    /// Removing a note that is not there is reported as not found.
    @Test func removingAnUnknownNoteIsNotFound() throws {
        var c = try ReplicaCase()
        try c.run(.addNote(id: noteID("n1"), text: "First", visibility: .internal))
        c.expectRefusal(.removeNote(noteID("n9")), code: .notFound, field: "noteId", mentions: ["no note", "n9"])
    }

    /// An empty note says nothing; it is refused.
    @Test(arguments: ["", "   ", "\n\n"])
    func emptyNoteIsRefused(text: String) throws {
        let c = try ReplicaCase()
        c.expectRefusal(.addNote(id: noteID("n1"), text: text, visibility: .internal), code: .validationFailed,
                        field: "text", mentions: ["text", "empty"])
    }

    /// Notes are capped at 20,000 characters.
    @Test func hugeNoteIsRefused() throws {
        var c = try ReplicaCase()
        c.expectRefusal(.addNote(id: noteID("n1"), text: String(repeating: "a", count: 20_001), visibility: .internal),
                        code: .validationFailed, field: "text", mentions: ["text", "at most 20000"])
        try c.run(.addNote(id: noteID("n1"), text: String(repeating: "a", count: 20_000), visibility: .internal))
        #expect(c.state.notes.first?.text.count == 20_000)
    }
}
