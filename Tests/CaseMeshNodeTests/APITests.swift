import CaseMeshDomain
import CaseMeshNode
import CaseMeshReplication
import CaseMeshStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import CaseMeshTestSupport

@Suite struct APIAccessTests {
    @Test func healthNeedsNoToken() async throws {
        try await withAPI { _, client in
            try await client.execute(uri: "/v1/health", method: .get) { response in
                #expect(response.status == .ok)
                let body = try json(response)
                #expect(body["node"]?.string == "emea")
                #expect(body["region"]?.string == "EMEA")
                #expect(body["status"]?.string == "ok")
            }
        }
    }

    @Test(arguments: ["/v1/digest", "/v1/cases", "/v1/cluster", "/v1/reports/daily", "/v1/cases/x", "/v1/openapi.yaml"])
    func everythingElseNeedsAToken(path: String) async throws {
        try await withAPI { fixture, client in
            try await client.execute(uri: path, method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(errorCode(response) == "unauthenticated")
            }
            try await client.execute(uri: path, method: .get, headers: fixture.headers("cm_not-a-token")) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: path, method: .get, headers: [.authorization: "Basic abc"]) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    /// Who may write what: viewers nothing, engineers their own region,
    /// regional managers also approvals and de-escalation, global managers all.
    @Test func roleBoundaries() async throws {
        try await withAPI { fixture, client in
            for who in ["viewer", "amer-engineer"] {
                try await client.execute(uri: "/v1/cases", method: .post, headers: fixture.headers(who), body: ByteBuffer(string: newCase)) { response in
                    #expect(response.status == .forbidden, "\(who)")
                    #expect(errorCode(response) == "forbidden")
                }
            }
            let id = try await createCase(fixture, client)
            // A global manager may create a case owned by another region.
            try await client.execute(uri: "/v1/cases", method: .post, headers: fixture.headers("global"),
                                     body: ByteBuffer(string: #"{"title":"t","customer":"c","product":"p","severity":"sev4","owningRegion":"AMER"}"#)) { response in
                #expect(response.status == .created)
            }
            let note = ByteBuffer(string: #"{"text":"called the customer"}"#)
            try await client.execute(uri: "/v1/cases/\(id)/notes", method: .post, headers: fixture.headers("amer-engineer"), body: note) { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(uri: "/v1/cases/\(id)/notes", method: .post, headers: fixture.headers("viewer"), body: note) { response in
                #expect(response.status == .forbidden)
            }
            let approval = ByteBuffer(string: #"{"kind":"vendorEscalation","approver":"Tom","approverRole":"teamLeader","notes":"agreed on the bridge call"}"#)
            try await client.execute(uri: "/v1/cases/\(id)/approvals", method: .post, headers: fixture.headers("engineer"), body: approval) { response in
                #expect(response.status == .forbidden, "engineers do not record approvals")
            }
            try await client.execute(uri: "/v1/cases/\(id)/approvals", method: .post, headers: fixture.headers("manager"), body: approval) { response in
                #expect(response.status == .created)
            }
            try await client.execute(uri: "/v1/cases/\(id)/deescalate", method: .post, headers: fixture.headers("engineer"),
                                     body: ByteBuffer(string: #"{"reason":"stable"}"#)) { response in
                #expect(response.status == .forbidden)
            }
            // Viewers read everything.
            try await client.execute(uri: "/v1/cases/\(id)", method: .get, headers: fixture.headers("viewer")) { response in
                #expect(response.status == .ok)
            }
        }
    }
}

@Suite struct APICaseTests {
    @Test func createReadPatchAndTimeline() async throws {
        try await withAPI { fixture, client in
            let token = try await client.execute(uri: "/v1/cases", method: .post, headers: fixture.headers("engineer"),
                                                 body: ByteBuffer(string: #"{"id":"case-1","title":"Checkout fails","customer":"Acme","product":"Payments","severity":"sev1","problemStatement":"500 on pay"}"#)) { response in
                #expect(response.status == .created)
                let body = try json(response)
                #expect(body["id"]?.string == "case-1")
                #expect(body["number"]?.string == "EMEA-000001")
                #expect(body["fields"]?["severity"]?.string == "sev1")
                #expect(body["fields"]?["problemStatement"]?.string == "500 on pay")
                #expect(body["sla"]?["firstResponse"]?["state"]?.string == "pending")
                return try #require(response.headers[HTTPField.Name("CaseMesh-Causal-Token")!])
            }
            // The same id again is an idempotent retry: 200, same case.
            try await client.execute(uri: "/v1/cases", method: .post, headers: fixture.headers("engineer"),
                                     body: ByteBuffer(string: #"{"id":"case-1","title":"Checkout fails","customer":"Acme","product":"Payments","severity":"sev1"}"#)) { response in
                #expect(response.status == .ok)
                #expect(parsed(response)["number"]?.string == "EMEA-000001")
            }
            try await client.execute(uri: "/v1/cases/case-1?after=\(token)", method: .get, headers: fixture.headers("viewer")) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/v1/cases/case-1", method: .patch, headers: fixture.headers("engineer"),
                                     body: ByteBuffer(string: #"{"owner":"ana","communicationFrequencyMinutes":60,"criticalMilestone":"2026-12-01T09:00:00Z"}"#)) { response in
                #expect(response.status == .ok)
                let fields = try json(response)["fields"]
                #expect(fields?["owner"]?.string == "ana")
                #expect(fields?["communicationFrequencyMinutes"]?.int == 60)
                #expect(fields?["criticalMilestone"]?.int == 1_796_115_600_000)
            }
            try await client.execute(uri: "/v1/cases/case-1/timeline", method: .get, headers: fixture.headers("viewer")) { response in
                #expect(response.status == .ok)
                let kinds = try json(response)["events"]?.array?.compactMap { $0["kind"]?.string } ?? []
                #expect(kinds.first == "created")
                #expect(kinds.count >= 2)
            }
            try await client.execute(uri: "/v1/cases/nope", method: .get, headers: fixture.headers("viewer")) { response in
                #expect(response.status == .notFound)
                #expect(errorCode(response) == "not_found")
            }
        }
    }

    /// Bad input gets a clear JSON error naming the field, and changes nothing.
    @Test(arguments: [
        (#"{"title":"t","customer":"c","product":"p","severity":"sev9"}"#, 422, "validation_failed", "severity"),
        (#"{"title":"t","customer":"c","product":"p"}"#, 422, "validation_failed", "severity"),
        (#"{"title":"t","customer":"c","product":"p","severity":"sev1","colour":"red"}"#, 400, "bad_request", "colour"),
        (#"{"title":5,"customer":"c","product":"p","severity":"sev1"}"#, 400, "bad_request", "title"),
        (#"{"title":"t","customer":"c","product":"p","severity":"sev1","id":"has space"}"#, 422, "validation_failed", "id"),
        (#"{"title":null,"customer":"c","product":"p","severity":"sev1"}"#, 400, "bad_request", "title"),
        (#"{"title":"  ","customer":"c","product":"p","severity":"sev1"}"#, 422, "validation_failed", "title"),
        (#"{"title":"t","customer":"c","product":"p","severity":"sev1","criticalMilestone":253402300800000}"#, 422, "validation_failed", "criticalMilestone"),
        (#"{"title":"t","customer":"c","product":"p","severity":"sev1","criticalMilestone":"10000-01-01T00:00:00Z"}"#, 422, "validation_failed", "criticalMilestone"),
        (#"{"title":"t","customer":"c","product":"p","severity":"sev1","criticalMilestone":"1969-12-31T23:59:59Z"}"#, 422, "validation_failed", "criticalMilestone"),
        (#"["not","an","object"]"#, 400, "bad_request", nil),
        (#"{"title":"t","#, 400, "bad_request", nil),
        ("", 400, "bad_request", nil),
    ] as [(String, Int, String, String?)])
    func badCreatesAreRefused(body: String, status: Int, code: String, field: String?) async throws {
        try await withAPI { fixture, client in
            try await client.execute(uri: "/v1/cases", method: .post, headers: fixture.headers("engineer"), body: ByteBuffer(string: body)) { response in
                #expect(response.status.code == status, "\(String(buffer: response.body))")
                #expect(errorCode(response) == code)
                if let field { #expect(errorField(response) == field) }
            }
            #expect(fixture.store.digest.cases == 0)
        }
    }

    @Test func patchRefusesWrongTypesUnknownFieldsAndGates() async throws {
        try await withAPI { fixture, client in
            let id = try await createCase(fixture, client)
            for (body, status) in [(#"{"owner":7}"#, 400), (#"{"colour":"red"}"#, 400), (#"{}"#, 422),
                                   (#"{"communicationFrequencyMinutes":1}"#, 422), (#"{"status":"resolved"}"#, 409)] {
                try await client.execute(uri: "/v1/cases/\(id)", method: .patch, headers: fixture.headers("engineer"), body: ByteBuffer(string: body)) { response in
                    #expect(response.status.code == status, "\(body): \(String(buffer: response.body))")
                }
            }
            try await client.execute(uri: "/v1/cases/\(id)", method: .get, headers: fixture.headers("viewer")) { response in
                #expect(parsed(response)["status"]?.string == "new")
                #expect(parsed(response)["fields"]?["owner"] == nil)
            }
        }
    }

    @Test func criticalMilestoneTakesMillisOrISOTimesWithFractions() async throws {
        try await withAPI { fixture, client in
            let id = try await createCase(fixture, client)
            for (value, millis) in [("1764579600000", Int64(1_764_579_600_000)), (#""2025-12-01T09:00:00Z""#, 1_764_579_600_000),
                                    (#""2025-12-01T10:00:00.250+01:00""#, 1_764_579_600_250)] {
                try await client.execute(uri: "/v1/cases/\(id)", method: .patch, headers: fixture.headers("engineer"),
                                         body: ByteBuffer(string: #"{"criticalMilestone":\#(value)}"#)) { response in
                    #expect(response.status == .ok, "\(value): \(String(buffer: response.body))")
                    #expect(parsed(response)["fields"]?["criticalMilestone"]?.int == millis, "\(value)")
                }
            }
        }
    }

    /// A known path asked with another method: 405 naming the methods it
    /// serves; OPTIONS lists them. A body that says it is not JSON: 415.
    @Test func wrongMethodsAndContentTypes() async throws {
        try await withAPI { fixture, client in
            for (method, path, allow) in [(HTTPRequest.Method.post, "/metrics", "GET, HEAD, OPTIONS"),
                                          (.delete, "/v1/cases", "POST, GET, HEAD, OPTIONS"),
                                          (.put, "/v1/cases/x/notes", "POST, OPTIONS"),
                                          (.trace, "/v1/health", "GET, HEAD, OPTIONS")] {
                try await client.execute(uri: path, method: method, headers: fixture.headers("global")) { response in
                    #expect(response.status == .methodNotAllowed, "\(method) \(path)")
                    #expect(response.headers[.allow] == allow)
                    #expect(errorCode(response) == "method_not_allowed")
                }
            }
            try await client.execute(uri: "/v1/cases/x", method: .options, headers: fixture.headers(nil)) { response in
                #expect(response.status == .noContent)
                #expect(response.headers[.allow] == "GET, PATCH, HEAD, OPTIONS")
            }
            var plain = fixture.headers("engineer")
            plain[.contentType] = "text/plain"
            try await client.execute(uri: "/v1/cases", method: .post, headers: plain, body: ByteBuffer(string: newCase)) { response in
                #expect(response.status == .unsupportedMediaType)
                #expect(errorCode(response) == "unsupported_media_type")
            }
            #expect(fixture.store.digest.cases == 0)
            var mergePatch = fixture.headers("engineer")
            mergePatch[.contentType] = "application/merge-patch+json; charset=utf-8"
            try await client.execute(uri: "/v1/cases", method: .post, headers: mergePatch, body: ByteBuffer(string: newCase)) { response in
                #expect(response.status == .created)
            }
        }
    }

    /// A request that outlives the request timeout is stopped with a 503.
    @Test func slowRequestsAreStoppedAtTheTimeout() async throws {
        // The wait limit is far longer than the timeout, so only the timeout
        // can end the read (its code says which did). The case is made in the
        // store directly: under a loaded machine an HTTP create could itself
        // outlive a short timeout.
        try await withAPI(waitLimit: .seconds(120), requestTimeout: .seconds(1)) { fixture, client in
            let made = try await fixture.store.create(CaseDraft(title: "Slow read", customer: "Acme", product: "Payments", severity: .sev3),
                                                      actor: "ana")
            let unseen = Data("amer:5".utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
            let clock = ContinuousClock()
            let started = clock.now
            try await client.execute(uri: "/v1/cases/\(made.state.id)?after=\(unseen)", method: .get, headers: fixture.headers("viewer")) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(errorCode(response) == "timeout")
            }
            #expect(clock.now - started < .seconds(100))
        }
    }

    @Test func hugeBodiesAreRefusedWith413() async throws {
        try await withAPI { fixture, client in
            let text = String(repeating: "x", count: 200 * 1024)
            try await client.execute(uri: "/v1/cases", method: .post, headers: fixture.headers("engineer"),
                                     body: ByteBuffer(string: #"{"title":"\#(text)","customer":"c","product":"p","severity":"sev1"}"#)) { response in
                #expect(response.status == .contentTooLarge)
                #expect(errorCode(response) == "too_large")
            }
        }
    }

    @Test func notesAttendeesAndTroubleshooting() async throws {
        try await withAPI { fixture, client in
            let id = try await createCase(fixture, client)
            let noteID = try await client.execute(uri: "/v1/cases/\(id)/notes", method: .post, headers: fixture.headers("engineer"),
                                                  body: ByteBuffer(string: #"{"text":"Called the customer","visibility":"customer"}"#)) { response in
                #expect(response.status == .created)
                let note = try json(response)
                #expect(note["text"]?.string == "Called the customer")
                #expect(note["author"]?.string == "ana")
                return try #require(note["id"]?.string)
            }
            try await client.execute(uri: "/v1/cases/\(id)/notes", method: .post, headers: fixture.headers("engineer"),
                                     body: ByteBuffer(string: #"{"text":"x","visibility":"public"}"#)) { response in
                #expect(response.status.code == 422)
                #expect(errorField(response) == "visibility")
            }
            try await client.execute(uri: "/v1/cases/\(id)/attendees/li", method: .put, headers: fixture.headers("engineer"),
                                     body: ByteBuffer(string: #"{"name":"Li","email":"li@example.com","role":"customer"}"#)) { response in
                #expect(response.status == .ok)
                #expect(parsed(response)["email"]?.string == "li@example.com")
            }
            try await client.execute(uri: "/v1/cases/\(id)/troubleshooting", method: .post, headers: fixture.headers("engineer"),
                                     body: ByteBuffer(string: #"{"level":"l1","action":"restart","outcome":"no change"}"#)) { response in
                #expect(response.status == .created)
                #expect(parsed(response)["outcome"]?.string == "no change")
            }
            try await client.execute(uri: "/v1/cases/\(id)/notes/\(noteID)", method: .delete, headers: fixture.headers("engineer")) { response in
                #expect(response.status == .ok)
                #expect(parsed(response)["notes"]?.array?.isEmpty == true)
            }
            try await client.execute(uri: "/v1/cases/\(id)/attendees/li", method: .delete, headers: fixture.headers("engineer")) { response in
                #expect(response.status == .ok)
                #expect(parsed(response)["attendees"]?.array?.isEmpty == true)
            }
            try await client.execute(uri: "/v1/cases/\(id)/notes/no-such-note", method: .delete, headers: fixture.headers("engineer")) { response in
                #expect(response.status == .notFound, "\(String(buffer: response.body))")
            }
        }
    }

    /// Escalation to the vendor is gated: a complete request, an L1/L2 step
    /// with an outcome and a Team Leader's approval.
    @Test func vendorEscalationGate() async throws {
        try await withAPI { fixture, client in
            let id = try await createCase(fixture, client, body: #"{"title":"t","customer":"c","product":"p","severity":"sev1","level":"l2","problemStatement":"down","businessImpact":"no sales","workaround":"none","criticalMilestone":1900000000000}"#)
            let escalate = ByteBuffer(string: #"{"level":"l3Vendor","reason":"needs a vendor fix"}"#)
            try await client.execute(uri: "/v1/cases/\(id)/escalate", method: .post, headers: fixture.headers("engineer"), body: escalate) { response in
                #expect(response.status == .conflict)
                #expect(errorCode(response) == "rule_violated")
            }
            try await client.execute(uri: "/v1/cases/\(id)/troubleshooting", method: .post, headers: fixture.headers("engineer"),
                                     body: ByteBuffer(string: #"{"level":"l2","action":"collected traces","outcome":"vendor library crash"}"#)) { response in
                #expect(response.status == .created)
            }
            try await client.execute(uri: "/v1/cases/\(id)/approvals", method: .post, headers: fixture.headers("manager"),
                                     body: ByteBuffer(string: #"{"kind":"vendorEscalation","approver":"Tom","approverRole":"teamLeader","notes":"agreed on the bridge call"}"#)) { response in
                #expect(response.status == .created)
            }
            try await client.execute(uri: "/v1/cases/\(id)/escalate", method: .post, headers: fixture.headers("engineer"), body: escalate) { response in
                #expect(response.status == .ok, "\(String(buffer: response.body))")
                #expect(parsed(response)["escalationLevel"]?.string == "l3Vendor")
                #expect(parsed(response)["status"]?.string == "escalated")
            }
            try await client.execute(uri: "/v1/cases/\(id)/resolve", method: .post, headers: fixture.headers("engineer"),
                                     body: ByteBuffer(string: #"{"resolution":"patched"}"#)) { response in
                #expect(response.status == .conflict, "resolving needs the customer's acknowledgement")
            }
        }
    }

    /// The whole process through the API: escalate to L2, the de-escalation
    /// checklist (409 naming what is missing, then 200), an attendee removed,
    /// resolution with the customer's acknowledgement, and the timeline.
    @Test func escalateDeescalateAndResolve() async throws {
        try await withAPI { fixture, client in
            let id = try await createCase(fixture, client)
            func send(_ method: HTTPRequest.Method, _ path: String, as who: String = "engineer", _ body: String? = nil) async throws -> (Int, JSONValue) {
                try await client.execute(uri: "/v1/cases/\(id)\(path)", method: method, headers: fixture.headers(who),
                                         body: body.map { ByteBuffer(string: $0) }) { response in
                    (Int(response.status.code), parsed(response))
                }
            }
            #expect(try await send(.patch, "", #"{"problemStatement":"Checkout times out","businessImpact":"No sales in DE","workaround":"none","criticalMilestone":"2026-12-24T09:00:00Z"}"#).0 == 200)
            let escalated = try await send(.post, "/escalate", #"{"level":"l2","reason":"needs a specialist"}"#)
            #expect(escalated.0 == 200)
            #expect(escalated.1["status"]?.string == "escalated")
            let early = try await send(.post, "/deescalate", as: "manager", #"{"reason":"stable"}"#)
            #expect(early.0 == 409)
            #expect(early.1["error"]?["message"]?.string?.contains("action plan") == true)
            #expect(try await send(.patch, "", #"{"actionPlan":"hotfix","actionPlanAccepted":true,"rcaStatus":"onTrack","deescalationAgreement":"agreed with the customer on the call"}"#).0 == 200)
            #expect(try await send(.post, "/deescalate", #"{"reason":"stable"}"#).0 == 403, "engineers may not de-escalate")
            let deescalated = try await send(.post, "/deescalate", as: "manager", #"{"reason":"stable for a week"}"#)
            #expect(deescalated.0 == 200)
            #expect(deescalated.1["status"]?.string == "deescalated")
            #expect(try await send(.put, "/attendees/li", #"{"name":"Li","email":"li@example.com"}"#).0 == 200)
            #expect(try await send(.delete, "/attendees/li").1["attendees"]?.array?.isEmpty == true)
            #expect(try await send(.delete, "/attendees/li").0 == 404)
            let resolved = try await send(.post, "/resolve", #"{"resolution":"hotfix 4.2.1 deployed","customerAcknowledged":true}"#)
            #expect(resolved.0 == 200)
            #expect(resolved.1["status"]?.string == "resolved")
            #expect(try await send(.post, "/resolve", #"{"resolution":"again","customerAcknowledged":true}"#).0 == 409)
            let kinds = try await send(.get, "/timeline", as: "viewer").1["events"]?.array?.compactMap { $0["kind"]?.string } ?? []
            #expect(kinds.first == "created")
            #expect(kinds.contains("escalated") && kinds.contains("deescalated") && kinds.last == "resolved", "\(kinds)")
        }
    }

    /// The OpenAPI document is served to token holders.
    @Test func servesTheOpenAPIDocument() async throws {
        try await withAPI { fixture, client in
            try await client.execute(uri: "/v1/openapi.yaml", method: .get, headers: fixture.headers("viewer")) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/yaml")
                #expect(String(buffer: response.body).hasPrefix("openapi: 3.1.0"))
            }
        }
    }

    @Test func listFiltersPagesAndRefusesBadParameters() async throws {
        try await withAPI { fixture, client in
            for index in 0..<5 {
                _ = try await createCase(fixture, client, body: #"{"title":"Case \#(index) printer jam","customer":"c","product":"p","severity":"\#(index < 2 ? "sev1" : "sev3")"}"#)
            }
            let cursor = try await client.execute(uri: "/v1/cases?limit=3", method: .get, headers: fixture.headers("viewer")) { response in
                #expect(response.status == .ok)
                let body = try json(response)
                #expect(body["cases"]?.array?.count == 3)
                return try #require(body["nextCursor"]?.string)
            }
            try await client.execute(uri: "/v1/cases?limit=3&cursor=\(cursor)", method: .get, headers: fixture.headers("viewer")) { response in
                #expect(parsed(response)["cases"]?.array?.count == 2)
            }
            try await client.execute(uri: "/v1/cases?severity=sev1", method: .get, headers: fixture.headers("viewer")) { response in
                #expect(parsed(response)["cases"]?.array?.count == 2)
            }
            try await client.execute(uri: "/v1/cases?q=printer&region=EMEA", method: .get, headers: fixture.headers("viewer")) { response in
                #expect(parsed(response)["cases"]?.array?.count == 5)
            }
            for (query, status) in [("status=open", 422), ("limit=0", 422), ("limit=abc", 422), ("sla=late", 422), ("colour=red", 400), ("region=emea", 422)] {
                try await client.execute(uri: "/v1/cases?\(query)", method: .get, headers: fixture.headers("viewer")) { response in
                    #expect(response.status.code == status, "\(query): \(String(buffer: response.body))")
                }
            }
        }
    }

    @Test func causalTokensAndReplicaCounts() async throws {
        try await withAPI(waitLimit: .milliseconds(200)) { fixture, client in
            let id = try await createCase(fixture, client)
            // A token for a write this node has not seen: bounded wait, then 503.
            let unseen = Data("amer:5".utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
            try await client.execute(uri: "/v1/cases/\(id)?after=\(unseen)", method: .get, headers: fixture.headers("viewer")) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(errorCode(response) == "not_caught_up")
            }
            try await client.execute(uri: "/v1/cases/\(id)?after=%%%", method: .get, headers: fixture.headers("viewer")) { response in
                #expect(response.status == .badRequest)
            }
            // A single node has no peers to wait for.
            try await client.execute(uri: "/v1/cases/\(id)/notes?replicas=1", method: .post, headers: fixture.headers("engineer"),
                                     body: ByteBuffer(string: #"{"text":"x"}"#)) { response in
                #expect(response.status.code == 422)
                #expect(errorField(response) == "replicas")
            }
        }
    }

    @Test func digestClusterAndDailyReport() async throws {
        try await withAPI { fixture, client in
            _ = try await createCase(fixture, client)
            try await client.execute(uri: "/v1/cases", method: .post, headers: fixture.headers("global"),
                                     body: ByteBuffer(string: #"{"title":"t","customer":"c","product":"p","severity":"sev4","owningRegion":"AMER"}"#)) { _ in }
            try await client.execute(uri: "/v1/digest", method: .get, headers: fixture.headers("viewer")) { response in
                let body = try json(response)
                #expect(body["cases"]?.int == 2)
                #expect(body["digest"]?.string == fixture.store.digest.digest.hex)
            }
            try await client.execute(uri: "/v1/cluster", method: .get, headers: fixture.headers("viewer")) { response in
                let body = try json(response)
                #expect(body["node"]?.string == "emea")
                #expect(body["peers"]?.array?.isEmpty == true)
            }
            try await client.execute(uri: "/v1/reports/daily?region=EMEA", method: .get, headers: fixture.headers("viewer")) { response in
                let body = try json(response)
                #expect(body["open"]?.int == 1)
                #expect(body["bySeverity"]?["sev2"]?.int == 1)
            }
            try await client.execute(uri: "/v1/reports/daily?region=AMER", method: .get, headers: fixture.headers("viewer")) { response in
                #expect(parsed(response)["open"]?.int == 1)
            }
        }
    }
}

@Suite struct APIMetricsTests {
    @Test func metricsCountRequestsAndCommitsAndNeedAToken() async throws {
        try await withAPI { fixture, client in
            _ = try await createCase(fixture, client)
            try await client.execute(uri: "/v1/cases/nope", method: .get, headers: fixture.headers("viewer")) { _ in }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/metrics", method: .get, headers: fixture.headers("viewer")) { response in
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                #expect(text.contains(#"casemesh_http_requests_total{method="POST",route="/v1/cases",status="201"} 1"#), "\(text)")
                #expect(text.contains(#"casemesh_http_requests_total{method="GET",route="/v1/cases/{id}",status="404"} 1"#))
                #expect(text.contains("casemesh_commits_total 1"))
                #expect(text.contains("casemesh_cases 1"))
                #expect(text.contains("casemesh_http_request_duration_seconds"))
                #expect(!text.contains("casemesh_replication_gaps_total"), "a single node has no replication counters")
            }
        }
    }

    @Test func metricsShowReplicationDelivery() async throws {
        let fixture = try APIFixture.make(delivery: { ReplicationDelivery(gaps: 3, retransmissions: 2) })
        try await fixture.app.test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get, headers: fixture.headers("viewer")) { response in
                let text = String(buffer: response.body)
                #expect(text.contains("casemesh_replication_gaps_total 3"), "\(text)")
                #expect(text.contains("casemesh_replication_retransmits_total 2"))
            }
        }
        await fixture.close()
    }
}
