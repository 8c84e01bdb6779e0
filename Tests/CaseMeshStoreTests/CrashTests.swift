import CaseMeshCRDT
import CaseMeshDomain
import Foundation
import Logging
import Testing
@testable import CaseMeshStore

/// Where `swift build` put the executables: next to the test bundle.
private let binDirectory: URL = {
    if let override = ProcessInfo.processInfo.environment["CASEMESH_BIN_DIR"] { return URL(fileURLWithPath: override) }
    return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
}()

private let crashWriter = binDirectory.appendingPathComponent("casemesh-crash-writer")

/// The crash test: a real process writes and acknowledges continuously and is
/// killed with SIGKILL at random moments; after every kill the store reopens
/// with every acknowledged write present and `PRAGMA integrity_check` ok.
///
/// `CASEMESH_CRASH_KILLS` sets the number of kills (5 by default in the suite;
/// the documented long run uses 20) and `CASEMESH_CRASH_SEED` replays a run.
@Suite struct CrashTests {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: crashWriter.path),
                   "the casemesh-crash-writer executable is built next to the tests (swift build --build-tests)"))
    func acknowledgedWritesSurviveSIGKILL() async throws {
        let environment = ProcessInfo.processInfo.environment
        let kills = Int(environment["CASEMESH_CRASH_KILLS"] ?? "") ?? 5
        let seed = UInt64(environment["CASEMESH_CRASH_SEED"] ?? "") ?? UInt64.random(in: 1...UInt64(UInt32.max))
        var random = SplitMix64(seed: seed)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("casemesh-crash-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)

        var ackedCases: Set<String> = []
        var ackedNotes: [(caseID: String, noteID: String)] = []
        var oldestVersion: Int64 = 0
        for round in 1...kills {
            let output = directory.appendingPathComponent("acks-\(round).txt")
            try #require(FileManager.default.createFile(atPath: output.path, contents: nil))
            let handle = try FileHandle(forWritingTo: output)
            let process = Process()
            process.executableURL = crashWriter
            process.arguments = ["--data", directory.appendingPathComponent("node").path]
            process.standardOutput = handle
            try process.run()
            // Let it get going (opening, first commits), then kill it at a random moment.
            let delay = 300 + random.next() % 900
            try await Task.sleep(for: .milliseconds(delay))
            kill(process.processIdentifier, SIGKILL)
            try await offPool { process.waitUntilExit() }
            try handle.close()
            #expect(process.terminationReason == .uncaughtSignal, "round \(round) (seed \(seed)): the writer exited on its own with status \(process.terminationStatus)")

            // Only complete lines count: a line is printed after its write was acknowledged.
            let text = try String(contentsOf: output, encoding: .utf8)
            for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                let parts = line.split(separator: " ").map(String.init)
                if parts.count == 2, parts[0] == "case" { ackedCases.insert(parts[1]) }
                if parts.count == 3, parts[0] == "note" { ackedNotes.append((parts[1], parts[2])) }
            }

            let store = try NodeStore.open(
                StoreConfiguration(dataDirectory: directory.appendingPathComponent("node").path, replica: ReplicaID("emea"), region: try Region("EMEA")),
                wallClock: SystemWallClock(), logger: Logger(label: "casemesh.test.crash"))
            // Thousands of synchronous reads: off the cooperative pool.
            let (cases, notes) = (ackedCases, ackedNotes)
            let check = try await offPool { () throws -> (integrity: [String], missing: [String], digestMatches: Bool) in
                let integrity = try store.integrityCheck()
                var missing: [String] = []
                for id in cases where try store.caseState(CaseID(id)) == nil { missing.append("case \(id)") }
                for (caseID, noteID) in notes {
                    let state = try store.caseState(CaseID(caseID))
                    if state?.notes.contains(where: { $0.id.rawValue == noteID }) != true { missing.append("note \(caseID)/\(noteID)") }
                }
                // The stored digest must match the cases actually stored.
                let (digest, count) = store.digest
                var recomputed = StateDigest.zero
                var stored = 0
                for id in cases { if let state = try store.caseState(CaseID(id)) { recomputed.toggle(state.digest); stored += 1 } }
                return (integrity, missing, count != stored || digest == recomputed)
            }
            #expect(check.integrity.isEmpty, "round \(round) (seed \(seed)): integrity check failed: \(check.integrity.prefix(5))")
            #expect(check.missing.isEmpty, "round \(round) (seed \(seed)): \(check.missing.count) acknowledged writes lost, e.g. \(check.missing.prefix(5))")
            #expect(check.digestMatches, "round \(round) (seed \(seed)): stored digest differs from the cases")
            oldestVersion = try store.read { db in try Int64.fetchOne(db, sql: "SELECT min(rowid) FROM case_versions") } ?? 0
            await store.close()
        }
        // The writer notes older cases too, so old versions were cleaned (and live ones relocated) while it was being killed.
        #expect(oldestVersion > 1, "seed \(seed): no case version was ever cleaned")
        #expect(ackedCases.count > kills, "seed \(seed): the writer acknowledged only \(ackedCases.count) cases in \(kills) rounds")
        print("crash test: \(kills) kills, \(ackedCases.count) acknowledged cases and \(ackedNotes.count) notes all present (seed \(seed))")
    }
}
