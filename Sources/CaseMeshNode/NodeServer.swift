import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshReplication
import CaseMeshStore
import CaseMeshTransport
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// Everything `casemesh serve` needs to run a node.
public struct NodeSettings: Sendable {
    public struct Peer: Sendable, Equatable {
        public var id: ReplicaID
        public var host: String
        public var port: Int

        public init(id: ReplicaID, host: String, port: Int) {
            self.id = id
            self.host = host
            self.port = port
        }
    }

    public var node: ReplicaID
    public var region: Region
    public var dataDirectory: String
    public var apiHost: String
    public var apiPort: Int
    public var gossipHost: String
    public var gossipPort: Int
    public var peers: [Peer]
    /// The folder `casemesh certs init` wrote (needed when there are peers).
    public var tlsDirectory: String?
    public var tokensFile: String
    public var durability: Durability
    public var cluster: String
    /// How long `?after=` and `?replicas=` wait at most.
    public var waitLimit: Duration = .seconds(5)
    /// Longest a request may run (503 beyond).
    public var requestTimeout: Duration = .seconds(30)
    /// Testing only: the wall clock can be moved through `/v1/faults/clock`.
    public var faultInjection = false

    public init(node: ReplicaID, region: Region, dataDirectory: String, apiHost: String, apiPort: Int, gossipHost: String, gossipPort: Int,
                peers: [Peer], tlsDirectory: String?, tokensFile: String, durability: Durability = .full, cluster: String = "casemesh") {
        self.node = node
        self.region = region
        self.dataDirectory = dataDirectory
        self.apiHost = apiHost
        self.apiPort = apiPort
        self.gossipHost = gossipHost
        self.gossipPort = gossipPort
        self.peers = peers
        self.tlsDirectory = tlsDirectory
        self.tokensFile = tokensFile
        self.durability = durability
        self.cluster = cluster
    }
}

/// The store as a service: opened before the others start, closed (pending
/// writes flushed) after they have all stopped.
struct StoreService: Service {
    let store: NodeStore

    func run() async throws {
        try? await gracefulShutdown()
        await store.close()
    }
}

/// Replication: the engine's ticks, the gossip listener and one connection
/// loop per peer, until shutdown.
struct ReplicationService: Service {
    let shell: ReplicationShell
    let transport: Transport
    let settings: NodeSettings
    let logger: Logger

    func run() async throws {
        // On shutdown the ticks, the listener and the peer loops are
        // cancelled; the HTTP server has stopped before (services stop in
        // reverse order), and the store closes after.
        try await cancelWhenGracefulShutdown {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await shell.runTicks(every: .milliseconds(50)) }
                group.addTask { await shell.runCommitSignals() }
                group.addTask {
                    try await transport.listen(host: settings.gossipHost, port: settings.gossipPort) { session, messages in
                        try await shell.attach(session, messages: messages)
                    }
                }
                // One connection per pair: the node with the smaller id dials,
                // the other only accepts. When both dialled, each new
                // connection replaced the other's, whose dialler then
                // redialled, and the pair reconnected several times a second.
                for peer in settings.peers where settings.node < peer.id {
                    group.addTask {
                        await transport.maintain(peer: peer.id, host: peer.host, port: peer.port) { session, messages in
                            try await shell.attach(session, messages: messages)
                        }
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        }
        logger.info("peer connections closed")
    }
}

/// Builds and runs a node until SIGTERM or SIGINT: the store starts first
/// and stops last; in-flight requests finish before it closes.
public func runNode(_ settings: NodeSettings, logger: Logger) async throws {
    let tokens = try TokenFile.load(settings.tokensFile)
    if tokens.count == 0 {
        logger.warning("no API tokens: every request but /v1/health will be refused; add one with casemesh tokens add", metadata: ["tokens": "\(settings.tokensFile)"])
    }
    let faultClock = settings.faultInjection ? FaultClock() : nil
    if faultClock != nil {
        logger.warning("fault injection is on: PUT /v1/faults/clock can move this node's clock; never run a production node so")
    }
    let store = try NodeStore.open(StoreConfiguration(dataDirectory: settings.dataDirectory, replica: settings.node, region: settings.region,
                                                      durability: settings.durability),
                                   wallClock: faultClock ?? SystemWallClock(), logger: logger)
    var services: [any Service] = [StoreService(store: store)]
    var peerStatus: (@Sendable () async -> [PeerStatus])?
    var delivery: (@Sendable () async -> ReplicationDelivery)?
    var committed: (@Sendable () async -> Void)?
    var wire: WireCounters?
    if !settings.peers.isEmpty {
        guard let tlsDirectory = settings.tlsDirectory else {
            await store.close()
            throw NodeStartError("peers are configured but no --tls-dir: replication runs over mutual TLS only")
        }
        let ids = [settings.node] + settings.peers.map(\.id)
        let transportSettings: TransportSettings
        do {
            transportSettings = try TransportSettings(node: settings.node, cluster: settings.cluster, peers: Set(ids), certificateDirectory: tlsDirectory)
        } catch {
            await store.close()
            throw NodeStartError("cannot load the TLS files of node \(settings.node) from \(tlsDirectory): \(error)")
        }
        let shell = ReplicationShell(node: settings.node, peers: ids, store: store, logger: logger)
        let counters = WireCounters()
        wire = counters
        let transport = Transport(settings: transportSettings, logger: logger, counters: counters)
        services.append(ReplicationService(shell: shell, transport: transport, settings: settings, logger: logger))
        peerStatus = {
            await shell.peerStatus().map { item in
                PeerStatus(id: item.view.peer, connected: item.view.connected, alive: item.view.alive,
                           millisSinceHeard: item.millisSinceHeard, acknowledged: item.view.acknowledged)
            }
        }
        committed = { shell.notifyCommitted() }
        delivery = { await shell.delivery() }
    }
    let api = NodeAPI(node: settings.node, region: settings.region, store: store, tokens: tokens, peers: peerStatus, committed: committed,
                      waitLimit: settings.waitLimit, wire: wire, requestTimeout: settings.requestTimeout,
                      logger: logger, faultClock: faultClock, delivery: delivery)
    let app = Application(router: buildRouter(api),
                          server: .http1(configuration: .init(idleTimeout: .seconds(60))),
                          configuration: .init(address: .hostname(settings.apiHost, port: settings.apiPort), serverName: "casemesh-\(settings.node)"),
                          logger: logger)
    services.append(app)
    let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    logger.info("node starting", metadata: ["node": "\(settings.node)", "api": "\(settings.apiHost):\(settings.apiPort)",
                                              "gossip": "\(settings.gossipHost):\(settings.gossipPort)", "peers": "\(settings.peers.count)"])
    try await group.run()
}

public struct NodeStartError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
