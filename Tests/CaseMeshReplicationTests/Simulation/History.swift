import CaseMeshCRDT
import CaseMeshDomain

/// Every acknowledged client write of a simulation, and the checker that
/// judges the converged replicas against it.
struct History {
    var operations = 0
    private(set) var cases: [CaseID: ReplicaID] = [:]
    private var fieldWrites: [CaseID: [CaseField: [(value: String, stamp: LWWStamp)]]] = [:]
    private var notesAdded: [CaseID: Set<NoteID>] = [:]
    private var notesRemoved: [CaseID: Set<NoteID>] = [:]
    /// Dots of acknowledged attendee puts, and the dots each put or remove observed.
    private var attendeeDots: [CaseID: [AttendeeID: Set<Dot>]] = [:]
    private var attendeeObserved: [CaseID: [AttendeeID: Set<Dot>]] = [:]
    private(set) var acknowledged = 0
    /// Notable operations, for a replayed seed's trace.
    private(set) var notes: [String] = []

    mutating func note(_ text: String) { notes.append(text) }

    mutating func created(_ state: CaseState, at node: ReplicaID) {
        cases[state.id] = node
        acknowledged += 1
    }

    mutating func fieldWritten(case id: CaseID, field: CaseField, value: String, stamp: LWWStamp) {
        fieldWrites[id, default: [:]][field, default: []].append((value, stamp))
        acknowledged += 1
    }

    mutating func noteAdded(case id: CaseID, note: NoteID) {
        notesAdded[id, default: []].insert(note)
        acknowledged += 1
    }

    mutating func noteRemoved(case id: CaseID, note: NoteID) {
        notesRemoved[id, default: []].insert(note)
        acknowledged += 1
    }

    mutating func attendeePut(case id: CaseID, attendee: AttendeeID, dots: Set<Dot>, observed: Set<Dot>) {
        // Putting what is already there writes nothing and overwrites nothing.
        guard !dots.isEmpty else { return }
        attendeeDots[id, default: [:]][attendee, default: []].formUnion(dots)
        attendeeObserved[id, default: [:]][attendee, default: []].formUnion(observed)
        acknowledged += 1
    }

    mutating func attendeeRemoved(case id: CaseID, attendee: AttendeeID, observed: Set<Dot>) {
        attendeeObserved[id, default: [:]][attendee, default: []].formUnion(observed)
        acknowledged += 1
    }

    /// What is wrong with `final` (the converged case set), if anything.
    func problems(in final: CaseSet) -> [String] {
        var problems: [String] = []
        for (id, origin) in cases.sorted(by: { $0.key < $1.key }) {
            guard let state = final[id] else {
                problems.append("case \(id) created at \(origin) is missing")
                continue
            }
            for (field, writes) in fieldWrites[id] ?? [:] {
                let winner = writes.max { $0.stamp < $1.stamp }!
                let stamp = state.causal.store.fields[field]?.winner?.stamp
                if state.text(field) != winner.value || stamp != winner.stamp {
                    problems.append("case \(id) \(field.rawValue) is \(state.text(field) ?? "nil") @\(stamp.map { "\($0)" } ?? "-"), expected the latest acknowledged write \(winner.value) @\(winner.stamp)")
                }
            }
            let notes = state.notes.map(\.id)
            if Set(notes).count != notes.count { problems.append("case \(id) lists a note twice") }
            let expectedNotes = (notesAdded[id] ?? []).subtracting(notesRemoved[id] ?? [])
            for note in expectedNotes where !notes.contains(note) { problems.append("case \(id) lost acknowledged note \(note)") }
            for note in notes where !expectedNotes.contains(note) {
                problems.append((notesAdded[id] ?? []).contains(note) ? "case \(id) still has removed note \(note)" : "case \(id) has note \(note) nobody added")
            }
            let attendees = Set(state.attendees.map(\.id))
            for (attendee, dots) in attendeeDots[id] ?? [:] {
                let survivors = dots.subtracting(attendeeObserved[id]?[attendee] ?? [])
                let present = attendees.contains(attendee)
                if !survivors.isEmpty && !present {
                    problems.append("case \(id) lost attendee \(attendee): adds \(survivors.sorted()) were never observed by a remove")
                }
                if survivors.isEmpty && present { problems.append("case \(id) still has attendee \(attendee) though every add was observed-removed") }
                if present, let held = state.causal.store.attendees[attendee]?.dots, Set(held) != survivors {
                    problems.append("case \(id) attendee \(attendee) holds dots \(held.sorted()), expected \(survivors.sorted())")
                }
            }
            for attendee in attendees where attendeeDots[id]?[attendee] == nil {
                problems.append("case \(id) has attendee \(attendee) nobody added")
            }
        }
        for id in final.cases.keys where cases[id] == nil { problems.append("case \(id) exists but was never acknowledged") }
        return problems
    }
}
