import CaseMeshCRDT
import CaseMeshDomain
import Foundation
import GRDB

/// How a case state is laid out on disk: its notes each in a row of
/// `note_states` (the note's register, encoded on its own), everything
/// else in the `state` column of its `cases` row.
///
/// Why: notes are most of a busy case (a case with two dozen notes is
/// about 11 KB), and most writes to such a case add one. With the notes in
/// the case's blob, every note added rewrote all of them: four pages into
/// the WAL and four more into the database file at the checkpoint. Now a
/// note added writes the note and the (small) rest of the case.
struct StoredCase: Sendable {
    var rowid: Int64
    /// The state without its notes.
    var state: [UInt8]
    var digest: StateDigest
    /// Each note's register, in note id order.
    var notes: [(id: String, entry: [UInt8])]

    /// The whole state: the rest of the case with its notes put back.
    func decode() throws -> CaseState {
        var decoded = try CaseState(decoding: state)
        guard !notes.isEmpty else { return decoded }
        guard decoded.causal.store.notes.isBottom else { throw CodecError.invalidValue("notes both in the case row and in rows of their own") }
        let context = decoded.causal.context
        var entries: [(key: NoteID, store: DotFun<Note>)] = []
        entries.reserveCapacity(notes.count)
        for note in notes {
            let register = try DotFun<Note>(decoding: note.entry)
            // What the state's own decoder checks of the dots it holds.
            for entry in register.entries where !context.contains(entry.dot) {
                throw CodecError.invalidValue("note \(note.id) holds \(entry.dot), which the case has not seen")
            }
            entries.append((try NoteID(note.id), register))
        }
        decoded.causal.store.notes = try DotMap(orderedEntries: entries)
        return decoded
    }

    /// The `state` column of `state`: all of it but its notes. A case
    /// without notes stores its canonical encoding (`canonical`), which the
    /// digest needed anyway.
    static func rowBytes(_ state: CaseState, canonical: [UInt8]) -> [UInt8] {
        guard !state.causal.store.notes.isBottom else { return canonical }
        var rest = state
        rest.causal.store.notes = DotMap()
        return rest.encodedBytes
    }

    /// The note rows a write changes: a register to store (new or changed)
    /// or nil to delete, in note id order.
    static func noteChanges(from previous: CaseState?, to new: CaseState) -> [(id: NoteID, entry: [UInt8]?)] {
        let after = new.causal.store.notes
        guard let previous else { return after.entries.map { ($0.key, $0.store.encodedBytes) } }
        let before = previous.causal.store.notes
        // Equal in constant time when the write did not touch the notes (shared storage).
        if before == after { return [] }
        var changes: [(id: NoteID, entry: [UInt8]?)] = []
        var i = 0, j = 0
        let old = before.entries, new = after.entries
        while i < old.count || j < new.count {
            if j == new.count || (i < old.count && old[i].key < new[j].key) {
                changes.append((old[i].key, nil))
                i += 1
            } else if i == old.count || new[j].key < old[i].key {
                changes.append((new[j].key, new[j].store.encodedBytes))
                j += 1
            } else {
                if old[i].store != new[j].store { changes.append((new[j].key, new[j].store.encodedBytes)) }
                i += 1
                j += 1
            }
        }
        return changes
    }
}

extension Database {
    /// The note rows of case row `rowid`, in note id order.
    func fetchNoteRows(caseRow rowid: Int64) throws -> [(id: String, entry: [UInt8])] {
        try Row.fetchAll(cachedStatement(sql: "SELECT note_id, entry FROM note_states WHERE case_row = ? ORDER BY note_id"),
                         arguments: [rowid])
            .map { row in (row[0], try row.withUnsafeData(atIndex: 1) { data in [UInt8](data ?? Data()) }) }
    }
}
