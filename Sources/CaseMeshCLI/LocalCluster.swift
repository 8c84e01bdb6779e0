import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshNode
import CaseMeshTransport
import Foundation

/// The local three-region cluster of `casemesh cluster up`: EMEA, AMER and
/// APAC on loopback, each a `casemesh serve` process with its own data
/// folder, log and pid file under one directory.
///
/// Layout of the directory: `cluster.json` (nodes, ports and the demo's
/// tokens in clear, owner-only), `certs/` (the cluster CA and node
/// certificates), `tokens` (the hashed token file the nodes read),
/// `<node>/` (data), `<node>.log`, `<node>.pid`.
public struct LocalCluster: Sendable {
    public struct Node: Codable, Sendable, Equatable {
        public var id: String
        public var region: String
        public var apiPort: Int
        public var gossipPort: Int
        public var url: String { "http://127.0.0.1:\(apiPort)" }
    }

    public struct Credential: Codable, Sendable, Equatable {
        public var name: String
        public var role: String
        public var region: String?
        public var token: String
    }

    public struct Manifest: Codable, Sendable, Equatable {
        public var nodes: [Node]
        public var tokens: [Credential]

        /// The token of the first credential with `role` (and `region`).
        public func token(_ role: Role, region: String? = nil) -> String? {
            tokens.first { $0.role == role.rawValue && (region == nil || $0.region == region) }?.token
        }
    }

    public let directory: String
    /// The `casemesh` executable that runs the nodes.
    public let executable: String

    public init(directory: String, executable: String) {
        self.directory = directory
        self.executable = executable
    }

    static let regions: [(id: String, region: String)] = [("emea", "EMEA"), ("amer", "AMER"), ("apac", "APAC")]

    var manifestPath: String { directory + "/cluster.json" }

    /// The manifest, if `prepare` ran here before.
    public func manifest() throws(CLIError) -> Manifest? {
        guard FileManager.default.fileExists(atPath: manifestPath) else { return nil }
        do {
            return try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: manifestPath)))
        } catch {
            throw CLIError("\(manifestPath) is damaged (\(error)); run casemesh cluster down and remove \(directory) to start afresh")
        }
    }

    /// Creates certificates, tokens and the manifest the first time; later
    /// runs reuse them (and the data).
    public func prepare(apiPort: Int, gossipPort: Int) throws(CLIError) -> (manifest: Manifest, fresh: Bool) {
        if let existing = try manifest() { return (existing, false) }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            _ = try ClusterCertificates.writeCluster(to: directory + "/certs", nodes: Self.regions.map { ReplicaID($0.id) })
        } catch {
            throw CLIError("cannot create the cluster's certificates in \(directory)/certs: \(error)")
        }
        var credentials: [Credential] = []
        let people: [(String, Role, String?)] = [
            ("vera", .viewer, nil), ("gus", .globalManager, nil),
            ("ana", .engineer, "EMEA"), ("mia", .regionalManager, "EMEA"),
            ("bo", .engineer, "AMER"), ("rob", .regionalManager, "AMER"),
            ("chen", .engineer, "APAC"), ("kim", .regionalManager, "APAC"),
        ]
        for (name, role, region) in people {
            do {
                let token = try TokenFile.add(to: directory + "/tokens", name: name, role: role, region: try region.map { try Region($0) })
                credentials.append(Credential(name: name, role: role.rawValue, region: region, token: token))
            } catch {
                throw CLIError("cannot write the token file \(directory)/tokens: \(error)")
            }
        }
        let nodes = Self.regions.enumerated().map { index, item in
            Node(id: item.id, region: item.region, apiPort: apiPort + index, gossipPort: gossipPort + index)
        }
        let manifest = Manifest(nodes: nodes, tokens: credentials)
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(manifest).write(to: URL(fileURLWithPath: manifestPath), options: .atomic)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: manifestPath)
        } catch {
            throw CLIError("cannot write \(manifestPath): \(error)")
        }
        return (manifest, true)
    }

    /// The pid a running node wrote, if that process is alive.
    public func runningPID(_ node: Node) -> pid_t? {
        guard let text = try? String(contentsOfFile: "\(directory)/\(node.id).pid", encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0, kill(pid, 0) == 0 else { return nil }
        return pid
    }

    /// Starts `node` in the background (its own session, so it outlives
    /// this command), with or without its peers.
    public func start(_ node: Node, in manifest: Manifest, withPeers: Bool = true) throws(CLIError) {
        var arguments = ["serve", "--node-id", node.id, "--region", node.region, "--data-dir", "\(directory)/\(node.id)",
                         "--api-listen", "127.0.0.1:\(node.apiPort)", "--gossip-listen", "127.0.0.1:\(node.gossipPort)",
                         "--tokens", directory + "/tokens", "--pid-file", "\(directory)/\(node.id).pid"]
        if withPeers {
            arguments += ["--tls-dir", directory + "/certs"]
            for peer in manifest.nodes where peer.id != node.id { arguments += ["--peer", "\(peer.id)@127.0.0.1:\(peer.gossipPort)"] }
        }
        let process = Process()
        let setsid = "/usr/bin/setsid"
        if FileManager.default.isExecutableFile(atPath: setsid) {
            process.executableURL = URL(fileURLWithPath: setsid)
            process.arguments = [executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        }
        let logPath = "\(directory)/\(node.id).log"
        if !FileManager.default.fileExists(atPath: logPath) { FileManager.default.createFile(atPath: logPath, contents: nil) }
        do {
            let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
            log.seekToEndOfFile()
            process.standardOutput = log
            process.standardError = log
            process.standardInput = FileHandle.nullDevice
            try? FileManager.default.removeItem(atPath: "\(directory)/\(node.id).pid")
            try process.run()
        } catch {
            throw CLIError("cannot start \(node.id) (\(executable)): \(error)")
        }
    }

    /// Waits until `node` answers /v1/health; fails with the end of its log.
    public func waitUntilServing(_ node: Node, timeout: Duration = .seconds(60)) async throws(CLIError) {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        let client = try NodeClient(node: node.url, token: "health", timeout: 2)
        let started = clock.now
        while clock.now < deadline {
            // A node that wrote its pid file and then exited (a taken port, a
            // bad file) is reported at once, not after the whole timeout.
            if clock.now - started > .seconds(2) && runningPID(node) == nil {
                throw CLIError("\(node.id) stopped while starting; the end of its log:\n\(tail("\(directory)/\(node.id).log"))")
            }
            if let reply = try? await client.exchange("GET", "/v1/health"), reply.status == 200,
               reply.body["node"]?.string == node.id {
                return
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        throw CLIError("\(node.id) did not start serving at \(node.url) within \(timeout); the end of its log:\n\(tail("\(directory)/\(node.id).log"))")
    }

    /// Stops `node` with SIGTERM (SIGKILL after `grace`); true if it was running.
    @discardableResult
    public func stop(_ node: Node, grace: Duration = .seconds(15)) async -> Bool {
        guard let pid = runningPID(node) else { return false }
        kill(pid, SIGTERM)
        let clock = ContinuousClock()
        let deadline = clock.now + grace
        while kill(pid, 0) == 0 && clock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
        while kill(pid, 0) == 0 { try? await Task.sleep(for: .milliseconds(20)) }
        try? FileManager.default.removeItem(atPath: "\(directory)/\(node.id).pid")
        return true
    }

    /// Waits until every node reports the same digest.
    public func waitForConvergence(_ manifest: Manifest, timeout: Duration = .seconds(60)) async throws(CLIError) {
        guard let token = manifest.token(.viewer) else { throw CLIError("the manifest has no viewer token") }
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var digests: [String] = []
        while clock.now < deadline {
            digests = []
            for node in manifest.nodes {
                let client = try NodeClient(node: node.url, token: token, timeout: 5)
                digests.append((try? await client.send("GET", "/v1/digest"))?.body["digest"]?.string ?? "?")
            }
            if Set(digests).count == 1, digests[0] != "?" { return }
            try? await Task.sleep(for: .milliseconds(100))
        }
        throw CLIError("the nodes did not converge within \(timeout): digests \(digests.map { $0.prefix(12) })")
    }

    func tail(_ path: String, lines: Int = 15) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "(no log at \(path))"
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}
