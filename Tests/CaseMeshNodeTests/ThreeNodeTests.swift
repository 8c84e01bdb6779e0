import Foundation
import CaseMeshNode
import Testing
import CaseMeshTestSupport

/// Three real `casemesh serve` processes on loopback, talking mutual TLS,
/// driven through their HTTP APIs.
final class ThreeNodeCluster: @unchecked Sendable {
    static var casemesh: URL { ToolProcess.casemesh }

    let directory: String
    let names = ["emea", "amer", "apac"]
    var apiPorts: [String: Int] = [:]
    var gossipPorts: [String: Int] = [:]
    var processes: [String: Process] = [:]
    var token = ""

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("casemesh-e2e-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in names {
            apiPorts[name] = try Self.freePort()
            gossipPorts[name] = try Self.freePort()
        }
        try Self.tool(["certs", "init", "--dir", directory + "/certs"] + names.flatMap { ["--node", $0] })
        let output = try Self.tool(["tokens", "add", "--file", directory + "/tokens", "--name", "gus", "--role", "global-manager"])
        token = String(output.split(separator: "\n").last ?? "")
    }

    /// A port nobody listens on right now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw ClusterError("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @discardableResult
    static func tool(_ arguments: [String]) throws -> String {
        let result = try ToolProcess.runBlocking(arguments)
        guard result.status == 0 else { throw ClusterError("casemesh \(arguments.joined(separator: " ")) failed: \(result.error)") }
        return result.output
    }

    func start(_ name: String) throws {
        let process = Process()
        process.executableURL = Self.casemesh
        var arguments = ["serve", "--node-id", name, "--region", name.uppercased(), "--data-dir", "\(directory)/\(name)",
                         "--api-listen", "127.0.0.1:\(apiPorts[name]!)", "--gossip-listen", "127.0.0.1:\(gossipPorts[name]!)",
                         "--tls-dir", directory + "/certs", "--tokens", directory + "/tokens", "--log-level", "warning"]
        for peer in names where peer != name { arguments += ["--peer", "\(peer)@127.0.0.1:\(gossipPorts[peer]!)"] }
        process.arguments = arguments
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        FileManager.default.createFile(atPath: "\(directory)/\(name).log", contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(directory)/\(name).log"))
        try process.run()
        processes[name] = process
    }

    /// Signals `name` and waits for it to exit; returns whether it exited with status 0.
    @discardableResult
    func kill(_ name: String, signal: Int32 = SIGKILL) -> Bool {
        guard let process = processes[name] else { return false }
        Foundation.kill(process.processIdentifier, signal)
        process.waitUntilExit()
        processes[name] = nil
        return process.terminationReason == .exit && process.terminationStatus == 0
    }

    func stopAll() {
        for name in names { kill(name, signal: SIGTERM) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: JSONValue
    }

    /// One HTTP request through curl, run on a thread of its own (not the cooperative pool).
    func request(_ name: String, _ method: String, _ path: String, body: String? = nil) async throws -> Reply {
        let url = "http://127.0.0.1:\(apiPorts[name]!)\(path)"
        let authorization = "Authorization: Bearer \(token)"
        return try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
                    var arguments = ["-s", "-i", "-m", "30", "-X", method, "-H", authorization, "-H", "Content-Type: application/json"]
                    if let body { arguments += ["--data-binary", body] }
                    process.arguments = arguments + [url]
                    let pipe = Pipe()
                    process.standardOutput = pipe
                    try process.run()
                    let data = pipe.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    guard process.terminationStatus == 0 else { throw ClusterError("curl \(method) \(url) failed (\(process.terminationStatus))") }
                    let text = String(decoding: data, as: UTF8.self)
                    let parts = text.components(separatedBy: "\r\n\r\n")
                    let head = parts[0].components(separatedBy: "\r\n")
                    let status = Int(head[0].split(separator: " ").dropFirst().first ?? "") ?? 0
                    var headers: [String: String] = [:]
                    for line in head.dropFirst() {
                        let pair = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                        if pair.count == 2 { headers[pair[0].lowercased()] = pair[1] }
                    }
                    let bodyText = parts.dropFirst().joined(separator: "\r\n\r\n")
                    let json = (try? JSONDecoder().decode(JSONValue.self, from: Data(bodyText.utf8))) ?? .null
                    return Reply(status: status, headers: headers, body: json)
                })
            }.start()
        }
    }

    /// Waits until `name` answers its health check.
    func waitUntilUp(_ name: String, timeout: Duration = .seconds(60)) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if let reply = try? await request(name, "GET", "/v1/health"), reply.status == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ClusterError("\(name) did not come up; its log: \((try? String(contentsOfFile: "\(directory)/\(name).log", encoding: .utf8)) ?? "")")
    }

    /// Waits until every running node reports the same digest.
    func waitForEqualDigests(_ nodes: [String], timeout: Duration = .seconds(60)) async throws -> String {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var last: [String] = []
        while clock.now < deadline {
            last = []
            for node in nodes { last.append((try? await request(node, "GET", "/v1/digest").body["digest"]?.string) ?? "?") }
            if Set(last).count == 1, last[0] != "?" { return last[0] }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ClusterError("digests still differ: \(zip(nodes, last).map { "\($0)=\($1.prefix(12))" })")
    }
}

struct ClusterError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@Suite(.serialized) struct ThreeNodeTests {
    /// Runs only with CASEMESH_E2E=1: scripts/test runs it as a step of its
    /// own after the other suites, so that its timed waits do not compete for
    /// the two cores with the CPU-bound property and simulation tests (under
    /// that load a restarted node once took over 60 s to answer).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CASEMESH_E2E"] == "1", "set CASEMESH_E2E=1 to run the three-process test"),
          .enabled(if: FileManager.default.isExecutableFile(atPath: ThreeNodeCluster.casemesh.path),
                   "the casemesh executable is built next to the tests (swift build --build-tests)"))
    func threeRegionsConvergeThroughConflictsAndRestarts() async throws {
        let cluster = try ThreeNodeCluster()
        defer { cluster.stopAll() }
        for name in cluster.names { try cluster.start(name) }
        for name in cluster.names { try await cluster.waitUntilUp(name) }

        // A case created at EMEA is readable at APAC; ?after= on APAC returns the write.
        let created = try await cluster.request("emea", "POST", "/v1/cases",
                                                body: #"{"id":"e2e-1","title":"Checkout fails","customer":"Acme","product":"Payments","severity":"sev1"}"#)
        #expect(created.status == 201)
        let token = try #require(created.headers["casemesh-causal-token"])
        let atAPAC = try await cluster.request("apac", "GET", "/v1/cases/e2e-1?after=\(token)")
        #expect(atAPAC.status == 200)
        #expect(atAPAC.body["number"]?.string == "EMEA-000001")
        _ = try await cluster.waitForEqualDigests(cluster.names)

        // Concurrent writes to the same field: EMEA writes while AMER is down,
        // AMER writes while EMEA is down (so neither saw the other's write).
        #expect(cluster.kill("amer", signal: SIGTERM))
        #expect(try await cluster.request("emea", "PATCH", "/v1/cases/e2e-1", body: #"{"owner":"ana-from-emea"}"#).status == 200)
        _ = try await cluster.waitForEqualDigests(["emea", "apac"])
        // APAC holds EMEA's write and would forward it: it goes down too.
        cluster.kill("emea", signal: SIGKILL)
        cluster.kill("apac", signal: SIGKILL)
        try cluster.start("amer")
        try await cluster.waitUntilUp("amer")
        #expect(try await cluster.request("amer", "PATCH", "/v1/cases/e2e-1", body: #"{"owner":"bo-from-amer"}"#).status == 200)
        // Everyone comes back (EMEA and APAC were killed with SIGKILL) and catches up.
        try cluster.start("emea")
        try cluster.start("apac")
        for name in cluster.names { try await cluster.waitUntilUp(name) }
        _ = try await cluster.waitForEqualDigests(cluster.names)
        var owners: Set<String> = []
        for name in cluster.names {
            let reply = try await cluster.request(name, "GET", "/v1/cases/e2e-1")
            owners.insert(reply.body["fields"]?["owner"]?.string ?? "?")
            let conflicts = reply.body["timeline"]?.array?.filter { $0["kind"]?.string == "conflict" } ?? []
            #expect(conflicts.count == 1, "\(name) shows \(conflicts.count) conflict events")
            #expect(conflicts.first?["field"]?.string == "owner")
        }
        #expect(owners.count == 1, "the nodes disagree on the winner: \(owners)")
        #expect(owners.isSubset(of: ["ana-from-emea", "bo-from-amer"]))
        // SIGTERM: in-flight work finishes, peers and the store close, exit 0.
        for name in cluster.names { #expect(cluster.kill(name, signal: SIGTERM), "\(name) did not exit cleanly on SIGTERM") }
    }
}
