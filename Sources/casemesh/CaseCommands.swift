import ArgumentParser
import CaseMeshCLI
import CaseMeshNode
import Foundation

/// `casemesh case …`: what escalation engineers and managers do between calls.
struct CaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "case",
        abstract: "List, read and work escalated cases on a node.",
        discussion: "Each command talks to one node (--node, $CASEMESH_NODE) with a token (--token, $CASEMESH_TOKEN). Errors are printed in plain words and exit non-zero.",
        subcommands: [List.self, Show.self, Create.self, Set.self, Note.self, Attendee.self, Step.self, Approve.self,
                      Escalate.self, Deescalate.self, Resolve.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cases newest-updated first, with severity, status, owner and SLA at a glance.")
        @OptionGroup var options: NodeOptions
        @Option(help: "new, investigating, escalated, deescalated, resolved or closed.") var status: String?
        @Option(help: "sev1 to sev4.") var severity: String?
        @Option(help: "Owning region, e.g. EMEA.") var region: String?
        @Option(help: "Owner's name.") var owner: String?
        @Flag(help: "Only cases past an SLA deadline.") var breached = false
        @Option(name: [.customShort("q"), .long], help: "Full-text search over title, problem statement and notes.") var query: String?
        @Option(help: "Cases per page (1 to 1000, default 50).") var limit: Int?
        @Option(help: "Continue from a previous page's cursor.") var cursor: String?
        @Flag(help: "Follow the cursor to the last page.") var all = false

        func run() async throws {
            let client = try options.client()
            var query: [(String, String)] = []
            for (name, value) in [("status", status), ("severity", severity), ("region", region), ("owner", owner), ("q", self.query),
                                  ("limit", limit.map(String.init)), ("cursor", cursor)] {
                if let value { query.append((name, value)) }
            }
            if breached { query.append(("sla", "breached")) }
            var reply = try await client.send("GET", "/v1/cases", query: query)
            if all {
                var cases = reply.body["cases"]?.array ?? []
                var pages = 1
                let progress = Progress()
                while let next = reply.body["nextCursor"]?.string {
                    pages += 1
                    if pages % 10 == 0 { progress.note("… \(cases.count) cases so far") }
                    reply = try await client.send("GET", "/v1/cases", query: query.filter { $0.0 != "cursor" } + [("cursor", next)])
                    cases += reply.body["cases"]?.array ?? []
                }
                reply.body = .object(["cases": .array(cases), "nextCursor": .null])
            }
            options.output(reply) { CaseViews.list($0, now: nowMillis, width: width) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One case: fields, SLA clocks, notes, attendees, steps, approvals, conflicts and timeline.")
        @OptionGroup var options: NodeOptions
        @Argument(help: "The case id.") var id: String
        @Option(help: "Timeline events to show (default 10).") var events = 10
        @Option(help: "A causal token from a write on another node: wait until this node has it.") var after: String?

        func run() async throws {
            let reply = try await options.client().send("GET", "/v1/cases/\(id)", query: after.map { [("after", $0)] } ?? [])
            options.output(reply) { CaseViews.show($0, now: nowMillis, events: events) }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open a case (in your region unless --region).")
        @OptionGroup var options: NodeOptions
        @Option(help: "One line saying what is wrong.") var title: String
        @Option(help: "The customer.") var customer: String
        @Option(help: "The product.") var product: String
        @Option(help: "sev1 (worst) to sev4.") var severity: String
        @Option(help: "Your own id for the case (safe to retry).") var id: String?
        @Option(help: "Starting level: l1 (default), l2 or csr.") var level: String?
        @Option(help: "Owning region (default: the node's).") var region: String?
        @Option(help: "Problem statement.") var problem: String?
        @Option(help: "Business impact.") var impact: String?
        @Option(help: "none, available or impractical.") var workaround: String?
        @Option(help: "Critical milestone, e.g. 2026-12-24T09:00:00Z.") var milestone: String?
        @Option(help: "Owner (the escalation engineer).") var owner: String?
        @Option(help: "When the customer reported it, if earlier (ISO 8601): SLA clocks start then.") var reportedAt: String?

        func run() async throws {
            var body: [String: JSONValue] = ["title": .string(title), "customer": .string(customer), "product": .string(product),
                                             "severity": .string(severity)]
            for (name, value) in [("id", id), ("level", level), ("owningRegion", region), ("problemStatement", problem), ("businessImpact", impact),
                                  ("workaround", workaround), ("criticalMilestone", milestone), ("owner", owner), ("reportedAt", reportedAt)] {
                if let value { body[name] = .string(value) }
            }
            let reply = try await options.client().send("POST", "/v1/cases", body: .object(body))
            options.output(reply) { document in
                let verb = reply.status == 201 ? "created" : "already exists:"
                return "\(verb) \(document["number"]?.string ?? "?") (id \(document["id"]?.string ?? "?"))"
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set fields: casemesh case set ID owner=\"Ana Ruiz\" rcaStatus=onTrack actionPlanAccepted=true",
            discussion: "Fields: \(CaseFieldNames.all). true/false and whole numbers are sent as such; everything else as text.")
        @OptionGroup var options: NodeOptions
        @Argument(help: "The case id.") var id: String
        @Argument(help: "FIELD=VALUE pairs.") var assignments: [String]

        func run() async throws {
            let body = try CaseFieldNames.body(assignments)
            let reply = try await options.client().send("PATCH", "/v1/cases/\(id)", body: body)
            options.output(reply) { "updated \($0["number"]?.string ?? id): " + assignments.joined(separator: ", ") }
        }
    }

    struct Note: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a note (internal unless --customer), or remove one with --remove NOTE_ID.")
        @OptionGroup var options: NodeOptions
        @Argument(help: "The case id.") var id: String
        @Argument(help: "The note's text.") var text: String?
        @Flag(help: "The customer may see this note (counts as a customer update for the SLA).") var customer = false
        @Option(help: "Remove the note with this id instead.") var remove: String?

        func validate() throws {
            guard (text == nil) != (remove == nil) else { throw ValidationError("give the note's text, or --remove NOTE_ID") }
        }

        func run() async throws {
            let client = try options.client()
            if let remove {
                let reply = try await client.send("DELETE", "/v1/cases/\(id)/notes/\(remove)")
                options.output(reply) { _ in "removed note \(remove)" }
            } else {
                let reply = try await client.send("POST", "/v1/cases/\(id)/notes",
                                                  body: .object(["text": .string(text!), "visibility": .string(customer ? "customer" : "internal")]))
                options.output(reply) { "added note \($0["id"]?.string ?? "?") (\(customer ? "customer" : "internal"))" }
            }
        }
    }

    struct Attendee: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add or update an attendee of the communication plan, or --remove one.")
        @OptionGroup var options: NodeOptions
        @Argument(help: "The case id.") var id: String
        @Argument(help: "The attendee's id (letters, digits, - _ .), e.g. li-wei.") var attendee: String
        @Option(help: "Full name.") var name: String?
        @Option(help: "Email address.") var email: String?
        @Option(help: "Role on the call (default attendee).") var role: String?
        @Flag(help: "Remove the attendee instead.") var remove = false

        func validate() throws {
            if !remove && (name == nil || email == nil) { throw ValidationError("give --name and --email (or --remove)") }
        }

        func run() async throws {
            let client = try options.client()
            if remove {
                let reply = try await client.send("DELETE", "/v1/cases/\(id)/attendees/\(attendee)")
                options.output(reply) { _ in "removed attendee \(attendee)" }
            } else {
                var body: [String: JSONValue] = ["name": .string(name!), "email": .string(email!)]
                if let role { body["role"] = .string(role) }
                let reply = try await client.send("PUT", "/v1/cases/\(id)/attendees/\(attendee)", body: .object(body))
                options.output(reply) { "attendee \($0["id"]?.string ?? attendee): \($0["name"]?.string ?? "") <\($0["email"]?.string ?? "")>" }
            }
        }
    }

    struct Step: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record an L1/L2 troubleshooting step.")
        @OptionGroup var options: NodeOptions
        @Argument(help: "The case id.") var id: String
        @Option(help: "l1 or l2.") var level: String
        @Option(help: "What was done.") var action: String
        @Option(help: "What came of it (needed for a vendor escalation).") var outcome: String?
        @Option(help: "Where the evidence is.") var evidence: String?

        func run() async throws {
            var body: [String: JSONValue] = ["level": .string(level), "action": .string(action)]
            if let outcome { body["outcome"] = .string(outcome) }
            if let evidence { body["evidence"] = .string(evidence) }
            let reply = try await options.client().send("POST", "/v1/cases/\(id)/troubleshooting", body: .object(body))
            options.output(reply) { "recorded \(level.uppercased()) step \($0["id"]?.string ?? "?")" }
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record an approval (regional manager or above).")
        @OptionGroup var options: NodeOptions
        @Argument(help: "The case id.") var id: String
        @Option(help: "vendorEscalation, deescalation or other.") var kind: String
        @Option(help: "Who approved.") var approver: String
        @Option(name: .customLong("approver-role"), help: "teamLeader, teamManager, regionalManager or leadership.") var approverRole: String
        @Option(help: "The approval's notes.") var notes: String

        func run() async throws {
            let reply = try await options.client().send("POST", "/v1/cases/\(id)/approvals", body: .object([
                "kind": .string(kind), "approver": .string(approver), "approverRole": .string(approverRole), "notes": .string(notes)]))
            options.output(reply) { "recorded \(kind) approval by \($0["approver"]?.string ?? approver)" }
        }
    }

    struct Escalate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Escalate to a level; the process gates are checked and a refusal names the rule.")
        @OptionGroup var options: NodeOptions
        @Argument(help: "The case id.") var id: String
        @Option(help: "l2, sme, l3Vendor, teamLeader, teamManager, leadership, customerServiceManager or solutionsTeam.") var level: String
        @Option(help: "Why.") var reason: String
        @Option(name: .customLong("approved-by"), help: "For L3 (vendor): the Team Leader whose approval is recorded.") var approvedBy: String?

        func run() async throws {
            var body: [String: JSONValue] = ["level": .string(level), "reason": .string(reason)]
            if let approvedBy { body["approvedBy"] = .string(approvedBy) }
            let reply = try await options.client().send("POST", "/v1/cases/\(id)/escalate", body: .object(body))
            options.output(reply) { "\($0["number"]?.string ?? id) escalated to \($0["escalationLevel"]?.string ?? level)" }
        }
    }

    struct Deescalate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "De-escalate (regional manager): needs the plan accepted, RCA on track and the agreement documented.")
        @OptionGroup var options: NodeOptions
        @Argument(help: "The case id.") var id: String
        @Option(help: "Why (default: the documented agreement).") var reason: String?

        func run() async throws {
            let reply = try await options.client().send("POST", "/v1/cases/\(id)/deescalate", body: .object(["reason": .string(reason ?? "")]))
            options.output(reply) { "\($0["number"]?.string ?? id) de-escalated" }
        }
    }

    struct Resolve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resolve: needs a resolution text and the customer's acknowledgement.")
        @OptionGroup var options: NodeOptions
        @Argument(help: "The case id.") var id: String
        @Option(help: "What fixed it (if not set on the case already).") var resolution: String?
        @Flag(help: "The customer acknowledged the resolution.") var acknowledged = false

        func run() async throws {
            var body: [String: JSONValue] = [:]
            if let resolution { body["resolution"] = .string(resolution) }
            if acknowledged { body["customerAcknowledged"] = .bool(true) }
            let reply = try await options.client().send("POST", "/v1/cases/\(id)/resolve", body: .object(body))
            options.output(reply) { "\($0["number"]?.string ?? id) resolved" }
        }
    }
}
