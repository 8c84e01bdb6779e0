import CaseMeshCRDT
import CaseMeshReplication
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// Why a connection was refused or ended.
public enum TransportError: Error, Equatable, Sendable, CustomStringConvertible {
    case noHello
    case notAHello
    case identityMismatch(certificate: String, hello: String)
    case unexpectedPeer(String, expected: String)
    case unknownPeer(String)
    case wrongCluster(String, expected: String)
    case badCertificate(String)
    case badFrame(String)
    case closed

    public var description: String {
        switch self {
        case .noHello: return "the peer sent no hello in time"
        case .notAHello: return "the peer's first frame was not a hello"
        case let .identityMismatch(certificate, hello): return "the peer's certificate is for \(certificate) but its hello says \(hello)"
        case let .unexpectedPeer(peer, expected): return "dialled \(expected) but reached \(peer)"
        case let .unknownPeer(peer): return "\(peer) is not a configured peer"
        case let .wrongCluster(cluster, expected): return "the peer belongs to cluster \"\(cluster)\", not \"\(expected)\""
        case let .badCertificate(reason): return "the peer's certificate: \(reason)"
        case let .badFrame(reason): return "a frame from the peer was refused: \(reason)"
        case .closed: return "the connection closed"
        }
    }
}

/// This node's credentials and the rules for its connections.
public struct TransportSettings: Sendable {
    public var node: ReplicaID
    public var cluster: String
    /// The peers this node talks to; a connection from anyone else is refused.
    public var peers: Set<ReplicaID>
    public var tls: NIOSSLContext
    public var clientTLS: NIOSSLContext
    /// Hard limit on one frame (the length prefix is checked before reading).
    public var maxFrameBytes: Int
    /// How long a new connection may take to say hello.
    public var helloTimeout: Duration

    /// TLS 1.3 only, mutual authentication, the cluster CA as the only trust
    /// root (never the system store). Host names are not checked: the node
    /// id in the certificate is, against the hello and the configured peers.
    public init(node: ReplicaID, cluster: String, peers: Set<ReplicaID>, certificatePEM: String, privateKeyPEM: String,
                authorityPEM: String, maxFrameBytes: Int = 4 * 1024 * 1024, helloTimeout: Duration = .seconds(5)) throws {
        self.node = node
        self.cluster = cluster
        self.peers = peers.subtracting([node])
        let chain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map { NIOSSLCertificateSource.certificate($0) }
        let key = NIOSSLPrivateKeySource.privateKey(try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem))
        let roots = NIOSSLTrustRoots.certificates(try NIOSSLCertificate.fromPEMBytes(Array(authorityPEM.utf8)))
        var server = TLSConfiguration.makeServerConfigurationWithMTLS(certificateChain: chain, privateKey: key, trustRoots: roots)
        server.minimumTLSVersion = .tlsv13
        server.certificateVerification = .noHostnameVerification
        var client = TLSConfiguration.makeClientConfiguration()
        client.certificateChain = chain
        client.privateKey = key
        client.trustRoots = roots
        client.minimumTLSVersion = .tlsv13
        client.certificateVerification = .noHostnameVerification
        tls = try NIOSSLContext(configuration: server)
        clientTLS = try NIOSSLContext(configuration: client)
        self.maxFrameBytes = maxFrameBytes
        self.helloTimeout = helloTimeout
    }

    /// Loads the credentials `certs init` wrote for `node` from `directory`.
    public init(node: ReplicaID, cluster: String, peers: Set<ReplicaID>, certificateDirectory directory: String) throws {
        func read(_ name: String) throws -> String { try String(contentsOfFile: directory + "/" + name, encoding: .utf8) }
        try self.init(node: node, cluster: cluster, peers: peers, certificatePEM: try read("\(node.rawValue).pem"),
                      privateKeyPEM: try read("\(node.rawValue)-key.pem"), authorityPEM: try read("ca.pem"))
    }
}

/// An authenticated connection to one peer, after both hellos.
public struct PeerSession: Sendable {
    public let peer: ReplicaID
    fileprivate let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    fileprivate let allocator: ByteBufferAllocator
    fileprivate let counters: WireCounters?

    /// Sends one replication message.
    public func send(_ message: ReplicationMessage) async throws {
        let wire = WireMessage.replication(message)
        let bytes = wire.encoded
        counters?.record(sent: wire, bytes: bytes.count)
        try await outbound.write(allocator.buffer(bytes: bytes))
    }
}

/// Mutual-TLS connections between nodes, as length-prefixed frames of
/// `WireMessage`s. `listen` accepts peers, `connect` dials one; each runs
/// `session` for the life of an authenticated connection, handing it every
/// message that arrives.
public struct Transport: Sendable {
    public let settings: TransportSettings
    public let group: any EventLoopGroup
    let logger: Logger
    /// Frame and byte counts, when the caller wants them.
    public let counters: WireCounters?

    public init(settings: TransportSettings, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger,
                counters: WireCounters? = nil) {
        self.settings = settings
        self.group = group
        self.logger = logger
        self.counters = counters
    }

    typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    /// An accepted connection on its way from the listener's queue to its
    /// session. When the listener stops, its queue lets go of the
    /// connections it still holds; NIO traps on an async channel let go
    /// without being run, so one never taken is closed here instead.
    final class PendingConnection: Sendable {
        private let connection: Mutex<Connection?>

        init(_ connection: Connection) { self.connection = Mutex(connection) }

        /// The connection, once; its session then owns it.
        func take() -> Connection? { connection.withLock { $0.take() } }

        deinit {
            guard let untaken = connection.withLock({ $0.take() }) else { return }
            Task { try? await untaken.executeThenClose { _, _ in } }
        }
    }

    private func configure(_ channel: any Channel, server: Bool, serverName: String?) -> EventLoopFuture<Connection> {
        channel.eventLoop.makeCompletedFuture {
            let tls = server ? NIOSSLServerHandler(context: settings.tls)
                : try NIOSSLClientHandler(context: settings.clientTLS, serverHostname: serverName)
            try channel.pipeline.syncOperations.addHandler(tls)
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: settings.maxFrameBytes)))
            try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
            return try Connection(wrappingChannelSynchronously: channel)
        }
    }

    /// Accepts peers on `host:port` until cancelled; `bound` is told the
    /// address actually bound (port 0 picks one).
    public func listen(host: String, port: Int, bound: @Sendable (SocketAddress?) -> Void = { _ in },
                       session: @escaping @Sendable (PeerSession, AsyncThrowingStream<ReplicationMessage, any Error>) async throws -> Void) async throws {
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                // The address is read now: once a hostile peer has gone, the channel no longer knows it.
                let address = channel.remoteAddress.map { "\($0)" } ?? "unknown"
                return configure(channel, server: true, serverName: nil).map { (PendingConnection($0), address) }
            }
        bound(server.channel.localAddress)
        try await server.executeThenClose { inbound in
            try await withThrowingDiscardingTaskGroup { group in
                for try await (pending, address) in inbound {
                    guard let connection = pending.take() else { continue }
                    group.addTask {
                        do {
                            try await run(connection, expecting: nil, session: session)
                        } catch {
                            // One bad connection never stops the listener.
                            counters?.recordRefusal()
                            logger.warning("refused or lost an incoming peer connection",
                                           metadata: ["node": "\(settings.node)", "peer_address": "\(address)", "reason": "\(error)"])
                        }
                    }
                }
            }
        }
    }

    /// Dials `peer` at `host:port`; returns when the connection ends.
    public func connect(to peer: ReplicaID, host: String, port: Int,
                        session: @escaping @Sendable (PeerSession, AsyncThrowingStream<ReplicationMessage, any Error>) async throws -> Void) async throws {
        let connection = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .connect(host: host, port: port) { channel in
                // SNI must be a host name, never an address.
                configure(channel, server: false, serverName: peer.rawValue)
            }
        try await run(connection, expecting: peer, session: session)
    }

    /// Keeps a connection to `peer` up: dials, runs the session, and after a
    /// failure or a close dials again after a jittered, growing backoff
    /// (0.1 s doubling to 5 s), until the task is cancelled.
    public func maintain(peer: ReplicaID, host: String, port: Int,
                         session: @escaping @Sendable (PeerSession, AsyncThrowingStream<ReplicationMessage, any Error>) async throws -> Void) async {
        var attempt = 0
        while !Task.isCancelled {
            let established = Mutex(false)
            do {
                try await connect(to: peer, host: host, port: port) { peerSession, messages in
                    established.withLock { $0 = true }
                    try await session(peerSession, messages)
                }
            } catch {
                logger.info("connection to peer failed or ended", metadata: ["node": "\(settings.node)", "peer": "\(peer)", "reason": "\(error)"])
            }
            // A connection that got through starts the backoff afresh.
            attempt = established.withLock { $0 } ? 1 : attempt + 1
            let base = min(5.0, 0.1 * pow(2.0, Double(min(attempt, 10))))
            let delay = base * Double.random(in: 0.5...1.5)
            try? await Task.sleep(for: .milliseconds(Int(delay * 1_000)))
        }
    }

    /// Exchanges and checks hellos, then runs `session` with the messages that follow.
    private func run(_ connection: Connection, expecting expected: ReplicaID?,
                     session: @escaping @Sendable (PeerSession, AsyncThrowingStream<ReplicationMessage, any Error>) async throws -> Void) async throws {
        let channel = connection.channel
        // A peer that does not say hello in time is cut off.
        let helloDeadline = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(settings.helloTimeout.components.seconds) * 1_000_000_000
                                                                              + settings.helloTimeout.components.attoseconds / 1_000_000_000)) {
            channel.close(promise: nil)
        }
        try await connection.executeThenClose { inbound, outbound in
            try await outbound.write(channel.allocator.buffer(bytes: WireMessage.hello(node: settings.node, cluster: settings.cluster).encoded))
            var frames = inbound.makeAsyncIterator()
            let first: ByteBuffer?
            do {
                first = try await frames.next()
            } catch {
                helloDeadline.cancel()
                throw error is FrameError ? TransportError.badFrame("\(error)") : error
            }
            helloDeadline.cancel()
            guard let first else { throw TransportError.noHello }
            guard case let .hello(claimed, cluster) = try decode(first) else { throw TransportError.notAHello }
            let certified = try await peerIdentity(channel)
            guard certified == claimed else {
                throw TransportError.identityMismatch(certificate: certified.rawValue, hello: claimed.rawValue)
            }
            if let expected, certified != expected { throw TransportError.unexpectedPeer(certified.rawValue, expected: expected.rawValue) }
            guard settings.peers.contains(certified) else { throw TransportError.unknownPeer(certified.rawValue) }
            guard cluster == settings.cluster else { throw TransportError.wrongCluster(cluster, expected: settings.cluster) }
            logger.info("peer connected", metadata: ["node": "\(settings.node)", "peer": "\(certified)"])
            let (messages, continuation) = AsyncThrowingStream<ReplicationMessage, any Error>.makeStream()
            let peerSession = PeerSession(peer: certified, outbound: outbound, allocator: channel.allocator, counters: counters)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    // The session ending (e.g. the peer was suspected) ends the connection.
                    defer { channel.close(promise: nil) }
                    try await session(peerSession, messages)
                }
                do {
                    while let frame = try await frames.next() {
                        let wire = try decode(frame)
                        counters?.record(received: wire, bytes: frame.readableBytes)
                        guard case let .replication(message) = wire else { throw TransportError.badFrame("a second hello") }
                        continuation.yield(message)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                    group.cancelAll()
                    throw error is FrameError ? TransportError.badFrame("\(error)") : error
                }
                try await group.waitForAll()
            }
        }
    }

    private func decode(_ frame: ByteBuffer) throws -> WireMessage {
        do {
            return try WireMessage(decoding: Array(frame.readableBytesView))
        } catch {
            throw TransportError.badFrame("\(error)")
        }
    }

    private func peerIdentity(_ channel: any Channel) async throws -> ReplicaID {
        let der = try await channel.eventLoop.submit { () throws -> [UInt8]? in
            let handler = try channel.pipeline.syncOperations.handler(type: NIOSSLHandler.self)
            return try handler.peerCertificate?.toDERBytes()
        }.get()
        guard let der else { throw TransportError.badCertificate("none presented") }
        do {
            return try ClusterCertificates.nodeID(ofDER: der)
        } catch {
            throw TransportError.badCertificate(error.description)
        }
    }
}
