import CaseMeshCLI
import Testing

@Suite struct FormattingTests {
    @Test(arguments: [(Int64(45_000), "45s"), (60_000, "1m"), (3_600_000, "1h"), (12_000_000, "3h 20m"), (190_800_000, "2d 5h"), (-60_000, "1m")])
    func durations(millis: Int64, text: String) {
        #expect(Formatting.duration(millis: millis) == text)
    }

    @Test func slaAtAGlance() {
        let now: Int64 = 1_000_000_000
        #expect(Formatting.sla(dueAt: nil, now: now) == "-")
        #expect(Formatting.sla(dueAt: now - 7_200_000, now: now) == "BREACHED 2h")
        #expect(Formatting.sla(dueAt: now + 2_400_000, now: now) == "due 40m")
        #expect(Formatting.relative(now - 300_000, now: now) == "5m ago")
        #expect(Formatting.relative(now + 300_000, now: now) == "in 5m")
        #expect(Formatting.timestamp(1_764_579_600_000) == "2025-12-01 09:00Z")
        #expect(Formatting.severity("sev1") == "Sev1")
    }

    /// Columns line up; the flexible column is cut with an ellipsis so the
    /// table fits the width.
    @Test func tablesAlignAndFit() {
        var table = Table(["ID", "TITLE", "OWNER"], flexible: 1)
        table.add(["a", "short", "ana"])
        table.add(["bbb", String(repeating: "x", count: 80), "bo"])
        let lines = table.render(width: 30).split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines.allSatisfy { $0.count <= 30 })
        #expect(lines[0].hasPrefix("ID   TITLE"))
        #expect(lines[2].contains("…"))
        #expect(lines[1].hasSuffix("ana"))
        let ownerColumn = lines[0].range(of: "OWNER")!.lowerBound.utf16Offset(in: lines[0])
        #expect(lines[2].dropFirst(ownerColumn).hasPrefix("bo"))
    }

    @Test func fieldAssignmentsAreTypedByField() throws {
        let body = try CaseFieldNames.body(["owner=Ana Ruiz", "actionPlanAccepted=yes", "communicationFrequencyMinutes=60",
                                            "criticalMilestone=2026-12-24T09:00:00Z", "reportedAt=1764579600000"])
        #expect(body["owner"]?.string == "Ana Ruiz")
        #expect(body["actionPlanAccepted"]?.bool == true)
        #expect(body["communicationFrequencyMinutes"]?.int == 60)
        #expect(body["criticalMilestone"]?.string == "2026-12-24T09:00:00Z")
        #expect(body["reportedAt"]?.int == 1_764_579_600_000)
        #expect(throws: CLIError.self) { try CaseFieldNames.body(["colour=red"]) }
        #expect(throws: CLIError.self) { try CaseFieldNames.body(["actionPlanAccepted=maybe"]) }
        #expect(throws: CLIError.self) { try CaseFieldNames.body(["owner"]) }
        #expect(throws: CLIError.self) { try CaseFieldNames.body([]) }
    }
}
