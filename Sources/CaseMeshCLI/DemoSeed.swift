import CaseMeshCRDT
import CaseMeshNode
import Foundation

/// About fifty realistic escalations for the local cluster, the same on
/// every run (seeded): each region's engineers open their own cases on
/// their own node, with notes, attendees, troubleshooting and approvals;
/// some are escalated (to L2, an SME or the vendor, or along the
/// customer-service path), some de-escalated or resolved, and some were
/// reported long enough ago that an SLA deadline has passed.
public struct DemoSeed: Sendable {
    public struct Plan: Sendable {
        public var region: String
        public var id: String
        public var create: JSONValue
        /// Requests after the create: method, path below the case, body, and the role that sends it.
        public var steps: [(method: String, path: String, body: JSONValue, manager: Bool)]
    }

    static let customers = ["Acme Logistics", "Nordwind Bank", "Helios Energy", "Bluefin Retail", "Kestrel Airlines", "Orchid Health",
                            "Tamarind Foods", "Vantage Telecom", "Granite Insurance", "Lumen Media", "Sakura Motors", "Condor Mining"]
    static let products = ["Payments Gateway", "Identity Service", "Data Pipeline", "Mobile SDK", "Billing", "Search", "Messaging API"]
    static let problems: [(title: String, statement: String, impact: String)] = [
        ("Card payments declined after 4.2 upgrade", "Since the 4.2 upgrade about 30% of card payments fail with error 402 at authorisation.",
         "Checkout revenue down by a third during peak hours."),
        ("SSO logins time out for EU tenants", "Single sign-on requests from EU tenants time out after 30 s; US tenants are unaffected.",
         "About 4,000 agents cannot log in at shift start."),
        ("Nightly export misses records", "The nightly export to the warehouse drops records updated between 23:55 and 00:05 UTC.",
         "Finance reports are wrong every morning; month-end close at risk."),
        ("App crashes on Android 15 at launch", "The SDK crashes at launch on Android 15 devices with a null pointer in the keystore bridge.",
         "New app release blocked; 12% of users on Android 15."),
        ("Invoices duplicated for annual plans", "Annual plan renewals produce two invoices when the plan changed mid-term.",
         "Customers charged twice; complaints reaching the press office."),
        ("Search results stale for an hour", "Index updates take up to an hour to show in search results instead of seconds.",
         "Store shows sold-out items; orders cancelled afterwards."),
        ("Webhook deliveries delayed by minutes", "Message webhooks arrive 5 to 10 minutes late under normal load.",
         "Dispatch decisions made on old data; SLA penalties with their customers."),
        ("Intermittent 503s from the EU endpoint", "About 1 in 200 calls to the EU endpoint return 503 during business hours.",
         "Retries double the load on their side; batch jobs overrun."),
        ("Password reset emails not arriving", "Password reset emails are not delivered to addresses at two large providers.",
         "Support desk flooded with reset requests."),
        ("Report totals differ between regions", "The same report gives different totals when run from the EU and US consoles.",
         "Board pack figures cannot be signed off."),
    ]
    static let engineers = ["EMEA": ["Ana Ruiz", "Lars Berg", "Sofia Conti"], "AMER": ["Bo Carter", "Maya Lopez", "Sam Reed"],
                            "APAC": ["Chen Wei", "Aiko Tanaka", "Ravi Iyer"]]
    static let managers = ["EMEA": "Mia Schmidt", "AMER": "Rob Diaz", "APAC": "Kim Park"]
    static let teamLeaders = ["EMEA": "Tom Becker", "AMER": "Jill Moore", "APAC": "Arjun Rao"]

    /// The plans: `count` cases spread over the three regions.
    public static func plans(count: Int = 50, now: Int64, seed: UInt64 = 7) -> [Plan] {
        var random = SplitMix64(seed: seed)
        let regions = ["EMEA", "AMER", "APAC"]
        let severities = ["sev1", "sev2", "sev2", "sev3", "sev3", "sev3", "sev4", "sev4"]
        let hour: Int64 = 3_600_000
        var plans: [Plan] = []
        for index in 0..<count {
            let region = regions[index % 3]
            let problem = problems[(index * 7 + index / 10) % problems.count]
            let customer = customers[Int(random.next() % UInt64(customers.count))]
            let product = products[Int(random.next() % UInt64(products.count))]
            let severity = index == 0 ? "sev1" : severities[Int(random.next() % UInt64(severities.count))]
            let owner = engineers[region]![Int(random.next() % 3)]
            let id = "demo-\(region.lowercased())-\(String(format: "%02d", index / 3 + 1))"
            var create: [String: JSONValue] = [
                "id": .string(id), "title": .string("\(customer): \(problem.title)"), "customer": .string(customer),
                "product": .string(product), "severity": .string(severity), "owningRegion": .string(region),
                "problemStatement": .string(problem.statement), "businessImpact": .string(problem.impact),
                "workaround": .string(["none", "available", "impractical"][Int(random.next() % 3)]),
                "criticalMilestone": .int(now + Int64(1 + random.next() % 20) * 24 * hour),
                "owner": .string(owner), "regionalManager": .string(managers[region]!),
            ]
            // Every fifth case came from another desk days ago: its SLA clocks
            // started then, and nobody has answered the customer yet.
            let late = index % 5 == 1
            if late { create["reportedAt"] = .int(now - Int64(30 + random.next() % 200) * hour) }
            var steps: [(method: String, path: String, body: JSONValue, manager: Bool)] = []
            func step(_ method: String, _ path: String, _ body: [String: JSONValue], manager: Bool = false) {
                steps.append((method, path, .object(body), manager))
            }
            let contact = engineers[region]![(index + 1) % 3]
            step("PUT", "/attendees/\(customer.split(separator: " ")[0].lowercased())-lead",
                 ["name": .string("\(customer.split(separator: " ")[0]) incident lead"),
                  "email": .string("incidents@\(customer.split(separator: " ")[0].lowercased()).example.com"), "role": .string("customer")])
            step("PUT", "/attendees/\(contact.split(separator: " ")[0].lowercased())",
                 ["name": .string(contact), "email": .string("\(contact.split(separator: " ")[0].lowercased())@casemesh.example"),
                  "role": .string("escalation engineer")])
            step("POST", "/notes", ["text": .string("Reproduced on our side; collecting logs from the customer."), "visibility": .string("internal")])
            if !late && index % 4 != 3 {
                step("POST", "/notes", ["text": .string("We are investigating and will update you within the hour."), "visibility": .string("customer")])
            }
            step("POST", "/troubleshooting", ["level": .string("l1"), "action": .string("Checked service health and recent deploys"),
                                              "outcome": .string("No incident open; the 4.2 rollout matches the start time")])
            let kind = index % 10
            switch kind {
            case 2, 5:  // escalated to L2 and on to an SME
                step("PATCH", "", ["communicationMode": .string("conferenceCall"), "communicationFrequencyMinutes": .int(60),
                                   "actionPlan": .string("Capture traces during the next failure window; compare with 4.1.")])
                step("POST", "/escalate", ["level": .string("l2"), "reason": .string("Needs deeper analysis than L1 can give")])
                step("POST", "/escalate", ["level": .string("sme"), "reason": .string("Subject matter expert for \(product) needed")])
            case 3, 8:  // to the vendor: L2, an L2 step with an outcome, a Team Leader's approval
                step("POST", "/escalate", ["level": .string("l2"), "reason": .string("Reproducible; outside L1 scope")])
                step("POST", "/troubleshooting", ["level": .string("l2"), "action": .string("Collected heap dumps and packet captures"),
                                                  "outcome": .string("Fault is in the vendor's TLS library"),
                                                  "evidence": .string("capture-\(index).pcap")])
                step("POST", "/approvals", ["kind": .string("vendorEscalation"), "approver": .string(teamLeaders[region]!),
                                            "approverRole": .string("teamLeader"), "notes": .string("Evidence reviewed on the bridge call")],
                     manager: true)
                step("POST", "/escalate", ["level": .string("l3Vendor"), "reason": .string("Defect in a vendor component"),
                                           "approvedBy": .string(teamLeaders[region]!)])
                step("PATCH", "", ["communicationMode": .string("email"), "communicationFrequencyMinutes": .int(240)])
            case 4:  // escalated, then de-escalated with the checklist done
                step("POST", "/escalate", ["level": .string("l2"), "reason": .string("Customer executive escalation")])
                step("PATCH", "", ["actionPlan": .string("Hotfix 4.2.1 then monitor for a week"), "actionPlanAccepted": .bool(true),
                                   "rcaStatus": .string("onTrack"), "rootCause": .string("Race in the retry scheduler"),
                                   "deescalationAgreement": .string("Agreed with the customer's CTO on the weekly call")])
                step("POST", "/deescalate", ["reason": .string("Hotfix stable for five days")], manager: true)
            case 6:  // resolved with the customer's acknowledgement
                step("POST", "/notes", ["text": .string("Fix deployed; please confirm."), "visibility": .string("customer")])
                step("POST", "/resolve", ["resolution": .string("Configuration corrected and fix deployed"), "customerAcknowledged": .bool(true)])
            default:
                step("PATCH", "", ["status": .string("investigating")])
            }
            if kind == 9 {  // the customer-service path
                create["level"] = .string("csr")
                step("POST", "/escalate", ["level": .string("customerServiceManager"), "reason": .string("Customer asked for a manager")])
                step("POST", "/escalate", ["level": .string("solutionsTeam"), "reason": .string("Needs a commercial solution")])
            }
            plans.append(Plan(region: region, id: id, create: .object(create), steps: steps))
        }
        return plans
    }
}
