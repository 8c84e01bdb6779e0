import CaseMeshCLI
import CaseMeshNode
import CaseMeshTestSupport
import Foundation
import Testing

/// `casemesh cluster up` and `down` as a new user runs them: three real
/// node processes, seeded, queried through the CLI, stopped. Runs with
/// CASEMESH_E2E=1 (scripts/test runs it in its own step, with the other
/// multi-process test).
@Suite(.serialized) struct LocalClusterTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CASEMESH_E2E"] == "1", "set CASEMESH_E2E=1 to run the local cluster test"),
          .enabled(if: ToolProcess.isBuilt, "the casemesh executable is built next to the tests (swift build --build-tests)"))
    func upSeedQueryAndDown() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("casemesh-local-\(UUID().uuidString)").path
        // Below the kernel's ephemeral range (32768+), where outgoing connections take ports.
        let base = 20_000 + Int.random(in: 0..<1_200) * 10
        let environment = ["CASEMESH_CLUSTER_DIR": directory]
        defer {
            _ = try? ToolProcess.runBlocking(["cluster", "down", "--dir", directory])
            try? FileManager.default.removeItem(atPath: directory)
        }
        let up = try await ToolProcess.run(["cluster", "up", "--dir", directory, "--api-port", "\(base)", "--gossip-port", "\(base + 5)"])
        #expect(up.status == 0, "\(up.error)")
        #expect(up.output.contains("http://127.0.0.1:\(base)") && up.output.contains("http://127.0.0.1:\(base + 2)"))
        #expect(up.output.contains("global-manager") && up.output.contains("regional-manager"))
        #expect(up.error.contains("seeding 50 escalations"))

        let list = try await ToolProcess.run(["case", "list", "--all", "--json"], environment: environment)
        let cases = try JSONDecoder().decode(JSONValue.self, from: Data(list.output.utf8))["cases"]?.array ?? []
        #expect(cases.count == 50)
        #expect(Set(cases.compactMap { $0["owningRegion"]?.string }) == ["EMEA", "AMER", "APAC"])
        #expect(Set(cases.compactMap { $0["severity"]?.string }) == ["sev1", "sev2", "sev3", "sev4"])
        #expect(cases.filter { $0["status"]?.string == "escalated" }.count >= 10)
        let breached = try await ToolProcess.run(["case", "list", "--breached", "--json"], environment: environment)
        #expect((try JSONDecoder().decode(JSONValue.self, from: Data(breached.output.utf8))["cases"]?.array?.count ?? 0) >= 3)

        // The cross-region conflict, the same on every node.
        for port in [base, base + 1, base + 2] {
            let shown = try await ToolProcess.run(["case", "show", "demo-emea-01", "--json", "--node", "http://127.0.0.1:\(port)"], environment: environment)
            let document = try JSONDecoder().decode(JSONValue.self, from: Data(shown.output.utf8))
            #expect(document["conflicts"]?["owner"]?.array?.count == 1, "node on \(port)")
            #expect(document["fields"]?["owner"]?.string == "Maya Lopez")
        }
        let status = try await ToolProcess.run(["cluster", "status"], environment: environment)
        #expect(status.status == 0)
        #expect(status.output.contains("all 3 nodes hold the same cases"), "\(status.output)")

        let again = try await ToolProcess.run(["cluster", "up", "--dir", directory])
        #expect(again.status == 0)
        #expect(again.error.contains("already running"))
        #expect(!again.error.contains("seeding"))

        let down = try await ToolProcess.run(["cluster", "down", "--dir", directory])
        #expect(down.output == "stopped emea, amer, apac; data kept in \(directory)\n", "\(down.error)")
        let after = try await ToolProcess.run(["cluster", "status"], environment: environment)
        #expect(after.status == 1)
        #expect(after.output.contains("DOWN"))

        // Up again: the same data, no second seeding.
        let restarted = try await ToolProcess.run(["cluster", "up", "--dir", directory])
        #expect(restarted.status == 0, "\(restarted.error)")
        let count = try await ToolProcess.run(["case", "list", "--all", "--json"], environment: environment)
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data(count.output.utf8))["cases"]?.array?.count == 50)
    }
}
