import CaseMeshNode

/// What the CLI prints for each answer, as plain text. Pure functions of
/// the node's JSON and `now`, so they are tested without a node.
public enum CaseViews {
    /// `case list`: one row per case, the most urgent columns first.
    public static func list(_ page: JSONValue, now: Int64, width: Int = 120) -> String {
        let cases = page["cases"]?.array ?? []
        guard !cases.isEmpty else { return "no cases match" }
        var table = Table(["NUMBER", "SEV", "STATUS", "REGION", "OWNER", "SLA", "UPDATED", "TITLE"], flexible: 7)
        for item in cases {
            table.add([
                item["number"]?.string ?? "?", Formatting.severity(item["severity"]?.string), item["status"]?.string ?? "?",
                item["owningRegion"]?.string ?? "?", item["owner"]?.string ?? "-",
                Formatting.sla(dueAt: item["slaDueAt"]?.int, now: now),
                item["updatedAt"]?.int.map { Formatting.relative($0, now: now) } ?? "-", item["title"]?.string ?? "",
            ])
        }
        var text = table.render(width: width)
        let breached = cases.filter { ($0["slaDueAt"]?.int ?? .max) < now }.count
        text += "\n\n\(cases.count) case\(cases.count == 1 ? "" : "s")"
        if breached > 0 { text += ", \(breached) past an SLA deadline" }
        if page["nextCursor"]?.string != nil { text += " (more: --all, or --cursor \(page["nextCursor"]!.string!))" }
        return text
    }

    /// `case show`: the case on one screen — header, fields, SLA clocks,
    /// the sets, conflicts and the latest timeline events.
    public static func show(_ document: JSONValue, now: Int64, events: Int = 10) -> String {
        let fields = document["fields"]?.object ?? [:]
        func field(_ name: String) -> String? {
            switch fields[name] {
            case let .string(text)?: return text
            case let .bool(flag)?: return flag ? "yes" : "no"
            case let .int(number)?: return name == "criticalMilestone" ? Formatting.timestamp(number) : "\(number)"
            default: return nil
            }
        }
        var lines: [String] = []
        lines.append("\(document["number"]?.string ?? "?")  \(field("title") ?? "")")
        lines.append("\(Formatting.severity(field("severity")))  \(document["status"]?.string ?? "?")  level \(document["escalationLevel"]?.string ?? "?")  "
                     + "region \(document["owningRegion"]?.string ?? "?")  id \(document["id"]?.string ?? "?")")
        lines.append("")
        let order = ["customer", "product", "owner", "regionalManager", "problemStatement", "businessImpact", "workaround", "criticalMilestone",
                     "communicationMode", "communicationFrequencyMinutes", "actionPlan", "actionPlanAccepted", "rootCause", "rcaStatus",
                     "deescalationAgreement", "resolution", "customerAcknowledged"]
        var details = Table(["FIELD", "VALUE"])
        for name in order { if let value = field(name) { details.add([name, value]) } }
        lines.append(contentsOf: details.render().split(separator: "\n").dropFirst().map(String.init))
        if let sla = document["sla"] {
            lines.append("")
            var clocks = Table(["SLA", "DUE", "STATE"])
            for (name, key) in [("first response", "firstResponse"), ("next update", "nextUpdate"), ("resolution", "resolution"),
                                ("solutions contact", "solutionsContact")] {
                guard let clock = sla[key], let due = clock["dueAt"]?.int else { continue }
                let state = clock["state"]?.string ?? "?"
                clocks.add([name, "\(Formatting.timestamp(due)) (\(Formatting.relative(due, now: now)))", state == "breached" ? "BREACHED" : state])
            }
            lines.append(clocks.render())
        }
        if let conflicts = document["conflicts"]?.object, !conflicts.isEmpty {
            lines.append("")
            lines.append("CONFLICTS (concurrent writes that lost; the field keeps the value above)")
            for (name, losers) in conflicts.sorted(by: { $0.key < $1.key }) {
                for loser in losers.array ?? [] {
                    let value: String
                    switch loser["value"] { case let .string(text)?: value = text; case let other?: value = other.prettyText; case nil: value = "?" }
                    lines.append("  \(name): \"\(value)\" from \(loser["node"]?.string ?? "?") at \(loser["at"]?.int.map(Formatting.timestamp) ?? "?")")
                }
            }
        }
        section(&lines, "NOTES", document["notes"]?.array) { note in
            "\(note["id"]?.string?.prefix(8) ?? "?")  \(note["createdAt"]?.int.map { Formatting.relative($0, now: now) } ?? "")  "
                + "\(note["author"]?.string ?? "?") (\(note["visibility"]?.string ?? "?")): \(note["text"]?.string ?? "")"
        }
        section(&lines, "ATTENDEES", document["attendees"]?.array) { person in
            "\(person["id"]?.string ?? "?")  \(person["name"]?.string ?? "?") <\(person["email"]?.string ?? "?")>  \(person["role"]?.string ?? "")"
        }
        section(&lines, "TROUBLESHOOTING", document["troubleshooting"]?.array) { step in
            let outcome = step["outcome"]?.string ?? ""
            return "\(step["level"]?.string?.uppercased() ?? "?")  \(step["action"]?.string ?? "")" + (outcome.isEmpty ? "  (no outcome yet)" : " → \(outcome)")
        }
        section(&lines, "APPROVALS", document["approvals"]?.array) { approval in
            "\(approval["kind"]?.string ?? "?") by \(approval["approver"]?.string ?? "?") (\(approval["approverRole"]?.string ?? "?")): \(approval["notes"]?.string ?? "")"
        }
        let timeline = document["timeline"]?.array ?? []
        section(&lines, "TIMELINE (latest \(min(events, timeline.count)) of \(timeline.count))", Array(timeline.suffix(events))) { event in
            timelineLine(event, now: now)
        }
        return lines.joined(separator: "\n")
    }

    static func section(_ lines: inout [String], _ title: String, _ items: [JSONValue]?, _ line: (JSONValue) -> String) {
        guard let items, !items.isEmpty else { return }
        lines.append("")
        lines.append(title)
        for item in items { lines.append("  " + line(item)) }
    }

    /// One timeline event: when, where, who, what.
    public static func timelineLine(_ event: JSONValue, now: Int64) -> String {
        let when = event["at"]?.int.map(Formatting.timestamp) ?? "?"
        var text = "\(when)  \(event["node"]?.string ?? "?")  \(event["actor"]?.string ?? "?")  \(event["kind"]?.string ?? "?")"
        if let field = event["field"]?.string { text += " \(field)" }
        switch (event["from"]?.string, event["to"]?.string) {
        case let (from?, to?): text += ": \(from) → \(to)"
        case let (nil, to?): text += ": \(to)"
        case let (from?, nil): text += ": \(from)"
        default: break
        }
        if let reason = event["reason"]?.string, event["kind"]?.string != "created" { text += " (\(reason))" }
        return text
    }

    /// `report daily`.
    public static func report(_ report: JSONValue, now: Int64, width: Int = 120) -> String {
        var lines: [String] = []
        let region = report["region"]?.string ?? "?"
        lines.append("Daily escalation report, \(region), \(report["generatedAt"]?.int.map(Formatting.timestamp) ?? "?") (node \(report["node"]?.string ?? "?"))")
        lines.append("")
        lines.append("open cases: \(report["open"]?.int ?? 0)   updated in the last day: \(report["updatedLastDay"]?.int ?? 0)   "
                     + "past an SLA deadline: \(report["breached"]?.array?.count ?? 0)   escalated: \(report["escalated"]?.array?.count ?? 0)")
        for (title, key, order) in [("by severity", "bySeverity", ["sev1", "sev2", "sev3", "sev4"]),
                                    ("by status", "byStatus", ["new", "investigating", "escalated", "deescalated"])] {
            let counts = report[key]?.object ?? [:]
            let keys = order.filter { counts[$0] != nil } + counts.keys.filter { !order.contains($0) }.sorted()
            lines.append("\(title): " + (keys.isEmpty ? "none" : keys.map { "\($0 == $0.lowercased() && $0.hasPrefix("sev") ? Formatting.severity($0) : $0) \(counts[$0]?.int ?? 0)" }.joined(separator: ", ")))
        }
        for (title, key) in [("PAST AN SLA DEADLINE", "breached"), ("ESCALATED", "escalated")] {
            guard let cases = report[key]?.array, !cases.isEmpty else { continue }
            lines.append("")
            lines.append(title)
            lines.append(list(.object(["cases": .array(cases)]), now: now, width: width).components(separatedBy: "\n\n").first ?? "")
        }
        return lines.joined(separator: "\n")
    }

    /// `cluster status` for one node's view.
    public static func cluster(_ view: JSONValue, url: String) -> String {
        var lines = ["\(view["node"]?.string ?? "?") (\(view["region"]?.string ?? "?")) at \(url): \(view["cases"]?.int ?? 0) cases, digest \(view["digest"]?.string?.prefix(12) ?? "?")"]
        let peers = view["peers"]?.array ?? []
        if peers.isEmpty {
            lines.append("  no peers (a single node)")
        } else {
            var table = Table(["  PEER", "STATE", "LAST CONTACT", "LAG (OPS)"])
            for peer in peers {
                table.add(["  " + (peer["id"]?.string ?? "?"), peer["state"]?.string ?? "?",
                           peer["lastContactMillisAgo"]?.int.map { "\(Formatting.duration(millis: $0)) ago" } ?? "never",
                           "\(peer["lagOperations"]?.int ?? 0)"])
            }
            lines.append(table.render())
        }
        return lines.joined(separator: "\n")
    }
}
