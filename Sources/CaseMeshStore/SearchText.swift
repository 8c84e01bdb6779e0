import CaseMeshDomain

/// What full-text search indexes of a case, and what a write changed in it.
///
/// Why per note: a case collects dozens of notes, and most writes to a busy
/// case add one. With all notes in one document, each addition made SQLite
/// un-index and re-index the text of every note; now it indexes the new note
/// alone, and the title and problem statement only when they change.
struct SearchText: Sendable {
    /// The case document's text; nil when unchanged.
    var caseText: (title: String, problem: String)?
    /// Notes added, changed or removed (text nil).
    var notes: [NoteChange]

    struct NoteChange: Sendable, Equatable {
        var id: NoteID
        var text: String?
    }

    /// The changes from `previous` (nil: a new case) to `new`.
    init(new: CaseState, previous: CaseState?) {
        let title = new.title ?? "", problem = new.text(.problemStatement) ?? ""
        if let previous, (previous.title ?? "") == title, (previous.text(.problemStatement) ?? "") == problem {
            caseText = nil
        } else {
            caseText = (title, problem)
        }
        guard let previous else {
            notes = Self.noteTexts(new).map { NoteChange(id: $0.id, text: $0.text) }
            return
        }
        // Compares in constant time when the write did not touch the notes (shared storage).
        if previous.causal.store.notes == new.causal.store.notes {
            notes = []
            return
        }
        notes = Self.changes(from: Self.noteTexts(previous), to: Self.noteTexts(new))
    }

    /// Each note's indexed text, in note id order: the text that wins the
    /// note's register, as reads show it.
    static func noteTexts(_ state: CaseState) -> [(id: NoteID, text: String)] {
        state.causal.store.notes.entries.compactMap { entry in entry.store.value.map { (entry.key, $0.text) } }
    }

    /// Merges two id-ordered lists into the notes to index again or drop.
    static func changes(from old: [(id: NoteID, text: String)], to new: [(id: NoteID, text: String)]) -> [NoteChange] {
        var result: [NoteChange] = []
        var i = 0, j = 0
        while i < old.count || j < new.count {
            if j == new.count || (i < old.count && old[i].id < new[j].id) {
                result.append(NoteChange(id: old[i].id, text: nil))
                i += 1
            } else if i == old.count || new[j].id < old[i].id {
                result.append(NoteChange(id: new[j].id, text: new[j].text))
                j += 1
            } else {
                if old[i].text != new[j].text { result.append(NoteChange(id: new[j].id, text: new[j].text)) }
                i += 1
                j += 1
            }
        }
        return result
    }

    /// The statements that bring the search tables of case row `rowid` up to date.
    func writes(rowid: Int64, isNewCase: Bool) -> [BatchWrite] {
        var writes: [BatchWrite] = []
        if let caseText { writes.append(.caseText(rowid: rowid, title: caseText.title, problem: caseText.problem, replacing: !isNewCase)) }
        for note in notes { writes.append(.noteText(caseRow: rowid, note: note.id.rawValue, text: note.text)) }
        return writes
    }
}
