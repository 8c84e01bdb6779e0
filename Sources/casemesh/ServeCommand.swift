import ArgumentParser
import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshNode
import CaseMeshStore
import Foundation
import Logging

/// `casemesh serve`. Every setting comes from a flag, else the environment
/// variable CASEMESH_<NAME> (e.g. CASEMESH_NODE_ID), else the config file.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a node: the store, replication with its peers and the HTTP API.",
        discussion: """
            Each setting is taken from its flag, else from the environment variable \
            CASEMESH_<FLAG> (upper case, '-' as '_', e.g. CASEMESH_NODE_ID, CASEMESH_PEER as a \
            comma-separated list), else from --config FILE, whose lines are `flag-name = value` \
            (repeat `peer = …` for several peers; '#' starts a comment). SIGTERM or SIGINT \
            finishes in-flight writes, closes peer connections and the store, and exits 0.
            """
    )

    @Option(name: .customLong("node-id"), help: ArgumentHelp("This node's id; must match the name in its certificate.", valueName: "ID"))
    var nodeID: String?

    @Option(name: .long, help: ArgumentHelp("The region this node serves, e.g. EMEA (numbers its cases, scopes engineers).", valueName: "REGION"))
    var region: String?

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Folder for the node's database (created if missing).", valueName: "DIR"))
    var dataDir: String?

    @Option(name: .customLong("api-listen"), help: ArgumentHelp("Address of the HTTP API (default 127.0.0.1:8080).", valueName: "HOST:PORT"))
    var apiListen: String?

    @Option(name: .customLong("gossip-listen"), help: ArgumentHelp("Address peers connect to (default 127.0.0.1:7080).", valueName: "HOST:PORT"))
    var gossipListen: String?

    @Option(name: .customLong("peer"), help: ArgumentHelp("A peer node, repeatable; none means a single node.", valueName: "ID@HOST:PORT"))
    var peers: [String] = []

    @Option(name: .customLong("tls-dir"), help: ArgumentHelp("The folder `casemesh certs init` wrote: ca.pem, <node>.pem, <node>-key.pem.", valueName: "DIR"))
    var tlsDir: String?

    @Option(name: .long, help: ArgumentHelp("The token file `casemesh tokens add` writes.", valueName: "FILE"))
    var tokens: String?

    @Option(name: .long, help: ArgumentHelp("full (default: survives power loss), normal (survives a crash) or off.", valueName: "MODE"))
    var durability: String?

    @Option(name: .customLong("wait-limit"), help: ArgumentHelp("Seconds ?after= and ?replicas= wait at most (default 5).", valueName: "SECONDS"))
    var waitLimit: String?

    @Option(name: .customLong("request-timeout"), help: ArgumentHelp("Seconds a request may run before it is stopped with a 503 (default 30).", valueName: "SECONDS"))
    var requestTimeout: String?

    @Option(name: .customLong("pid-file"), help: ArgumentHelp("Write this process's id to FILE while it runs (removed on a clean stop).", valueName: "FILE"))
    var pidFile: String?

    @Flag(name: .customLong("fault-injection"), help: ArgumentHelp("Testing only: serve PUT /v1/faults/clock, which lets a global manager move this node's wall clock (chaos tests). Off by default; never on a production node."))
    var faultInjection = false

    @Option(name: .customLong("log-level"), help: ArgumentHelp("trace, debug, info (default), notice, warning, error or critical.", valueName: "LEVEL"))
    var logLevel: String?

    @Option(name: .long, help: ArgumentHelp("A file of `flag-name = value` lines; flags and environment win over it.", valueName: "FILE"))
    var config: String?

    func run() async throws {
        let settings = try resolve()
        let level = Logger.Level(rawValue: try setting("log-level", logLevel) ?? "info") ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "casemesh")
        logger[metadataKey: "node"] = "\(settings.node)"
        let pidPath = try setting("pid-file", pidFile)
        if let pidPath {
            do {
                try "\(getpid())\n".write(toFile: pidPath, atomically: true, encoding: .utf8)
            } catch {
                throw ValidationError("cannot write the pid file \(pidPath): \(error.localizedDescription)")
            }
        }
        defer { if let pidPath { try? FileManager.default.removeItem(atPath: pidPath) } }
        do {
            try await runNode(settings, logger: logger)
        } catch {
            logger.critical("node stopped", metadata: ["reason": "\(error)"])
            throw ExitCode(1)
        }
    }

    private var fileSettings: [String: [String]] {
        get throws {
            guard let path = config ?? ProcessInfo.processInfo.environment["CASEMESH_CONFIG"] else { return [:] }
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw ValidationError("cannot read the config file \(path): \(error.localizedDescription)")
            }
            var result: [String: [String]] = [:]
            for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0].trimmingCharacters(in: .whitespaces)
                guard !line.isEmpty else { continue }
                let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, !parts[0].isEmpty else {
                    throw ValidationError("\(path) line \(number + 1): expected `flag-name = value`")
                }
                guard Self.knownSettings.contains(parts[0]) else {
                    throw ValidationError("\(path) line \(number + 1): unknown setting \"\(parts[0])\"; known: \(Self.knownSettings.sorted().joined(separator: ", "))")
                }
                result[parts[0], default: []].append(parts[1])
            }
            return result
        }
    }

    static let knownSettings: Set<String> = ["node-id", "region", "data-dir", "api-listen", "gossip-listen", "peer", "tls-dir", "tokens", "durability", "log-level", "wait-limit", "request-timeout", "pid-file", "fault-injection"]

    private func setting(_ name: String, _ flag: String?) throws -> String? {
        if let flag { return flag }
        if let value = ProcessInfo.processInfo.environment["CASEMESH_" + name.uppercased().replacingOccurrences(of: "-", with: "_")] { return value }
        return try fileSettings[name]?.last
    }

    private func required(_ name: String, _ flag: String?) throws -> String {
        guard let value = try setting(name, flag) else { throw ValidationError("--\(name) is required (or CASEMESH_\(name.uppercased().replacingOccurrences(of: "-", with: "_")), or `\(name) = …` in --config)") }
        return value
    }

    static func address(_ text: String, setting: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port),
              colon != text.startIndex else {
            throw ValidationError("--\(setting) \"\(text)\" is not HOST:PORT (e.g. 127.0.0.1:8080)")
        }
        return (String(text[..<colon]), port)
    }

    /// An on/off setting: the flag, else `true`/`false` from the environment or the config file.
    private func flag(_ name: String, _ given: Bool) throws -> Bool {
        if given { return true }
        guard let text = try setting(name, nil) else { return false }
        switch text.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ValidationError("--\(name) \"\(text)\" is not true or false")
        }
    }

    /// A positive number of seconds, at most an hour.
    private func seconds(_ name: String, _ flag: String?, default value: Double) throws -> Duration {
        guard let text = try setting(name, flag) else { return .milliseconds(Int64(value * 1000)) }
        guard let number = Double(text), number > 0, number <= 3600 else {
            throw ValidationError("--\(name) \"\(text)\" is not a number of seconds between 0 and 3600")
        }
        return .milliseconds(Int64(number * 1000))
    }

    func resolve() throws -> NodeSettings {
        let nodeText = try required("node-id", nodeID)
        let node: ReplicaID
        do { node = try ReplicaID(validating: nodeText) } catch { throw ValidationError("--node-id \"\(nodeText)\" \(error.reason)") }
        let regionText = try required("region", region)
        let parsedRegion: Region
        do { parsedRegion = try Region(regionText) } catch { throw ValidationError("--region: \(error.message)") }
        let api = try Self.address(try setting("api-listen", apiListen) ?? "127.0.0.1:8080", setting: "api-listen")
        let gossip = try Self.address(try setting("gossip-listen", gossipListen) ?? "127.0.0.1:7080", setting: "gossip-listen")
        var peerTexts = peers
        if peerTexts.isEmpty, let env = ProcessInfo.processInfo.environment["CASEMESH_PEER"] {
            peerTexts = env.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        if peerTexts.isEmpty { peerTexts = try fileSettings["peer"] ?? [] }
        var parsedPeers: [NodeSettings.Peer] = []
        for text in peerTexts {
            let parts = text.split(separator: "@", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("--peer \"\(text)\" is not ID@HOST:PORT (e.g. amer@127.0.0.1:7081)") }
            let id: ReplicaID
            do { id = try ReplicaID(validating: parts[0]) } catch { throw ValidationError("--peer \"\(text)\": node id \(error.reason)") }
            guard id != node else { throw ValidationError("--peer \"\(text)\" names this node itself") }
            guard !parsedPeers.contains(where: { $0.id == id }) else { throw ValidationError("--peer \(id) is given twice") }
            let address = try Self.address(parts[1], setting: "peer")
            parsedPeers.append(NodeSettings.Peer(id: id, host: address.host, port: address.port))
        }
        let tls = try setting("tls-dir", tlsDir)
        if !parsedPeers.isEmpty && tls == nil { throw ValidationError("--tls-dir is required with --peer: nodes talk over mutual TLS only") }
        let durabilityText = try setting("durability", durability) ?? "full"
        guard let parsedDurability = Durability(rawValue: durabilityText) else {
            throw ValidationError("--durability \"\(durabilityText)\" is not one of: \(Durability.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var settings = NodeSettings(node: node, region: parsedRegion, dataDirectory: try required("data-dir", dataDir), apiHost: api.host, apiPort: api.port,
                                    gossipHost: gossip.host, gossipPort: gossip.port, peers: parsedPeers, tlsDirectory: tls,
                                    tokensFile: try required("tokens", tokens), durability: parsedDurability)
        settings.waitLimit = try seconds("wait-limit", waitLimit, default: 5)
        settings.requestTimeout = try seconds("request-timeout", requestTimeout, default: 30)
        settings.faultInjection = try flag("fault-injection", faultInjection)
        guard settings.requestTimeout > settings.waitLimit else {
            throw ValidationError("--request-timeout must be longer than --wait-limit, or waiting reads and writes would be cut off")
        }
        return settings
    }
}
