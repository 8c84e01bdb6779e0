import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshReplication
import CaseMeshStore
import Foundation
import HTTPTypes
import Hummingbird
import CaseMeshTransport
import Logging

/// What the HTTP API needs from the running node.
public struct NodeAPI: Sendable {
    public var node: ReplicaID
    public var region: Region
    public var store: NodeStore
    public var tokens: TokenFile
    /// Peers as replication sees them; nil on a single node.
    public var peers: (@Sendable () async -> [PeerStatus])?
    /// Tells replication that a local write committed.
    public var committed: (@Sendable () async -> Void)?
    /// Unix milliseconds (SLA views, reports).
    public var now: @Sendable () -> Int64
    /// Largest request body accepted (413 beyond).
    public var maxBodyBytes: Int
    /// How long `?after=` and `?replicas=` wait at most.
    public var waitLimit: Duration
    public var metrics: NodeMetrics
    /// The transport's frame counters (replication metrics); nil on a single node.
    public var wire: WireCounters?

    public init(node: ReplicaID, region: Region, store: NodeStore, tokens: TokenFile,
                peers: (@Sendable () async -> [PeerStatus])? = nil, committed: (@Sendable () async -> Void)? = nil,
                now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) },
                maxBodyBytes: Int = 1 << 20, waitLimit: Duration = .seconds(5), metrics: NodeMetrics = NodeMetrics(),
                wire: WireCounters? = nil) {
        self.node = node
        self.region = region
        self.store = store
        self.tokens = tokens
        self.peers = peers
        self.committed = committed
        self.now = now
        self.maxBodyBytes = maxBodyBytes
        self.waitLimit = waitLimit
        self.metrics = metrics
        self.wire = wire
    }
}

/// A peer as `/v1/cluster` shows it.
public struct PeerStatus: Sendable {
    public var id: ReplicaID
    public var connected: Bool
    public var alive: Bool
    public var millisSinceHeard: UInt64?
    public var acknowledged: LogPositions

    public init(id: ReplicaID, connected: Bool, alive: Bool, millisSinceHeard: UInt64?, acknowledged: LogPositions) {
        self.id = id
        self.connected = connected
        self.alive = alive
        self.millisSinceHeard = millisSinceHeard
        self.acknowledged = acknowledged
    }
}

extension HTTPField.Name {
    static let causalToken = HTTPField.Name(CausalToken.header)!
}

/// Domain and store refusals thrown below the handlers become API errors
/// (a 4xx naming the field or rule), never a bare 500.
struct APIErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as DomainError {
            throw APIError(error)
        } catch let error as StoreError {
            throw APIError(error)
        }
    }
}

/// Counts every request and its duration by route pattern, method and status.
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let metrics: NodeMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let clock = ContinuousClock()
        let start = clock.now
        do {
            let response = try await next(request, context)
            metrics.request(method: request.method.rawValue, route: context.endpointPath ?? "unmatched", status: response.status.code,
                            duration: clock.now - start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            metrics.request(method: request.method.rawValue, route: context.endpointPath ?? "unmatched", status: status, duration: clock.now - start)
            throw error
        }
    }
}

/// The routes of DESIGN.md §5.
public func buildRouter(_ api: NodeAPI) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: RequestMetricsMiddleware(metrics: api.metrics))
    router.add(middleware: APIErrorMiddleware())
    let handlers = APIHandlers(api: api)
    router.get("/v1/health") { _, _ in
        handlers.json(.object(["node": .string(api.node.rawValue), "region": .string(api.region.rawValue), "status": .string("ok")]))
    }
    router.get("/v1/openapi.yaml") { request, _ in
        _ = try handlers.authenticate(request)
        return try handlers.openAPI()
    }
    router.get("/metrics") { request, _ in
        _ = try handlers.authenticate(request)
        let peers = await api.peers?() ?? []
        let text = api.metrics.render(store: api.store, peers: peers, wire: api.wire)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: text)))
    }
    router.get("/v1/digest") { request, _ in
        _ = try handlers.authenticate(request)
        let (digest, cases) = api.store.digest
        return handlers.json(.object(["digest": .string(digest.hex), "cases": .int(Int64(cases))]))
    }
    router.get("/v1/cluster") { request, _ in
        _ = try handlers.authenticate(request)
        return await handlers.cluster()
    }
    router.post("/v1/cases") { request, context in try await handlers.create(request, context) }
    router.get("/v1/cases") { request, _ in try await handlers.list(request) }
    router.get("/v1/cases/:id") { request, context in try await handlers.show(request, context) }
    router.patch("/v1/cases/:id") { request, context in try await handlers.patch(request, context) }
    router.get("/v1/cases/:id/timeline") { request, context in try await handlers.timeline(request, context) }
    router.post("/v1/cases/:id/notes") { request, context in try await handlers.addNote(request, context) }
    router.delete("/v1/cases/:id/notes/:noteId") { request, context in try await handlers.removeNote(request, context) }
    router.put("/v1/cases/:id/attendees/:attendeeId") { request, context in try await handlers.putAttendee(request, context) }
    router.delete("/v1/cases/:id/attendees/:attendeeId") { request, context in try await handlers.removeAttendee(request, context) }
    router.post("/v1/cases/:id/troubleshooting") { request, context in try await handlers.troubleshooting(request, context) }
    router.post("/v1/cases/:id/approvals") { request, context in try await handlers.approve(request, context) }
    router.post("/v1/cases/:id/escalate") { request, context in try await handlers.escalate(request, context) }
    router.post("/v1/cases/:id/deescalate") { request, context in try await handlers.deescalate(request, context) }
    router.post("/v1/cases/:id/resolve") { request, context in try await handlers.resolve(request, context) }
    router.get("/v1/reports/daily") { request, _ in try await handlers.dailyReport(request) }
    return router
}
