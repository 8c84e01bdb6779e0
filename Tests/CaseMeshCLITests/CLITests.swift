import CaseMeshCLI
import CaseMeshNode
import CaseMeshTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// The people's CLI against a real node API on a real port: the client's
/// error messages, the text views of real answers, and the `casemesh`
/// executable's output and exit codes.
@Suite struct CLITests {
    /// Runs `body` with a node serving on a loopback port.
    func withNode(_ body: @escaping @Sendable (APIFixture, String) async throws -> Void) async throws {
        let fixture = try APIFixture.make()
        do {
            try await fixture.app.test(.live) { client in
                try await body(fixture, "http://127.0.0.1:\(try #require(client.port))")
            }
        } catch {
            await fixture.close()
            throw error
        }
        await fixture.close()
    }

    @Test func clientReportsRefusalsInPlainWords() async throws {
        try await withNode { fixture, url in
            let engineer = try NodeClient(node: url, token: fixture.tokens["engineer"]!)
            let created = try await engineer.send("POST", "/v1/cases", body: .object([
                "title": .string("Checkout fails"), "customer": .string("Acme"), "product": .string("Payments"), "severity": .string("sev2")]))
            #expect(created.status == 201)
            #expect(created.headers["casemesh-causal-token"] != nil)
            let id = try #require(created.body["id"]?.string)

            let stranger = try NodeClient(node: url, token: "cm_not-a-token")
            await #expect(throws: CLIError("the node refused the token: the token is not known to this node", code: "unauthenticated", status: 401)) {
                try await stranger.send("GET", "/v1/cases")
            }
            let viewer = try NodeClient(node: url, token: fixture.tokens["viewer"]!)
            let forbidden = await #expect(throws: CLIError.self) { try await viewer.send("PATCH", "/v1/cases/\(id)", body: .object(["owner": .string("x")])) }
            #expect(forbidden?.status == 403)
            #expect(forbidden?.description.hasPrefix("not allowed: a viewer token cannot change cases") == true)
            let invalid = await #expect(throws: CLIError.self) {
                try await engineer.send("PATCH", "/v1/cases/\(id)", body: .object(["severity": .string("sev9")]))
            }
            #expect(invalid?.code == "validation_failed")
            #expect(invalid?.description.contains("severity") == true)
            let missing = await #expect(throws: CLIError.self) { try await engineer.send("GET", "/v1/cases/nope") }
            #expect(missing?.description == "no case with id nope")
        }
        let down = try NodeClient(node: "http://127.0.0.1:1", token: "t", timeout: 5)
        let unreachable = await #expect(throws: CLIError.self) { try await down.send("GET", "/v1/health") }
        #expect(unreachable?.code == "unreachable")
        #expect(unreachable?.description.hasPrefix("cannot reach the node at http://127.0.0.1:1: connection refused") == true)
        #expect(throws: CLIError.self) { try NodeClient(node: "127.0.0.1:8080", token: "t") }
        #expect(throws: CLIError.self) { try NodeClient(node: "http://127.0.0.1:8080", token: "") }
    }

    /// `case show`, `case list` and `report daily` read as people expect,
    /// from the node's real answers.
    @Test func viewsOfRealAnswers() async throws {
        try await withNode { fixture, url in
            let engineer = try NodeClient(node: url, token: fixture.tokens["engineer"]!)
            let manager = try NodeClient(node: url, token: fixture.tokens["manager"]!)
            try await engineer.send("POST", "/v1/cases", body: .object([
                "id": .string("c1"), "title": .string("Checkout fails after upgrade"), "customer": .string("Acme"), "product": .string("Payments"),
                "severity": .string("sev1"), "owner": .string("Ana Ruiz"),
                "reportedAt": .int(Int64(Date().timeIntervalSince1970 * 1000) - 3 * 3_600_000)]))
            try await engineer.send("POST", "/v1/cases/c1/notes", body: .object(["text": .string("Called the customer"), "visibility": .string("internal")]))
            try await engineer.send("PUT", "/v1/cases/c1/attendees/li", body: .object(["name": .string("Li Wei"), "email": .string("li@example.com")]))
            try await engineer.send("POST", "/v1/cases/c1/troubleshooting", body: .object([
                "level": .string("l1"), "action": .string("Restarted the gateway"), "outcome": .string("No change")]))
            try await manager.send("POST", "/v1/cases/c1/approvals", body: .object([
                "kind": .string("vendorEscalation"), "approver": .string("Tom"), "approverRole": .string("teamLeader"), "notes": .string("agreed")]))
            try await engineer.send("POST", "/v1/cases", body: .object([
                "id": .string("c2"), "title": .string("Search is slow"), "customer": .string("Bluefin"), "product": .string("Search"),
                "severity": .string("sev4")]))
            let now = Int64(Date().timeIntervalSince1970 * 1000)

            let show = CaseViews.show(try await engineer.send("GET", "/v1/cases/c1").body, now: now)
            let lines = show.split(separator: "\n").map(String.init)
            #expect(lines[0] == "EMEA-000001  Checkout fails after upgrade")
            #expect(lines[1].hasPrefix("Sev1  new  level l1  region EMEA  id c1"))
            #expect(lines.contains { $0.hasPrefix("owner") && $0.hasSuffix("Ana Ruiz") })
            #expect(lines.contains { $0.hasPrefix("first response") && $0.hasSuffix("BREACHED") }, "\(show)")
            #expect(lines.contains { $0.contains("ana (internal): Called the customer") })
            #expect(lines.contains("  li  Li Wei <li@example.com>  attendee"))
            #expect(lines.contains("  L1  Restarted the gateway → No change"))
            #expect(lines.contains("  vendorEscalation by Tom (teamLeader): agreed"))
            #expect(lines.contains { $0.hasPrefix("TIMELINE (latest") })

            let list = CaseViews.list(try await engineer.send("GET", "/v1/cases").body, now: now, width: 100)
            let rows = list.split(separator: "\n").map(String.init)
            #expect(rows[0].hasPrefix("NUMBER       SEV   STATUS  REGION  OWNER     SLA"))
            #expect(rows.contains { $0.hasPrefix("EMEA-000001  Sev1  new     EMEA    Ana Ruiz  BREACHED") })
            #expect(rows.contains { $0.hasPrefix("EMEA-000002  Sev4  new     EMEA    -         due") })
            #expect(rows.last == "2 cases, 1 past an SLA deadline")
            #expect(rows.allSatisfy { $0.count <= 100 })

            let report = CaseViews.report(try await engineer.send("GET", "/v1/reports/daily").body, now: now)
            #expect(report.contains("open cases: 2"))
            #expect(report.contains("past an SLA deadline: 1"))
            #expect(report.contains("by severity: Sev1 1, Sev4 1"))
            #expect(report.contains("PAST AN SLA DEADLINE\nNUMBER"))

            let cluster = CaseViews.cluster(try await engineer.send("GET", "/v1/cluster").body, url: url)
            #expect(cluster.hasPrefix("emea (EMEA) at \(url): 2 cases, digest "))
            #expect(cluster.contains("no peers (a single node)"))
        }
    }

    /// The executable: tables by default, JSON with --json, plain-word errors
    /// on standard error with a non-zero exit code, nothing on standard output.
    @Test(.enabled(if: ToolProcess.isBuilt, "the casemesh executable is built next to the tests (swift build --build-tests)"))
    func executableOutputAndErrors() async throws {
        try await withNode { fixture, url in
            let auth = ["--node", url, "--token", fixture.tokens["engineer"]!]
            let created = try await ToolProcess.run(["case", "create", "--title", "Checkout fails", "--customer", "Acme", "--product", "Payments",
                                                     "--severity", "sev2", "--id", "cli-1", "--owner", "Ana Ruiz"] + auth)
            #expect(created.status == 0, "\(created.error)")
            #expect(created.output == "created EMEA-000001 (id cli-1)\n")
            let again = try await ToolProcess.run(["case", "create", "--title", "Checkout fails", "--customer", "Acme", "--product", "Payments",
                                                   "--severity", "sev2", "--id", "cli-1"] + auth)
            #expect(again.output == "already exists: EMEA-000001 (id cli-1)\n")

            let noted = try await ToolProcess.run(["case", "note", "cli-1", "Customer called back", "--customer"] + auth)
            #expect(noted.status == 0)
            #expect(noted.output.hasPrefix("added note ") && noted.output.hasSuffix(" (customer)\n"))

            let set = try await ToolProcess.run(["case", "set", "cli-1", "rcaStatus=onTrack", "communicationFrequencyMinutes=60"] + auth)
            #expect(set.output == "updated EMEA-000001: rcaStatus=onTrack, communicationFrequencyMinutes=60\n", "\(set.error)")

            let json = try await ToolProcess.run(["case", "list", "--json"], environment: ["CASEMESH_NODE": url, "CASEMESH_TOKEN": fixture.tokens["viewer"]!])
            #expect(json.status == 0)
            let page = try JSONDecoder().decode(JSONValue.self, from: Data(json.output.utf8))
            #expect(page["cases"]?.array?.first?["number"]?.string == "EMEA-000001")

            let table = try await ToolProcess.run(["case", "list"] + auth, environment: ["COLUMNS": "100"])
            #expect(table.output.hasPrefix("NUMBER       SEV   STATUS  REGION  OWNER     SLA"))
            #expect(table.output.contains("EMEA-000001  Sev2  new     EMEA    Ana Ruiz  due "))

            let gate = try await ToolProcess.run(["case", "escalate", "cli-1", "--level", "l3Vendor", "--reason", "vendor bug"] + auth)
            #expect(gate.status == 1)
            #expect(gate.output.isEmpty)
            #expect(gate.error.contains("the escalation request is incomplete"), "\(gate.error)")

            let forbidden = try await ToolProcess.run(["case", "deescalate", "cli-1"] + auth)
            #expect(forbidden.status == 1)
            #expect(forbidden.error.contains("not allowed:"))

            let badField = try await ToolProcess.run(["case", "set", "cli-1", "colour=red"] + auth)
            #expect(badField.status == 1)
            #expect(badField.error.contains("unknown field \"colour\""))

            let usage = try await ToolProcess.run(["case", "note", "cli-1"] + auth)
            #expect(usage.status == 64)
            #expect(usage.error.contains("give the note's text, or --remove NOTE_ID"))
        }
        let down = try await ToolProcess.run(["case", "list", "--node", "http://127.0.0.1:1", "--token", "t"])
        #expect(down.status == 1)
        #expect(down.error.contains("cannot reach the node at http://127.0.0.1:1"))
        let noNode = try await ToolProcess.run(["case", "list"], directory: FileManager.default.temporaryDirectory.path)
        #expect(noNode.status == 1)
        #expect(noNode.error.contains("no node: pass --node URL or set CASEMESH_NODE"))
    }
}
