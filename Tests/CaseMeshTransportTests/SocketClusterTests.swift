import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshReplication
import CaseMeshStore
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import Testing
@testable import CaseMeshTransport

/// Certificates made with the openssl command-line tool, independently of
/// our own certificate code, so one bug cannot hide another.
struct OpenSSLCluster {
    let dir: String

    static var available: Bool {
        ["/usr/bin/openssl", "/bin/openssl", "/usr/local/bin/openssl"].contains { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @discardableResult
    static func openssl(_ arguments: [String], in dir: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: dir)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TransportError.badCertificate("openssl \(arguments.joined(separator: " ")): \(output)") }
        return output
    }

    /// A cluster CA (`ca`), a foreign CA (`other`), and certificates:
    /// `<node>` for each node, `<node>-expired`, and `<node>-foreign` (signed by `other`).
    init(nodes: [String]) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("casemesh-openssl-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for ca in ["ca", "other"] {
            try Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(ca)-key.pem",
                              "-out", "\(ca).pem", "-days", "30", "-subj", "/O=CaseMesh/CN=\(ca) authority",
                              "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], in: dir)
        }
        for node in nodes {
            try issue(node, name: node, by: "ca", days: 30)
            try issue(node, name: "\(node)-expired", by: "ca", days: -1)
            try issue(node, name: "\(node)-foreign", by: "other", days: 30)
        }
    }

    func issue(_ node: String, name: String, by ca: String, days: Int) throws {
        let ext = """
            [node]
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature
            extendedKeyUsage = serverAuth, clientAuth
            subjectAltName = URI:casemesh://node/\(node), DNS:\(node), IP:127.0.0.1
            """
        try ext.write(toFile: "\(dir)/\(name).cnf", atomically: true, encoding: .utf8)
        try Self.openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(name)-key.pem",
                          "-out", "\(name).csr", "-subj", "/O=CaseMesh/CN=\(node)"], in: dir)
        try Self.openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "\(ca).pem", "-CAkey", "\(ca)-key.pem", "-CAcreateserial",
                          "-days", "\(days)", "-extfile", "\(name).cnf", "-extensions", "node", "-out", "\(name).pem"], in: dir)
    }

    func read(_ file: String) throws -> String { try String(contentsOfFile: "\(dir)/\(file)", encoding: .utf8) }

    /// Settings for `node`, presenting the certificate `credentials` (default: its own).
    func settings(_ node: String, peers: [String], credentials: String? = nil, maxFrameBytes: Int = 1 << 20) throws -> TransportSettings {
        let name = credentials ?? node
        return try TransportSettings(node: ReplicaID(node), cluster: "test", peers: Set(peers.map { ReplicaID($0) }),
                                     certificatePEM: try read("\(name).pem"), privateKeyPEM: try read("\(name)-key.pem"),
                                     authorityPEM: try read("ca.pem"), maxFrameBytes: maxFrameBytes, helloTimeout: .seconds(300))
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }
}

/// Collects log records, so tests can check what a node reported.
final class LogRecords: Sendable {
    let records = Mutex<[(message: String, metadata: Logger.Metadata)]>([])

    var logger: Logger {
        Logger(label: "casemesh.socket-tests") { _ in Handler(sink: self) }
    }

    struct Handler: LogHandler {
        let sink: LogRecords
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
            let merged = self.metadata.merging(metadata ?? [:]) { $1 }
            sink.records.withLock { $0.append(("\(message)", merged)) }
        }
    }

    var refusals: [Logger.Metadata] {
        records.withLock { $0.filter { $0.message.hasPrefix("refused") }.map(\.metadata) }
    }
}

@Suite(.enabled(if: OpenSSLCluster.available, "needs the openssl command-line tool (apt-get install openssl)"))
struct SocketClusterTests {
    /// A node: a store, its shell, its transport, listening on an ephemeral port.
    struct Node {
        let id: ReplicaID
        let store: NodeStore
        let shell: ReplicationShell
        let transport: Transport
        let port: BoundPort
    }

    static func makeNode(_ id: String, peers: [String], certificates: OpenSSLCluster, dir: String, logger: Logger,
                         configuration: ReplicationConfiguration = ReplicationConfiguration(heartbeatInterval: 100, peerTimeout: 2_000, retransmitAfter: 500)) throws -> Node {
        let replica = ReplicaID(id)
        let store = try NodeStore.open(StoreConfiguration(dataDirectory: "\(dir)/\(id)", replica: replica, region: try Region(id.uppercased()),
                                                          durability: .normal), wallClock: SystemWallClock(), logger: logger)
        let shell = ReplicationShell(node: replica, peers: ([id] + peers).map { ReplicaID($0) }, store: store,
                                     configuration: configuration, logger: logger)
        let transport = Transport(settings: try certificates.settings(id, peers: peers), logger: logger)
        return Node(id: replica, store: store, shell: shell, transport: transport, port: BoundPort())
    }

    /// Starts every node: ticks, a listener, and a connection from each node
    /// to each configured peer with a larger id (one connection per pair).
    static func start(_ nodes: [Node], links: [(String, String)], in group: inout ThrowingTaskGroup<Void, any Error>) async throws {
        for node in nodes {
            group.addTask { await node.shell.runTicks() }
            group.addTask {
                try await node.transport.listen(host: "127.0.0.1", port: 0, bound: { address in node.port.value.withLock { $0 = address?.port } }) { session, messages in
                    try await node.shell.attach(session, messages: messages)
                }
            }
        }
        for node in nodes { try await ReplicationOverTLSTests.waitUntil("\(node.id) listens") { node.port.value.withLock { $0 } != nil } }
        for (a, b) in links {
            let dialer = nodes.first { $0.id.rawValue == min(a, b) }!
            let target = nodes.first { $0.id.rawValue == max(a, b) }!
            let port = try #require(target.port.value.withLock { $0 })
            group.addTask {
                await dialer.transport.maintain(peer: target.id, host: "127.0.0.1", port: port) { session, messages in
                    try await dialer.shell.attach(session, messages: messages)
                }
            }
        }
    }

    static func create(_ node: Node, _ title: String) async throws -> CaseID {
        let id = try await node.store.create(CaseDraft(title: title, customer: "Contoso", product: "Billing", severity: .sev2), actor: "ana").state.id
        await node.shell.committed()
        return id
    }

    /// Three nodes, all linked: a write on each reaches the other two.
    @Test func threeNodesConvergeAfterWritesOnEach() async throws {
        let certificates = try OpenSSLCluster(nodes: ["amer", "apac", "emea"])
        defer { certificates.remove() }
        let logger = Logger(label: "casemesh.socket-tests")
        let names = ["amer", "apac", "emea"]
        let nodes = try names.map { name in try Self.makeNode(name, peers: names.filter { $0 != name }, certificates: certificates, dir: certificates.dir, logger: logger) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            try await Self.start(nodes, links: [("amer", "apac"), ("amer", "emea"), ("apac", "emea")], in: &group)
            var ids: [CaseID] = []
            for node in nodes { ids.append(try await Self.create(node, "Written at \(node.id)")) }
            for node in nodes {
                try await ReplicationOverTLSTests.waitUntil("\(node.id) holds all three cases") { try ids.allSatisfy { try node.store.caseState($0) != nil } }
            }
            try await ReplicationOverTLSTests.waitUntil("digests agree") { nodes.allSatisfy { $0.store.digest == nodes[0].store.digest } }
            group.cancelAll()
        }
        for node in nodes { await node.store.close() }
    }

    /// Many writers at once, each signalling its commit: the shell ships from
    /// several reentrant calls, and the entries must still reach the peer in
    /// log order — no entry dropped after a gap, no retransmission round.
    @Test func concurrentWritersShipInLogOrder() async throws {
        let certificates = try OpenSSLCluster(nodes: ["amer", "emea"])
        defer { certificates.remove() }
        let logger = Logger(label: "casemesh.socket-tests")
        // No timeout can fire while the suite loads the machine: any gap is then an ordering fault.
        let patient = ReplicationConfiguration(heartbeatInterval: 100, peerTimeout: 600_000, retransmitAfter: 600_000)
        let amer = try Self.makeNode("amer", peers: ["emea"], certificates: certificates, dir: certificates.dir, logger: logger, configuration: patient)
        let emea = try Self.makeNode("emea", peers: ["amer"], certificates: certificates, dir: certificates.dir, logger: logger, configuration: patient)
        try await withThrowingTaskGroup(of: Void.self) { group in
            try await Self.start([amer, emea], links: [("amer", "emea")], in: &group)
            let id = try await Self.create(amer, "Busy case")
            try await ReplicationOverTLSTests.waitUntil("emea holds the case") { try emea.store.caseState(id) != nil }
            try await withThrowingTaskGroup(of: Void.self) { writers in
                for writer in 0..<32 {
                    writers.addTask {
                        for index in 0..<20 {
                            _ = try await amer.store.execute(.addNote(id: try NoteID("n-\(writer)-\(index)"), text: "note \(writer)-\(index)", visibility: .internal),
                                                             on: id, actor: "ana")
                            await amer.shell.committed()
                        }
                    }
                }
                try await writers.waitForAll()
            }
            try await ReplicationOverTLSTests.waitUntil("emea holds all 640 notes") { try emea.store.caseState(id)?.notes.count == 640 }
            let received = await emea.shell.delivery()
            let sent = await amer.shell.delivery()
            #expect(received.gaps == 0, "entries arrived out of order")
            #expect(sent.retransmissions == 0, "entries had to be sent again")
            group.cancelAll()
        }
        await amer.store.close()
        await emea.store.close()
    }

    /// EMEA and APAC are not peers of each other; AMER links both. Writes at
    /// either end converge through the middle node.
    @Test func bridgeConvergesThroughTheMiddleNode() async throws {
        let certificates = try OpenSSLCluster(nodes: ["amer", "apac", "emea"])
        defer { certificates.remove() }
        let logger = Logger(label: "casemesh.socket-tests")
        let emea = try Self.makeNode("emea", peers: ["amer"], certificates: certificates, dir: certificates.dir, logger: logger)
        let amer = try Self.makeNode("amer", peers: ["emea", "apac"], certificates: certificates, dir: certificates.dir, logger: logger)
        let apac = try Self.makeNode("apac", peers: ["amer"], certificates: certificates, dir: certificates.dir, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            try await Self.start([emea, amer, apac], links: [("amer", "emea"), ("amer", "apac")], in: &group)
            let fromEmea = try await Self.create(emea, "Written in EMEA")
            let fromApac = try await Self.create(apac, "Written in APAC")
            try await ReplicationOverTLSTests.waitUntil("APAC has EMEA's case") { try apac.store.caseState(fromEmea) != nil }
            try await ReplicationOverTLSTests.waitUntil("EMEA has APAC's case") { try emea.store.caseState(fromApac) != nil }
            try await ReplicationOverTLSTests.waitUntil("digests agree") { emea.store.digest == apac.store.digest && amer.store.digest == apac.store.digest }
            group.cancelAll()
        }
        for node in [emea, amer, apac] { await node.store.close() }
    }

    /// A plaintext client, a certificate from another CA, an expired
    /// certificate, a valid certificate presenting another node's id, an
    /// oversized frame and random bytes after the handshake are each
    /// refused and logged with the peer address — and the node keeps serving.
    @Test func hostileConnectionsAreRefusedLoggedAndTheNodeKeepsServing() async throws {
        let certificates = try OpenSSLCluster(nodes: ["amer", "apac", "emea"])
        defer { certificates.remove() }
        let records = LogRecords()
        let inbox = TransportTests.Inbox()
        let settings = try certificates.settings("emea", peers: ["amer"], maxFrameBytes: 4_096)
        try await withThrowingTaskGroup(of: Void.self) { group in
            let port = try await Self.listen(settings, inbox: inbox, logger: records.logger, in: &group)
            var expectedRefusals = 0
            func refused(_ what: String) async throws {
                expectedRefusals += 1
                let count = expectedRefusals
                try await ReplicationOverTLSTests.waitUntil("\(what) is refused and logged") { records.refusals.count >= count }
                let last = records.refusals.last
                #expect(last?["peer_address"].map { "\($0)".contains("127.0.0.1") } == true, "\(what): \(String(describing: last))")
            }

            try await Self.sendPlaintext(port: port)
            try await refused("a plaintext client")

            _ = await TransportTests.dial(try certificates.settings("amer", peers: ["emea"], credentials: "amer-foreign"), peer: ReplicaID("emea"), port: port)
            try await refused("a certificate from another CA")

            _ = await TransportTests.dial(try certificates.settings("amer", peers: ["emea"], credentials: "amer-expired"), peer: ReplicaID("emea"), port: port)
            try await refused("an expired certificate")

            _ = await TransportTests.dial(try certificates.settings("amer", peers: ["emea"], credentials: "apac"), peer: ReplicaID("emea"), port: port)
            try await refused("another node's certificate")

            let transport = Transport(settings: try certificates.settings("amer", peers: ["emea"]), logger: Logger(label: "client"))
            try? await transport.connect(to: ReplicaID("emea"), host: "127.0.0.1", port: port) { session, messages in
                try await session.send(.entries([LogEntry(origin: ReplicaID("amer"), counter: 1, delta: Array(repeating: 1, count: 10_000))]))
                for try await _ in messages {}
            }
            try await refused("an oversized frame")

            try await Self.sendRandomBytesAfterHandshake(try certificates.settings("amer", peers: ["emea"]), port: port)
            try await refused("random bytes after the handshake")

            #expect(inbox.messages.isEmpty, "nothing from a refused connection may be delivered")
            // Still serving: a proper peer connects and is answered.
            let good = await TransportTests.dial(try certificates.settings("amer", peers: ["emea"]), peer: ReplicaID("emea"), port: port)
            #expect(try good.get() == .applied([ReplicaID("emea"): 99]))
            group.cancelAll()
        }
    }

    static func listen(_ settings: TransportSettings, inbox: TransportTests.Inbox, logger: Logger,
                       in group: inout ThrowingTaskGroup<Void, any Error>) async throws -> Int {
        let port = BoundPort()
        let transport = Transport(settings: settings, logger: logger)
        group.addTask {
            try await transport.listen(host: "127.0.0.1", port: 0, bound: { address in port.value.withLock { $0 = address?.port } }) { session, messages in
                for try await message in messages {
                    inbox.state.withLock { $0.messages.append(message) }
                    try await session.send(.applied([ReplicaID("emea"): 99]))
                }
            }
        }
        try await ReplicationOverTLSTests.waitUntil("the node listens") { port.value.withLock { $0 } != nil }
        return try #require(port.value.withLock { $0 })
    }

    /// Connects without TLS and sends an HTTP request line.
    static func sendPlaintext(port: Int) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(channel.allocator.buffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        try? await channel.closeFuture.get()
    }

    /// Completes a valid TLS handshake, then sends noise instead of frames.
    static func sendRandomBytesAfterHandshake(_ settings: TransportSettings, port: Int) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: settings.clientTLS, serverHostname: "emea"))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        var random = SystemRandomNumberGenerator()
        let noise = (0..<600).map { _ in UInt8.random(in: 0...255, using: &random) }
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: [0, 0, 2, 0] + noise))
        try? await channel.closeFuture.get()
    }
}
