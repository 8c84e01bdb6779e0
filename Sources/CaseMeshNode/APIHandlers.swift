import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshReplication
import CaseMeshStore
import Foundation
import HTTPTypes
import Hummingbird

/// The request handlers: authenticate, read and check the input, run the
/// command through the store, and answer in JSON.
struct APIHandlers: Sendable {
    let api: NodeAPI

    // MARK: - Plumbing

    func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, token: LogPositions? = nil) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let token { headers[.causalToken] = CausalToken.encode(token) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    func authenticate(_ request: Request) throws(APIError) -> Principal {
        guard let header = request.headers[.authorization] else { throw .unauthenticated }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError(.unauthorized, "unauthenticated", "the Authorization header must be: Bearer <token>")
        }
        guard let principal = api.tokens.principal(for: String(parts[1]).trimmingCharacters(in: .whitespaces)) else {
            throw APIError(.unauthorized, "unauthenticated", "the token is not known to this node")
        }
        return principal
    }

    func body(_ request: Request, allowed: Set<String>) async throws -> RequestObject {
        if let type = request.headers[.contentType], !Self.isJSON(type) {
            throw APIError(.unsupportedMediaType, "unsupported_media_type", "the body must be JSON (Content-Type: application/json), not \(type)")
        }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: api.maxBodyBytes)
        } catch {
            throw APIError(.contentTooLarge, "too_large", "the body is larger than \(api.maxBodyBytes) bytes")
        }
        return try RequestObject(Data(buffer.readableBytesView), allowed: allowed)
    }

    /// `application/json` or a `+json` type, parameters (charset) aside.
    static func isJSON(_ contentType: String) -> Bool {
        let type = contentType.split(separator: ";", maxSplits: 1)[0].trimmingCharacters(in: .whitespaces).lowercased()
        return type == "application/json" || (type.hasPrefix("application/") && type.hasSuffix("+json"))
    }

    func caseID(_ context: BasicRequestContext) throws(APIError) -> CaseID {
        let raw = context.parameters.get("id") ?? ""
        guard let id = try? CaseID(raw) else { throw .notFound("no case with id \(raw)") }
        return id
    }

    func existing(_ id: CaseID) throws(APIError) -> CaseState {
        let state: CaseState?
        do {
            state = try api.store.caseState(id)
        } catch {
            throw APIError(error)
        }
        guard let state else { throw .notFound("no case with id \(id)") }
        return state
    }

    /// `?after=TOKEN`: waits (bounded) until this node has applied the write.
    func waitAfter(_ request: Request) async throws {
        guard let raw = request.uri.queryParameters.get("after") else { return }
        let wanted = try CausalToken.decode(raw)
        let clock = ContinuousClock()
        let deadline = clock.now + api.waitLimit
        while !CausalToken.covers(api.store.appliedPositions, wanted) {
            guard clock.now < deadline else {
                throw APIError(.serviceUnavailable, "not_caught_up",
                               "this node has not received that write within \(api.waitLimit); retry, or read from the node that took it")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// `?replicas=N` on a write: the number of peers that must hold it.
    func replicasWanted(_ request: Request) async throws(APIError) -> Int {
        guard let raw = request.uri.queryParameters.get("replicas") else { return 0 }
        let peers = await api.peers?().count ?? 0
        guard let count = Int(raw), count >= 0 else { throw .badRequest("replicas must be a whole number from 0 to \(peers)", field: "replicas") }
        guard count <= peers else { throw .invalid("replicas=\(count) but this node has \(peers) peer\(peers == 1 ? "" : "s")", field: "replicas") }
        return count
    }

    /// Answers a write: waits for `?replicas=N` (202 with the reason on
    /// timeout), attaches the causal token.
    func respond(to outcome: WriteOutcome, replicas: Int, body: JSONValue, status: HTTPResponse.Status) async -> Response {
        await api.committed?()
        let token: LogPositions = outcome.position.map { [$0.origin: $0.counter] } ?? api.store.appliedPositions
        guard replicas > 0, let position = outcome.position else { return json(body, status: status, token: token) }
        let clock = ContinuousClock()
        let deadline = clock.now + api.waitLimit
        var holding = 0
        while true {
            let peers = await api.peers?() ?? []
            holding = peers.filter { ($0.acknowledged[position.origin] ?? 0) >= position.counter }.count
            if holding >= replicas { return json(body, status: status, token: token) }
            if clock.now >= deadline { break }
            try? await Task.sleep(for: .milliseconds(5))
        }
        let reason = "the write is durable here, but only \(holding) of the \(replicas) peers asked for held it after \(api.waitLimit)"
        return json(.object(["result": body, "replicas": .int(Int64(holding)), "requested": .int(Int64(replicas)), "reason": .string(reason)]),
                    status: .accepted, token: token)
    }

    /// Runs a command on an existing case after checking the caller may.
    func run(_ request: Request, _ context: BasicRequestContext, _ permission: Principal.Permission,
             allowed: Set<String>, hasBody: Bool = true,
             status: HTTPResponse.Status = .ok,
             command: (RequestObject?, CaseState) throws -> CaseCommand,
             answer: (WriteOutcome) -> JSONValue) async throws -> Response {
        let principal = try authenticate(request)
        let id = try caseID(context)
        let input = hasBody ? try await body(request, allowed: allowed) : nil
        let replicas = try await replicasWanted(request)
        let current = try existing(id)
        if let refusal = principal.refusal(permission, caseRegion: current.owningRegion) { throw APIError.forbidden(refusal) }
        let made = try command(input, current)
        let outcome: WriteOutcome
        do {
            outcome = try await api.store.execute(made, on: id, actor: principal.name)
        } catch {
            throw APIError(error)
        }
        return await respond(to: outcome, replicas: replicas, body: answer(outcome), status: status)
    }

    func document(_ state: CaseState) -> JSONValue { CaseJSON.document(state, now: api.now()) }

    // MARK: - Cluster and documents

    func cluster() async -> Response {
        let applied = api.store.appliedPositions
        let (digest, cases) = api.store.digest
        let peers = await api.peers?() ?? []
        let peerValues: [JSONValue] = peers.map { peer in
            let lag = peer.lag(behind: applied)
            return .object([
                "id": .string(peer.id.rawValue),
                "state": .string(peer.alive ? "up" : peer.connected ? "suspect" : "down"),
                "lastContactMillisAgo": peer.millisSinceHeard.map { .int(Int64(clamping: $0)) } ?? .null,
                "lagOperations": .int(Int64(clamping: lag)),
            ])
        }
        return json(.object([
            "node": .string(api.node.rawValue), "region": .string(api.region.rawValue),
            "cases": .int(Int64(cases)), "digest": .string(digest.hex), "peers": .array(peerValues),
            "applied": .object(Dictionary(uniqueKeysWithValues: applied.map { ($0.key.rawValue, JSONValue.int(Int64(clamping: $0.value))) })),
        ]))
    }

    func openAPI() throws -> Response {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"), let data = try? Data(contentsOf: url) else {
            throw APIError(.internalServerError, "internal", "the OpenAPI document is missing from this build")
        }
        return Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    // MARK: - Cases

    static let creatable: Set<CaseField> = Set(CaseField.allCases).subtracting([.title, .customer, .product, .severity, .status, .escalationLevel])

    func create(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let principal = try authenticate(request)
        let input = try await body(request, allowed: Set(["id", "title", "customer", "product", "severity", "level"] + Self.creatable.map(\.rawValue)))
        let replicas = try await replicasWanted(request)
        var fields: [CaseField: FieldValue] = [:]
        for field in Self.creatable { if let value = try fieldValue(field, input) { fields[field] = value } }
        let owning = try fields[.owningRegion]?.text.map { try Region($0, field: "owningRegion") } ?? api.region
        if let refusal = principal.refusal(.write, caseRegion: owning) { throw APIError.forbidden(refusal) }
        let draft = CaseDraft(
            id: try input.string("id").map { try CaseID($0) },
            title: try input.requiredString("title"), customer: try input.requiredString("customer"), product: try input.requiredString("product"),
            severity: try Severity.parse(try input.requiredString("severity"), field: "severity"),
            level: try input.string("level").map { try EscalationLevel.parse($0, field: "level") } ?? .l1,
            fields: fields)
        let outcome: WriteOutcome
        do {
            outcome = try await api.store.create(draft, actor: principal.name)
        } catch {
            throw APIError(error)
        }
        return await respond(to: outcome, replicas: replicas, body: document(outcome.state), status: outcome.created ? .created : .ok)
    }

    /// A field's value from a request body, typed by the field.
    func fieldValue(_ field: CaseField, _ input: RequestObject) throws -> FieldValue? {
        let name = field.rawValue
        switch field.kind {
        case .text, .choice, .region:
            return try input.string(name).map(FieldValue.text)
        case .flag:
            return try input.bool(name).map(FieldValue.flag)
        case .minutes:
            return try input.integer(name).map(FieldValue.number)
        case .time:
            if case let .string(text)? = input.fields[name] {
                let millis = Self.parseTime(text).map { ($0.timeIntervalSince1970 * 1000).rounded() }
                guard let millis, (0...Double(CaseField.latestTime)).contains(millis) else {
                    throw APIError.invalid("\(name) must be Unix milliseconds or an ISO 8601 time such as 2026-12-01T09:00:00Z, between 1970 and 9999", field: name)
                }
                return .time(Int64(millis))
            }
            return try input.integer(name).map(FieldValue.time)
        }
    }

    /// An ISO 8601 internet time, with or without fractional seconds.
    static func parseTime(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    func show(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        _ = try authenticate(request)
        let id = try caseID(context)
        try await waitAfter(request)
        return json(document(try existing(id)))
    }

    func timeline(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        _ = try authenticate(request)
        let id = try caseID(context)
        try await waitAfter(request)
        return json(.object(["events": CaseJSON.timeline(try existing(id))]))
    }

    func patch(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try await run(request, context, .write, allowed: Set(CaseField.allCases.map(\.rawValue)), command: { input, _ in
            var fields: [CaseField: FieldValue] = [:]
            for field in CaseField.allCases { if let value = try fieldValue(field, input!) { fields[field] = value } }
            guard !fields.isEmpty else { throw APIError.invalid("the body names no field to set") }
            return .setFields(fields)
        }, answer: { document($0.state) })
    }

    func list(_ request: Request) async throws -> Response {
        _ = try authenticate(request)
        try await waitAfter(request)
        let parameters = request.uri.queryParameters
        let known: Set<String> = ["status", "severity", "region", "owner", "sla", "q", "limit", "cursor", "after"]
        if let unknown = parameters.map({ String($0.key) }).sorted().first(where: { !known.contains($0) }) {
            throw APIError.badRequest("unknown query parameter \"\(unknown)\"; known: \(known.sorted().joined(separator: ", "))", field: unknown)
        }
        var query = CaseQuery()
        if let raw = parameters.get("status") { query.status = try CaseStatus.parse(raw, field: "status") }
        if let raw = parameters.get("severity") { query.severity = try Severity.parse(raw, field: "severity") }
        if let raw = parameters.get("region") { query.region = try Region(raw) }
        if let raw = parameters.get("owner") { query.owner = raw }
        if let raw = parameters.get("sla") {
            guard raw == "breached" else { throw APIError.invalid("sla accepts only \"breached\"", field: "sla") }
            query.slaDueBefore = api.now()
        }
        if let raw = parameters.get("q") { query.text = raw }
        if let raw = parameters.get("limit") {
            guard let limit = Int(raw) else { throw APIError.invalid("limit must be a whole number between 1 and 1000", field: "limit") }
            query.limit = limit
        }
        query.cursor = parameters.get("cursor")
        let page: CasePage
        do {
            page = try api.store.list(query)
        } catch {
            throw APIError(error)
        }
        return json(.object(["cases": .array(page.cases.map(CaseJSON.summary)), "nextCursor": page.nextCursor.map(JSONValue.string) ?? .null]))
    }

    // MARK: - Parts of a case

    func addNote(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let noteID = try NoteID(UUID().uuidString.lowercased())
        return try await run(request, context, .write, allowed: ["text", "visibility"], status: .created, command: { input, _ in
            .addNote(id: noteID, text: try input!.requiredString("text"),
                     visibility: try input!.string("visibility").map { try Visibility.parse($0, field: "visibility") } ?? .internal)
        }, answer: { outcome in outcome.state.notes.first { $0.id == noteID }.map(CaseJSON.note) ?? .null })
    }

    func removeNote(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try await remove(request, context, parameter: "noteId", noun: "note") { (id: NoteID) in .removeNote(id) }
    }

    /// Observed-removes the set element named by the path `parameter`.
    func remove<Tag>(_ request: Request, _ context: BasicRequestContext, parameter: String, noun: String,
                     _ make: @escaping (Identifier<Tag>) -> CaseCommand) async throws -> Response {
        let raw = context.parameters.get(parameter) ?? ""
        return try await run(request, context, .write, allowed: [], hasBody: false, command: { _, _ in
            guard let id = try? Identifier<Tag>(raw) else { throw APIError.notFound("no \(noun) with id \(raw)") }
            return make(id)
        }, answer: { document($0.state) })
    }

    func putAttendee(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let raw = context.parameters.get("attendeeId") ?? ""
        return try await run(request, context, .write, allowed: ["name", "email", "role"], command: { input, _ in
            .putAttendee(id: try AttendeeID(raw, field: "attendeeId"), name: try input!.requiredString("name"),
                         email: try input!.requiredString("email"), role: try input!.string("role") ?? "attendee")
        }, answer: { outcome in outcome.state.attendees.first { $0.id.rawValue == raw }.map(CaseJSON.attendee) ?? .null })
    }

    func removeAttendee(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try await remove(request, context, parameter: "attendeeId", noun: "attendee") { (id: AttendeeID) in .removeAttendee(id) }
    }

    func troubleshooting(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let stepID = try StepID(UUID().uuidString.lowercased())
        return try await run(request, context, .write, allowed: ["level", "action", "outcome", "evidence"], status: .created, command: { input, _ in
            .recordTroubleshooting(id: stepID, level: try EscalationLevel.parse(try input!.requiredString("level"), field: "level"),
                                   action: try input!.requiredString("action"), outcome: try input!.string("outcome") ?? "",
                                   evidence: try input!.string("evidence") ?? "")
        }, answer: { outcome in outcome.state.troubleshootingSteps.first { $0.id == stepID }.map(CaseJSON.step) ?? .null })
    }

    func approve(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let approvalID = try ApprovalID(UUID().uuidString.lowercased())
        return try await run(request, context, .manage, allowed: ["kind", "approver", "approverRole", "notes"], status: .created, command: { input, _ in
            .approve(id: approvalID, kind: try ApprovalKind.parse(try input!.requiredString("kind"), field: "kind"),
                     approver: try input!.requiredString("approver"),
                     approverRole: try ApproverRole.parse(try input!.requiredString("approverRole"), field: "approverRole"),
                     notes: try input!.requiredString("notes"))
        }, answer: { outcome in outcome.state.approvals.first { $0.id == approvalID }.map(CaseJSON.approval) ?? .null })
    }

    func escalate(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try await run(request, context, .write, allowed: ["level", "reason", "approvedBy"], command: { input, _ in
            .escalate(level: try EscalationLevel.parse(try input!.requiredString("level"), field: "level"),
                      reason: try input!.requiredString("reason"), approvedBy: try input!.string("approvedBy"))
        }, answer: { document($0.state) })
    }

    func deescalate(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try await run(request, context, .manage, allowed: ["reason"], command: { input, _ in
            .deescalate(reason: try input!.requiredString("reason"))
        }, answer: { document($0.state) })
    }

    func resolve(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try await run(request, context, .write, allowed: ["resolution", "customerAcknowledged"], command: { input, _ in
            .resolve(resolution: try input!.string("resolution"), customerAcknowledged: try input!.bool("customerAcknowledged"))
        }, answer: { document($0.state) })
    }

    // MARK: - Reports

    /// The Regional Escalation Manager's daily status: every open case of
    /// the region, counted by status and severity, with the breached and
    /// the escalated ones listed.
    func dailyReport(_ request: Request) async throws -> Response {
        _ = try authenticate(request)
        try await waitAfter(request)
        let region = try request.uri.queryParameters.get("region").map { try Region($0) } ?? api.region
        let now = api.now()
        var open: [CaseSummary] = []
        var cursor: String?
        repeat {
            let page: CasePage
            do {
                page = try api.store.list(CaseQuery(region: region, limit: 1000, cursor: cursor))
            } catch {
                throw APIError(error)
            }
            open += page.cases.filter { CaseStatus(rawValue: $0.status)?.isOpen ?? false }
            cursor = page.nextCursor
        } while cursor != nil
        func counts(_ key: (CaseSummary) -> String) -> JSONValue {
            .object(Dictionary(grouping: open, by: key).mapValues { .int(Int64($0.count)) })
        }
        let breached = open.filter { ($0.slaDueAt ?? .max) < now }
        let escalated = open.filter { $0.status == CaseStatus.escalated.rawValue }
        let dayAgo = now - 86_400_000
        return json(.object([
            "region": .string(region.rawValue), "generatedAt": .int(now), "node": .string(api.node.rawValue),
            "open": .int(Int64(open.count)), "byStatus": counts(\.status), "bySeverity": counts(\.severity),
            "updatedLastDay": .int(Int64(open.filter { $0.updatedAt >= dayAgo }.count)),
            "breached": .array(breached.map(CaseJSON.summary)), "escalated": .array(escalated.map(CaseJSON.summary)),
        ]))
    }
}

// MARK: - Fault injection (serve --fault-injection only)

extension APIHandlers {
    /// Only a global manager may move a node's clock: it changes the order of
    /// every later write in the cluster.
    private func requireGlobalManager(_ request: Request) throws(APIError) {
        let principal = try authenticate(request)
        guard principal.role == .globalManager else {
            throw .forbidden("only a global-manager token may change the fault-injection clock")
        }
    }

    private func describe(_ clock: FaultClock) -> Response {
        let setting = clock.current
        return json(.object([
            "offsetMillis": .int(setting.offsetMillis), "strobeMillis": .int(setting.strobeMillis),
            "strobePeriodMillis": .int(setting.strobePeriodMillis), "wallMillis": .int(Int64(clamping: clock.nowMillis())),
        ]))
    }

    func faultClock(_ request: Request, _ clock: FaultClock) throws -> Response {
        try requireGlobalManager(request)
        return describe(clock)
    }

    /// Sets the offset and strobe; absent numbers are zero, so `{}` restores the real clock.
    func setFaultClock(_ request: Request, _ clock: FaultClock) async throws -> Response {
        try requireGlobalManager(request)
        let input = try await body(request, allowed: ["offsetMillis", "strobeMillis", "strobePeriodMillis"])
        let limit = FaultClock.limitMillis
        func bounded(_ name: String, _ range: ClosedRange<Int64>) throws(APIError) -> Int64 {
            let value = try input.integer(name) ?? 0
            guard range.contains(value) else {
                throw .invalid("\(name) must be between \(range.lowerBound) and \(range.upperBound)", field: name)
            }
            return value
        }
        let setting = FaultClock.Setting(offsetMillis: try bounded("offsetMillis", -limit...limit),
                                         strobeMillis: try bounded("strobeMillis", -limit...limit),
                                         strobePeriodMillis: try bounded("strobePeriodMillis", 0...60_000))
        guard (setting.strobeMillis == 0) == (setting.strobePeriodMillis == 0) else {
            throw APIError.invalid("a strobe needs both strobeMillis and strobePeriodMillis", field: "strobePeriodMillis")
        }
        clock.set(setting)
        api.logger.warning("fault injection: wall clock moved", metadata: [
            "node": "\(api.node)", "offsetMillis": "\(setting.offsetMillis)", "strobeMillis": "\(setting.strobeMillis)",
            "strobePeriodMillis": "\(setting.strobePeriodMillis)",
        ])
        return describe(clock)
    }
}
