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
    /// Replication's delivery counters (metrics); nil on a single node.
    public var delivery: (@Sendable () async -> ReplicationDelivery)?
    /// Unix milliseconds (SLA views, reports).
    public var now: @Sendable () -> Int64
    /// Largest request body accepted (413 beyond).
    public var maxBodyBytes: Int
    /// How long `?after=` and `?replicas=` wait at most.
    public var waitLimit: Duration
    public var metrics: NodeMetrics
    /// The transport's frame counters (replication metrics); nil on a single node.
    public var wire: WireCounters?
    /// Longest a request may run before it is stopped with a 503.
    public var requestTimeout: Duration
    /// Request log: writes at info, reads at debug, server faults at error;
    /// ids and outcomes only, never request or case content.
    public var logger: Logger
    /// The movable clock behind `/v1/faults/clock` (`serve --fault-injection`);
    /// nil, and the route absent, on every node that did not ask for it.
    public var faultClock: FaultClock?

    public init(node: ReplicaID, region: Region, store: NodeStore, tokens: TokenFile,
                peers: (@Sendable () async -> [PeerStatus])? = nil, committed: (@Sendable () async -> Void)? = nil,
                now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) },
                maxBodyBytes: Int = 1 << 20, waitLimit: Duration = .seconds(5), metrics: NodeMetrics = NodeMetrics(),
                wire: WireCounters? = nil, requestTimeout: Duration = .seconds(30),
                logger: Logger = Logger(label: "casemesh.api"), faultClock: FaultClock? = nil,
                delivery: (@Sendable () async -> ReplicationDelivery)? = nil) {
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
        self.requestTimeout = requestTimeout
        self.logger = logger
        self.faultClock = faultClock
        self.delivery = delivery
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

extension PeerStatus {
    /// Log entries this node has applied that the peer has not acknowledged
    /// (its own entries aside: it wrote them).
    func lag(behind applied: LogPositions) -> UInt64 {
        applied.reduce(UInt64(0)) { total, item in
            let acked = acknowledged[item.key] ?? 0
            return item.key == id ? total : total + (item.value > acked ? item.value - acked : 0)
        }
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

/// Records every request once it is answered: counted with its duration by
/// route pattern, method and status (metrics), and logged with the node,
/// method, route, status, case id and duration as metadata. Bodies and query
/// text are never logged: case content belongs to customers.
struct RequestRecordMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let metrics: NodeMetrics
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let clock = ContinuousClock()
        let start = clock.now
        do {
            let response = try await next(request, context)
            record(request, context, status: response.status.code, duration: clock.now - start, reason: nil)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            record(request, context, status: status, duration: clock.now - start, reason: (error as? APIError)?.code ?? "\(type(of: error))")
            throw error
        }
    }

    private func record(_ request: Request, _ context: Context, status: Int, duration: Duration, reason: String?) {
        let route = context.endpointPath ?? "unmatched"
        metrics.request(method: request.method.rawValue, route: route, status: status, duration: duration)
        // Writes at info, reads at debug, server faults at error.
        let write = request.method != .get && request.method != .head && request.method != .options
        let level: Logger.Level = status >= 500 ? .error : write ? .info : .debug
        guard logger.logLevel <= level else { return }
        var metadata: Logger.Metadata = [
            "method": "\(request.method.rawValue)", "route": "\(route)", "status": "\(status)",
            "ms": "\(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)",
        ]
        if let id = context.parameters.get("id") { metadata["case"] = "\(id)" }
        if let reason { metadata["error"] = "\(reason)" }
        logger.log(level: level, "request", metadata: metadata)
    }
}

/// Stops a handler that runs longer than `limit` with a 503, so a stuck
/// request cannot hold a connection forever. (`?after=` and `?replicas=`
/// give up on their own well before.)
struct RequestTimeoutMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let limit: Duration

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try await withoutActuallyEscaping(next) { next in
            // The task group below awaits both children before it returns,
            // so `next` never outlives this call.
            let handler = UncheckedSendable(next)
            return try await withThrowingTaskGroup(of: Response?.self) { group in
                group.addTask { try await handler.value(request, context) }
                group.addTask {
                    try await Task.sleep(for: limit)
                    return nil
                }
                defer { group.cancelAll() }
                guard let response = try await group.next()! else {
                    throw APIError(.serviceUnavailable, "timeout", "the request took longer than \(limit) and was stopped; retry")
                }
                return response
            }
        }
    }
}

/// A value handed to a child task that provably ends before the value's
/// scope does.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// The routes of DESIGN.md §5. A known path asked with a method it does not
/// serve answers 405 with `Allow`; `OPTIONS` lists the methods.
public func buildRouter(_ api: NodeAPI) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: RequestRecordMiddleware(metrics: api.metrics, logger: api.logger))
    router.add(middleware: APIErrorMiddleware())
    router.add(middleware: RequestTimeoutMiddleware(limit: api.requestTimeout))
    let handlers = APIHandlers(api: api)
    var served: [(path: RouterPath, methods: [HTTPRequest.Method])] = []
    func on(_ method: HTTPRequest.Method, _ path: RouterPath,
            _ handler: @escaping @Sendable (Request, BasicRequestContext) async throws -> Response) {
        router.on(path, method: method, use: handler)
        if let index = served.firstIndex(where: { $0.path.description == path.description }) {
            served[index].methods.append(method)
        } else {
            served.append((path, [method]))
        }
    }
    on(.get, "/v1/health") { _, _ in
        handlers.json(.object(["node": .string(api.node.rawValue), "region": .string(api.region.rawValue), "status": .string("ok")]))
    }
    on(.get, "/v1/openapi.yaml") { request, _ in
        _ = try handlers.authenticate(request)
        return try handlers.openAPI()
    }
    on(.get, "/metrics") { request, _ in
        _ = try handlers.authenticate(request)
        let peers = await api.peers?() ?? []
        let delivery = await api.delivery?()
        let text = api.metrics.render(store: api.store, peers: peers, wire: api.wire, delivery: delivery)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: text)))
    }
    on(.get, "/v1/digest") { request, _ in
        _ = try handlers.authenticate(request)
        let (digest, cases) = api.store.digest
        return handlers.json(.object(["digest": .string(digest.hex), "cases": .int(Int64(cases))]))
    }
    on(.get, "/v1/cluster") { request, _ in
        _ = try handlers.authenticate(request)
        return await handlers.cluster()
    }
    on(.post, "/v1/cases") { request, context in try await handlers.create(request, context) }
    on(.get, "/v1/cases") { request, _ in try await handlers.list(request) }
    on(.get, "/v1/cases/:id") { request, context in try await handlers.show(request, context) }
    on(.patch, "/v1/cases/:id") { request, context in try await handlers.patch(request, context) }
    on(.get, "/v1/cases/:id/timeline") { request, context in try await handlers.timeline(request, context) }
    on(.post, "/v1/cases/:id/notes") { request, context in try await handlers.addNote(request, context) }
    on(.delete, "/v1/cases/:id/notes/:noteId") { request, context in try await handlers.removeNote(request, context) }
    on(.put, "/v1/cases/:id/attendees/:attendeeId") { request, context in try await handlers.putAttendee(request, context) }
    on(.delete, "/v1/cases/:id/attendees/:attendeeId") { request, context in try await handlers.removeAttendee(request, context) }
    on(.post, "/v1/cases/:id/troubleshooting") { request, context in try await handlers.troubleshooting(request, context) }
    on(.post, "/v1/cases/:id/approvals") { request, context in try await handlers.approve(request, context) }
    on(.post, "/v1/cases/:id/escalate") { request, context in try await handlers.escalate(request, context) }
    on(.post, "/v1/cases/:id/deescalate") { request, context in try await handlers.deescalate(request, context) }
    on(.post, "/v1/cases/:id/resolve") { request, context in try await handlers.resolve(request, context) }
    on(.get, "/v1/reports/daily") { request, _ in try await handlers.dailyReport(request) }
    if let clock = api.faultClock {
        on(.get, "/v1/faults/clock") { request, _ in try handlers.faultClock(request, clock) }
        on(.put, "/v1/faults/clock") { request, _ in try await handlers.setFaultClock(request, clock) }
    }

    let methods: [HTTPRequest.Method] = [.get, .head, .post, .put, .patch, .delete, .trace, HTTPRequest.Method("QUERY")!]
    for (path, allowed) in served {
        let allow = (allowed + (allowed.contains(.get) ? [.head] : []) + [.options]).map(\.rawValue).joined(separator: ", ")
        router.on(path, method: .options) { _, _ in Response(status: .noContent, headers: [.allow: allow]) }
        for method in methods where !allowed.contains(method) && !(method == .head && allowed.contains(.get)) {
            router.on(path, method: method) { request, _ -> Response in
                var error = APIError(.methodNotAllowed, "method_not_allowed", "\(request.method.rawValue) is not allowed here; use \(allow)")
                error.headers[.allow] = allow
                throw error
            }
        }
    }
    return router
}
