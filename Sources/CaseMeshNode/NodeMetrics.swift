import CaseMeshCRDT
import CaseMeshReplication
import CaseMeshStore
import CaseMeshTransport
import CoreMetrics
import Foundation
import Prometheus
import Synchronization

/// The node's metrics, in its own Prometheus registry (nothing global, so
/// tests and several nodes in one process do not share counters). Request
/// metrics go through swift-metrics with this registry's factory; figures
/// other parts keep (commits, wire bytes, peers) are read at each scrape.
public final class NodeMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    /// Last value reported per counter read from elsewhere, to add the difference.
    private let reported = Mutex<[String: Int64]>([:])

    public init() {
        factory = PrometheusMetricsFactory(registry: registry)
    }

    /// One HTTP request: its route (the pattern, not the path), method and status.
    func request(method: String, route: String, status: Int, duration: Duration) {
        let dimensions = [("method", method), ("route", route), ("status", String(status))]
        CoreMetrics.Counter(label: "casemesh_http_requests_total", dimensions: dimensions, factory: factory).increment()
        CoreMetrics.Timer(label: "casemesh_http_request_duration_seconds", dimensions: [("method", method), ("route", route)], factory: factory)
            .recordNanoseconds(Int64(duration.components.seconds) * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    private func total(_ name: String, _ labels: [(String, String)] = [], help: String, _ value: Int) {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        let delta = reported.withLock { last -> Int64 in
            let previous = last[key] ?? 0
            last[key] = Int64(value)
            return Int64(value) - previous
        }
        let counter = registry.makeCounter(name: name, labels: labels, help: help)
        if delta > 0 { counter.increment(by: delta) }
    }

    private func gauge(_ name: String, _ labels: [(String, String)] = [], help: String, _ value: Double) {
        registry.makeGauge(name: name, labels: labels, help: help).set(value)
    }

    /// The Prometheus text for a scrape.
    func render(store: NodeStore, peers: [PeerStatus], wire: WireCounters?, delivery: ReplicationDelivery? = nil) -> [UInt8] {
        let statistics = store.commitStatistics
        total("casemesh_commits_total", help: "Committed transactions (group commits).", statistics.commits)
        total("casemesh_committed_writes_total", help: "Writes carried by committed transactions.", statistics.writes)
        total("casemesh_hlc_rejections_total", help: "Remote writes refused for a clock too far ahead.", statistics.clockRejections)
        let (_, cases) = store.digest
        gauge("casemesh_cases", help: "Cases held by this node.", Double(cases))
        let applied = store.appliedPositions
        for peer in peers {
            let lag = peer.lag(behind: applied)
            gauge("casemesh_peer_lag_operations", [("peer", peer.id.rawValue)], help: "Log entries this node holds that the peer has not acknowledged.", Double(lag))
            let seconds = lag == 0 ? 0 : Double(peer.millisSinceHeard ?? 0) / 1000
            gauge("casemesh_peer_lag_seconds", [("peer", peer.id.rawValue)],
                  help: "While the peer lags, seconds since it was last heard from (0 when it holds everything).", seconds)
            gauge("casemesh_peer_up", [("peer", peer.id.rawValue)], help: "1 while the peer is connected and answering.", peer.alive ? 1 : 0)
        }
        if let delivery {
            total("casemesh_replication_gaps_total", help: "Received log entries dropped for arriving after a gap (sent again later).", Int(clamping: delivery.gaps))
            total("casemesh_replication_retransmits_total", help: "Times unacknowledged entries were sent to a peer again.", Int(clamping: delivery.retransmissions))
        }
        if let wire {
            for (kind, count) in wire.sent {
                total("casemesh_replication_sent_bytes_total", [("kind", kind)], help: "Frame bytes sent to peers, by message kind.", count.bytes)
            }
            for (kind, count) in wire.received {
                total("casemesh_replication_received_bytes_total", [("kind", kind)], help: "Frame bytes received from peers, by message kind.", count.bytes)
            }
            total("casemesh_catchup_rounds_total", help: "Catch-ups offered to peers (digest comparisons).", wire.sent["catchUpOffer"]?.frames ?? 0)
            total("casemesh_peer_connections_refused_total", help: "Incoming peer connections refused or ended by an error (certificate, identity, frame).",
                  wire.refusedConnections)
        }
        return registry.emitToBuffer()
    }
}
