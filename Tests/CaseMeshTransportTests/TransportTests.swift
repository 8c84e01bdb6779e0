import CaseMeshCRDT
import CaseMeshReplication
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import Testing
@testable import CaseMeshTransport

/// Real sockets on loopback, real TLS: who may connect, what they may send.
@Suite struct TransportTests {
    static let logger = Logger(label: "casemesh.transport-tests")
    static let emea = ReplicaID("emea")
    static let amer = ReplicaID("amer")
    static let apac = ReplicaID("apac")

    /// One cluster's CA and node credentials, made once per test.
    struct Cluster {
        let authority: ClusterCertificates.Issued
        var issued: [ReplicaID: ClusterCertificates.Issued] = [:]

        init(nodes: [ReplicaID]) throws {
            authority = try ClusterCertificates.makeAuthority()
            for node in nodes { issued[node] = try ClusterCertificates.issue(node: node, hosts: ["127.0.0.1", "localhost"], authority: authority) }
        }

        func settings(_ node: ReplicaID, peers: Set<ReplicaID>, cluster: String = "test", as credentials: ReplicaID? = nil,
                      maxFrameBytes: Int = 1 << 20) throws -> TransportSettings {
            let own = issued[credentials ?? node]!
            return try TransportSettings(node: node, cluster: cluster, peers: peers, certificatePEM: own.certificatePEM,
                                         privateKeyPEM: own.privateKeyPEM, authorityPEM: authority.certificatePEM,
                                         maxFrameBytes: maxFrameBytes, helloTimeout: .seconds(300))
        }
    }

    /// What a listening node saw: the sessions it accepted and the messages.
    final class Inbox: Sendable {
        let state = Mutex<(peers: [ReplicaID], messages: [ReplicationMessage])>(([], []))
        var peers: [ReplicaID] { state.withLock { $0.peers } }
        var messages: [ReplicationMessage] { state.withLock { $0.messages } }
    }

    /// Starts `settings` listening on an ephemeral loopback port; returns the port.
    static func listen(_ settings: TransportSettings, inbox: Inbox, in group: inout ThrowingTaskGroup<Void, any Error>) async throws -> Int {
        let port = Mutex<Int?>(nil)
        let transport = Transport(settings: settings, logger: logger)
        group.addTask {
            try await transport.listen(host: "127.0.0.1", port: 0, bound: { address in port.withLock { $0 = address?.port } }) { session, messages in
                inbox.state.withLock { $0.peers.append(session.peer) }
                for try await message in messages {
                    inbox.state.withLock { $0.messages.append(message) }
                    try await session.send(.applied([Self.emea: 99]))
                }
            }
        }
        for _ in 0..<40_000 {
            if let bound = port.withLock({ $0 }) { return bound }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TransportError.closed
    }

    /// Dials and sends one message; returns the first reply or the error.
    static func dial(_ settings: TransportSettings, peer: ReplicaID, port: Int) async -> Result<ReplicationMessage?, any Error> {
        let transport = Transport(settings: settings, logger: logger)
        let reply = Mutex<ReplicationMessage?>(nil)
        do {
            try await transport.connect(to: peer, host: "127.0.0.1", port: port) { session, messages in
                try await session.send(.applied([Self.amer: 7]))
                for try await message in messages {
                    reply.withLock { $0 = message }
                    return
                }
            }
            return .success(reply.withLock { $0 })
        } catch {
            return .failure(error)
        }
    }

    /// The dialler got no reply: the connection failed or was closed on it.
    static func noAnswer(_ result: Result<ReplicationMessage?, any Error>) -> Bool {
        switch result {
        case .failure: return true
        case let .success(reply): return reply == nil
        }
    }

    @Test func clusterPeersConnectAndExchangeMessages() async throws {
        let cluster = try Cluster(nodes: [Self.emea, Self.amer])
        let inbox = Inbox()
        try await withThrowingTaskGroup(of: Void.self) { group in
            let port = try await Self.listen(cluster.settings(Self.emea, peers: [Self.amer]), inbox: inbox, in: &group)
            let result = await Self.dial(try cluster.settings(Self.amer, peers: [Self.emea]), peer: Self.emea, port: port)
            #expect(try result.get() == .applied([Self.emea: 99]))
            #expect(inbox.peers == [Self.amer])
            #expect(inbox.messages == [.applied([Self.amer: 7])])
            group.cancelAll()
        }
    }

    /// A certificate from another CA is refused in the TLS handshake.
    @Test func certificateFromAnotherAuthorityIsRefused() async throws {
        let cluster = try Cluster(nodes: [Self.emea, Self.amer])
        let stranger = try Cluster(nodes: [Self.amer])
        let inbox = Inbox()
        try await withThrowingTaskGroup(of: Void.self) { group in
            let port = try await Self.listen(cluster.settings(Self.emea, peers: [Self.amer]), inbox: inbox, in: &group)
            let result = await Self.dial(try stranger.settings(Self.amer, peers: [Self.emea]), peer: Self.emea, port: port)
            #expect(Self.noAnswer(result))
            #expect(inbox.peers.isEmpty)
            group.cancelAll()
        }
    }

    /// A node presenting a valid certificate for one id while claiming
    /// another in its hello is refused; so is a cluster member that is not a
    /// configured peer, and a node of another cluster name.
    @Test func identityMustMatchCertificateHelloAndConfiguration() async throws {
        let cluster = try Cluster(nodes: [Self.emea, Self.amer, Self.apac])
        let inbox = Inbox()
        try await withThrowingTaskGroup(of: Void.self) { group in
            let port = try await Self.listen(cluster.settings(Self.emea, peers: [Self.amer]), inbox: inbox, in: &group)
            // APAC's certificate, claiming to be AMER.
            // (The server refuses by closing; the dialler sees no answer — or,
            // for the impostor, its own check fails first.)
            let impostor = await Self.dial(try cluster.settings(Self.amer, peers: [Self.emea], as: Self.apac), peer: Self.emea, port: port)
            #expect(Self.noAnswer(impostor))
            // APAC as itself: a member of the cluster but not EMEA's configured peer.
            let unconfigured = await Self.dial(try cluster.settings(Self.apac, peers: [Self.emea]), peer: Self.emea, port: port)
            #expect(Self.noAnswer(unconfigured))
            // AMER with the wrong cluster name.
            let foreign = await Self.dial(try cluster.settings(Self.amer, peers: [Self.emea], cluster: "other"), peer: Self.emea, port: port)
            #expect(Self.noAnswer(foreign))
            // Dialling "apac" but reaching EMEA: the client refuses too.
            let misdialled = await Self.dial(try cluster.settings(Self.amer, peers: [Self.emea, Self.apac]), peer: Self.apac, port: port)
            if case let .failure(error) = misdialled {
                #expect(error as? TransportError == .unexpectedPeer("emea", expected: "apac"))
            } else {
                Issue.record("a connection to the wrong node was accepted")
            }
            #expect(inbox.messages.isEmpty, "nothing from a refused connection may be delivered")
            group.cancelAll()
        }
    }

    /// A frame longer than the limit ends the connection before it is read.
    @Test func oversizedFrameClosesTheConnection() async throws {
        let cluster = try Cluster(nodes: [Self.emea, Self.amer])
        let inbox = Inbox()
        try await withThrowingTaskGroup(of: Void.self) { group in
            let port = try await Self.listen(cluster.settings(Self.emea, peers: [Self.amer], maxFrameBytes: 1_024), inbox: inbox, in: &group)
            let transport = Transport(settings: try cluster.settings(Self.amer, peers: [Self.emea]), logger: Self.logger)
            let ended = Mutex(false)
            do {
                try await transport.connect(to: Self.emea, host: "127.0.0.1", port: port) { session, messages in
                    try await session.send(.entries([LogEntry(origin: Self.amer, counter: 1, delta: Array(repeating: 7, count: 4_096))]))
                    for try await _ in messages {}
                    ended.withLock { $0 = true }
                }
            } catch {
                ended.withLock { $0 = true }
            }
            #expect(ended.withLock { $0 })
            #expect(inbox.messages.isEmpty)
            group.cancelAll()
        }
    }

    /// A listener stopped while connections are still arriving neither traps
    /// on the connections it had accepted but not yet run nor leaves them
    /// open: each dialler sees its connection closed.
    @Test func stoppingAListenerClosesConnectionsItHadNotRun() async throws {
        let cluster = try Cluster(nodes: [Self.emea])
        for _ in 0..<25 {
            var dialled: [any Channel] = []
            try await withThrowingTaskGroup(of: Void.self) { group in
                let port = try await Self.listen(cluster.settings(Self.emea, peers: [Self.amer]), inbox: Inbox(), in: &group)
                // Plain TCP: the listener accepts (and sets TLS up for) each
                // before anyone says a word.
                for _ in 0..<8 {
                    dialled.append(try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get())
                }
                group.cancelAll()
            }
            for channel in dialled {
                let closed = try await withThrowingTaskGroup(of: Bool.self) { race in
                    race.addTask { try await channel.closeFuture.get(); return true }
                    race.addTask { try await Task.sleep(for: .seconds(20)); return false }
                    let first = try await race.next()!
                    race.cancelAll()
                    return first
                }
                #expect(closed, "a connection accepted by a stopped listener was left open")
                if !closed { try? await channel.close() }
            }
        }
    }

    /// A node's certificate names it once, as a casemesh URI; host names and
    /// addresses do not make an identity.
    @Test func nodeIdentityComesFromTheCertificateURI() throws {
        let cluster = try Cluster(nodes: [Self.emea])
        let der = try NIOSSLCertificate(bytes: Array(cluster.issued[Self.emea]!.certificatePEM.utf8), format: .pem).toDERBytes()
        #expect(try ClusterCertificates.nodeID(ofDER: der) == Self.emea)
        let authorityDER = try NIOSSLCertificate(bytes: Array(cluster.authority.certificatePEM.utf8), format: .pem).toDERBytes()
        #expect(throws: ClusterCertificates.Failure.noIdentity) { try ClusterCertificates.nodeID(ofDER: authorityDER) }
        #expect(throws: ClusterCertificates.Failure.self) { try ClusterCertificates.nodeID(ofDER: [0x30, 0x03, 0x02, 0x01]) }
    }

    /// `certs init` files: a CA and a certificate and key per node, keys
    /// readable by the owner only, and no second CA over an existing one.
    @Test func clusterFilesAreWrittenWithPrivateKeys() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("casemesh-certs-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let written = try ClusterCertificates.writeCluster(to: dir, nodes: [Self.emea, Self.amer], hosts: ["10.77.0.1"])
        #expect(Set(written.map { ($0 as NSString).lastPathComponent }) == ["ca.pem", "ca-key.pem", "emea.pem", "emea-key.pem", "amer.pem", "amer-key.pem"])
        for path in written {
            let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(permissions == (path.hasSuffix("-key.pem") ? 0o600 : 0o644), "\(path)")
        }
        _ = try TransportSettings(node: Self.emea, cluster: "c", peers: [Self.amer], certificateDirectory: dir)
        #expect(throws: (any Error).self) { try ClusterCertificates.writeCluster(to: dir, nodes: [Self.apac]) }
    }
}
