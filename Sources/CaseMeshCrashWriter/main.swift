// casemesh-crash-writer: writes to a node store as fast as it can and prints
// one line per acknowledged write, for the crash test that kills it with
// SIGKILL and then checks that every acknowledged write survived.
//
//   casemesh-crash-writer --data DIR [--writers N]
//
// Output lines (each written with one write(2) after the store acknowledged):
//   case <caseId>
//   note <caseId> <noteId>
//
// Each case gets a note right after it is created, and the case created
// half as long ago gets one too, so cases are written again long after
// their creation (the store then cleans old case versions as it goes).

import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshStore
import Foundation
import Logging

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("casemesh-crash-writer: \(message)\n".utf8))
    exit(2)
}

var dataDirectory: String?
var writers = 8
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--data": dataDirectory = arguments.next()
    case "--writers":
        guard let value = arguments.next().flatMap(Int.init), value > 0 else { fail("--writers needs a positive number") }
        writers = value
    default: fail("unknown argument \(argument); usage: casemesh-crash-writer --data DIR [--writers N]")
    }
}
guard let dataDirectory else { fail("--data DIR is required") }

let store: NodeStore
do {
    store = try NodeStore.open(
        StoreConfiguration(dataDirectory: dataDirectory, replica: ReplicaID("emea"), region: try Region("EMEA")),
        wallClock: SystemWallClock(), logger: Logger(label: "casemesh.crash-writer"))
} catch {
    fail("\(error)")
}

let out = FileHandle.standardOutput
let run = UUID().uuidString.prefix(8).lowercased()

await withTaskGroup(of: Void.self) { group in
    for writer in 0..<writers {
        group.addTask {
            var sequence = 0
            while true {
                sequence += 1
                let caseID = try! CaseID("c-\(run)-\(writer)-\(sequence)")
                do {
                    _ = try await store.create(
                        CaseDraft(id: caseID, title: "Crash test case \(sequence)", customer: "Crash Co", product: "Store", severity: .sev3),
                        actor: "crash-writer")
                    out.write(Data("case \(caseID)\n".utf8))
                    let noteID = try! NoteID("n-\(sequence)")
                    _ = try await store.execute(.addNote(id: noteID, text: "note \(sequence)", visibility: .internal), on: caseID, actor: "crash-writer")
                    out.write(Data("note \(caseID) \(noteID)\n".utf8))
                    // A note on an older case too: with three versions per
                    // case the store cleans old versions (relocating live
                    // ones) while it is killed.
                    if sequence > 1 {
                        let older = try! CaseID("c-\(run)-\(writer)-\(sequence / 2)")
                        let laterNote = try! NoteID("m-\(sequence)")
                        _ = try await store.execute(.addNote(id: laterNote, text: "later note \(sequence)", visibility: .internal), on: older, actor: "crash-writer")
                        out.write(Data("note \(older) \(laterNote)\n".utf8))
                    }
                } catch {
                    fail("write failed: \(error)")
                }
            }
        }
    }
}
