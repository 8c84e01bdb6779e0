import Testing
import CaseMeshCRDT
@testable import CaseMeshDomain

/// SLA clocks, computed from the (merged) case and `now`. Every expected
/// instant below is worked out by hand from the region's calendar: office
/// hours 09:00–17:00 local, Monday to Friday; Sev3 first response 8 business
/// hours, resolution 5 business days (40 h); Sev4 first response 16 business
/// hours; Sev1 1 h / 24 h and Sev2 4 h / 72 h round the clock; Solutions team
/// contact within 2 working days (16 business hours).
@Suite struct SLATests {
    func openCase(severity: Severity, region: String = "EMEA", at created: Int64, level: EscalationLevel = .l1,
                  fields: [CaseField: FieldValue] = [:]) throws -> ReplicaCase {
        let number = "\(region)-000001"
        return try ReplicaCase(newCase(number: number, region: region, severity: severity, level: level, fields: fields), at: created)
    }

    // MARK: First response

    /// Sev1 runs on the clock: first response due one hour after creation,
    /// pending until then, breached after.
    @Test func firstResponsePendingThenBreached() throws {
        let c = try openCase(severity: .sev1, at: base)
        let due = base + hour
        #expect(c.state.sla(now: base + 59 * minute).firstResponse == SLAClock(dueAt: due, completedAt: nil, now: base))
        #expect(c.state.sla(now: base + 59 * minute).firstResponse.state == .pending)
        #expect(c.state.sla(now: due).firstResponse.state == .pending)
        #expect(c.state.sla(now: due + 1).firstResponse.state == .breached)
        #expect(c.state.sla(now: due + 1).isBreached)
        #expect(!c.state.sla(now: due).isBreached)
    }

    /// The first customer-visible note is the first response; internal notes
    /// are work, not a response, and do not stop the clock.
    @Test func firstResponseMetByFirstCustomerNote() throws {
        var c = try openCase(severity: .sev1, at: base)
        try c.run(.addNote(id: noteID("n1"), text: "Looking into it (internal)", visibility: .internal), at: base + 10 * minute)
        #expect(c.state.sla(now: base + 2 * hour).firstResponse.state == .breached)
        try c.run(.addNote(id: noteID("n2"), text: "We are on it", visibility: .customer), at: base + 30 * minute)
        try c.run(.addNote(id: noteID("n3"), text: "Update", visibility: .customer), at: base + 50 * minute)
        let clock = c.state.sla(now: base + 2 * hour).firstResponse
        #expect(clock.completedAt == base + 30 * minute)
        #expect(clock.state == .met)
        #expect(!clock.isBreached)
    }

    /// A case escalated from another desk carries when the customer first
    /// reported the problem: its clocks start then, not at creation here. A
    /// report time after creation changes nothing.
    @Test func clocksStartWhenTheCustomerReported() throws {
        let reported = try openCase(severity: .sev1, at: base, fields: [.reportedAt: .time(base - 2 * hour)])
        #expect(reported.state.sla(now: base).firstResponse.dueAt == base - hour)
        #expect(reported.state.sla(now: base).firstResponse.state == .breached)
        #expect(reported.state.sla(now: base).resolution.dueAt == base + 22 * hour)
        let later = try openCase(severity: .sev1, at: base, fields: [.reportedAt: .time(base + hour)])
        #expect(later.state.sla(now: base).firstResponse.dueAt == base + hour)
    }

    /// A customer note after the deadline completes the clock as missed.
    @Test func lateFirstResponseIsMissed() throws {
        var c = try openCase(severity: .sev1, at: base)
        try c.run(.addNote(id: noteID("n1"), text: "Sorry for the wait", visibility: .customer), at: base + 61 * minute)
        let clock = c.state.sla(now: base + 2 * hour).firstResponse
        #expect(clock.state == .missed)
        #expect(clock.isBreached)
    }

    // MARK: Business hours

    /// Sev3 created Friday 2026-01-09 16:00 London (GMT, = UTC): 1 h on
    /// Friday, then 7 h from Monday 09:00 → Monday 2026-01-12 16:00 UTC.
    /// Resolution: 40 h = Fri 1 h + Mon–Thu 32 h + 7 h on Friday 2026-01-16 → 16:00 UTC.
    @Test func sev3FridayAfternoonLondonWinter() throws {
        let c = try openCase(severity: .sev3, at: utc(2026, 1, 9, 16))
        let sla = c.state.sla(now: utc(2026, 1, 10, 12))
        #expect(sla.firstResponse.dueAt == utc(2026, 1, 12, 16))
        #expect(sla.resolution.dueAt == utc(2026, 1, 16, 16))
        #expect(sla.firstResponse.state == .pending)
        #expect(sla.nextDueAt == utc(2026, 1, 12, 16))
    }

    /// Summer time: Friday 2026-06-12 16:00 BST is 15:00 UTC; due Monday
    /// 2026-06-15 16:00 BST = 15:00 UTC.
    @Test func sev3FridayAfternoonLondonSummer() throws {
        let c = try openCase(severity: .sev3, at: utc(2026, 6, 12, 15))
        #expect(c.state.sla(now: utc(2026, 6, 12, 15)).firstResponse.dueAt == utc(2026, 6, 15, 15))
    }

    /// The DST week: created Friday 2026-03-27 16:00 GMT (= 16:00 UTC); the
    /// clocks go forward on Sunday 29 March, so Monday 16:00 BST is 15:00 UTC.
    /// Resolution: Fri 1 h + Mon–Thu 32 h + 7 h on Friday 2026-04-03 → 16:00 BST = 15:00 UTC.
    @Test func sev3AcrossSpringDSTInLondon() throws {
        let c = try openCase(severity: .sev3, at: utc(2026, 3, 27, 16))
        let sla = c.state.sla(now: utc(2026, 3, 27, 16))
        #expect(sla.firstResponse.dueAt == utc(2026, 3, 30, 15))
        #expect(sla.resolution.dueAt == utc(2026, 4, 3, 15))
    }

    /// Autumn: Friday 2026-10-23 16:00 BST (15:00 UTC); clocks go back on
    /// Sunday 25 October; Monday 16:00 GMT is 16:00 UTC.
    @Test func sev3AcrossAutumnDSTInLondon() throws {
        let c = try openCase(severity: .sev3, at: utc(2026, 10, 23, 15))
        #expect(c.state.sla(now: utc(2026, 10, 23, 15)).firstResponse.dueAt == utc(2026, 10, 26, 16))
    }

    /// A holiday on the Monday pushes the deadline to Tuesday 2026-06-16
    /// 16:00 BST (15:00 UTC); a holiday on the creation day itself starts the
    /// clock on the next working day: Monday 09:00 + 8 h = 17:00 BST (16:00 UTC).
    @Test func holidaysAreSkipped() throws {
        let mondayOff = SLAPolicy(targets: SLAPolicy.standard.targets,
                                  calendars: ["EMEA": BusinessCalendar(timeZoneIdentifier: "Europe/London", holidays: ["2026-06-15"])])
        let fridayOff = SLAPolicy(targets: SLAPolicy.standard.targets,
                                  calendars: ["EMEA": BusinessCalendar(timeZoneIdentifier: "Europe/London", holidays: ["2026-06-12"])])
        let c = try openCase(severity: .sev3, at: utc(2026, 6, 12, 15))
        #expect(c.state.sla(now: 0, policy: mondayOff).firstResponse.dueAt == utc(2026, 6, 16, 15))
        #expect(c.state.sla(now: 0, policy: fridayOff).firstResponse.dueAt == utc(2026, 6, 15, 16))
    }

    /// AMER runs on New York time, whose DST starts on 8 March 2026, three
    /// weeks before London's: Friday 2026-03-06 16:00 EST (21:00 UTC) + 1 h,
    /// then Monday 09:00–16:00 EDT → due 2026-03-09 20:00 UTC. The same instant
    /// on an EMEA case is after London's closing time: Monday 09:00–17:00 GMT.
    @Test func amerUsesNewYorkTime() throws {
        let amer = try openCase(severity: .sev3, region: "AMER", at: utc(2026, 3, 6, 21))
        let emea = try openCase(severity: .sev3, region: "EMEA", at: utc(2026, 3, 6, 21))
        #expect(amer.state.sla(now: 0).firstResponse.dueAt == utc(2026, 3, 9, 20))
        #expect(emea.state.sla(now: 0).firstResponse.dueAt == utc(2026, 3, 9, 17))
    }

    /// The owning region decides the calendar: an EMEA-numbered case owned by
    /// AMER, created Monday 2026-01-12 10:00 UTC (05:00 EST), starts at 09:00
    /// EST (14:00 UTC) and is due at 17:00 EST (22:00 UTC).
    @Test func owningRegionChoosesTheCalendar() throws {
        let c = try openCase(severity: .sev3, at: base, fields: [.owningRegion: .text("AMER")])
        #expect(c.state.sla(now: 0).firstResponse.dueAt == utc(2026, 1, 12, 22))
    }

    /// APAC (Singapore, UTC+8): Friday 2026-01-09 23:30 UTC is already
    /// Saturday 07:30 there, so the clock starts Monday 09:00 SGT (01:00 UTC)
    /// and 8 h later is 17:00 SGT = 09:00 UTC.
    @Test func apacUsesSingaporeTime() throws {
        let c = try openCase(severity: .sev3, region: "APAC", at: utc(2026, 1, 9, 23, 30))
        #expect(c.state.sla(now: 0).firstResponse.dueAt == utc(2026, 1, 12, 9))
    }

    /// The same Friday 16:00 creation under each severity: Sev1/Sev2 ignore
    /// office hours, Sev3/Sev4 follow them. Sev4: 16 h = Fri 1 h + Mon 8 h +
    /// Tue 7 h → Tuesday 16:00; resolution 80 h = Fri 1 h + 9 days × 8 h = 73 h
    /// + 7 h on the 11th working day (Friday 2026-01-23) → 16:00.
    @Test(arguments: [
        (Severity.sev1, utc(2026, 1, 9, 17), utc(2026, 1, 10, 16)),
        (.sev2, utc(2026, 1, 9, 20), utc(2026, 1, 12, 16)),
        (.sev3, utc(2026, 1, 12, 16), utc(2026, 1, 16, 16)),
        (.sev4, utc(2026, 1, 13, 16), utc(2026, 1, 23, 16)),
    ])
    func severityTargets(severity: Severity, firstResponseDue: Int64, resolutionDue: Int64) throws {
        let c = try openCase(severity: severity, at: utc(2026, 1, 9, 16))
        let sla = c.state.sla(now: 0)
        #expect(sla.firstResponse.dueAt == firstResponseDue)
        #expect(sla.resolution.dueAt == resolutionDue)
    }

    // MARK: Next update

    /// The communication plan's frequency runs from the last customer-visible
    /// note (or from creation before the first one).
    @Test func nextUpdateAnchoredAtLastCustomerNote() throws {
        var c = try openCase(severity: .sev1, at: base)
        #expect(c.state.sla(now: base).nextUpdate == nil)
        try c.set([.communicationFrequencyMinutes: .number(120)], at: base + minute)
        #expect(c.state.sla(now: base + 2 * minute).nextUpdate?.dueAt == base + 120 * minute)
        #expect(c.state.sla(now: base + 121 * minute).nextUpdate?.state == .breached)

        try c.run(.addNote(id: noteID("n1"), text: "Update 1", visibility: .customer), at: base + 30 * minute)
        try c.run(.addNote(id: noteID("n2"), text: "Update 2", visibility: .customer), at: base + 200 * minute)
        try c.run(.addNote(id: noteID("n3"), text: "Internal", visibility: .internal), at: base + 250 * minute)
        let next = try #require(c.state.sla(now: base + 300 * minute).nextUpdate)
        #expect(next.dueAt == base + 320 * minute)
        #expect(next.state == .pending)
        #expect(next.completedAt == nil)
        #expect(c.state.sla(now: base + 321 * minute).nextUpdate?.state == .breached)
    }

    /// On business hours the next update skips the night: a Sev3 customer
    /// note Monday 2026-01-12 16:30 GMT with hourly updates → Tuesday 09:30.
    @Test func nextUpdateOnBusinessHours() throws {
        var c = try openCase(severity: .sev3, at: base, fields: [.communicationFrequencyMinutes: .number(60)])
        try c.run(.addNote(id: noteID("n1"), text: "Update", visibility: .customer), at: utc(2026, 1, 12, 16, 30))
        #expect(c.state.sla(now: 0).nextUpdate?.dueAt == utc(2026, 1, 13, 9, 30))
    }

    /// A resolved case owes no further updates.
    @Test func noNextUpdateOnceResolved() throws {
        var c = try openCase(severity: .sev1, at: base, fields: [.communicationFrequencyMinutes: .number(60)])
        try c.run(.resolve(resolution: "Fixed", customerAcknowledged: true), at: base + 10 * minute)
        #expect(c.state.sla(now: base + 5 * hour).nextUpdate == nil)
    }

    // MARK: Resolution

    /// Resolution within 24 h on a Sev1 is met, after it is missed; closing
    /// keeps the resolution time.
    @Test(arguments: [(23 * hour, SLAClock.State.met), (24 * hour, .met), (24 * hour + 1, .missed), (30 * hour, .missed)])
    func resolutionMetOrMissed(after: Int64, expected: SLAClock.State) throws {
        var c = try openCase(severity: .sev1, at: base)
        try c.run(.resolve(resolution: "Fixed", customerAcknowledged: true), at: base + after)
        let clock = c.state.sla(now: base + 40 * hour).resolution
        #expect(clock.dueAt == base + 24 * hour)
        #expect(clock.completedAt == base + after)
        #expect(clock.state == expected)

        try c.set([.status: .text("closed")], at: base + 35 * hour)
        #expect(c.state.sla(now: base + 40 * hour).resolution.completedAt == base + after)
    }

    /// An open case past its resolution target is breached; reopening a
    /// resolved case restarts the question.
    @Test func resolutionPendingBreachedAndReopened() throws {
        var c = try openCase(severity: .sev1, at: base)
        #expect(c.state.sla(now: base + 23 * hour).resolution.state == .pending)
        #expect(c.state.sla(now: base + 25 * hour).resolution.state == .breached)
        try c.run(.resolve(resolution: "Fixed", customerAcknowledged: true), at: base + 2 * hour)
        try c.set([.status: .text("investigating")], at: base + 3 * hour)
        #expect(c.state.sla(now: base + 25 * hour).resolution.state == .breached)
        #expect(c.state.sla(now: base + 25 * hour).resolution.completedAt == nil)
    }

    // MARK: Merged state

    /// The SLA is computed from the merged case: emea lowers a Sev3 case to
    /// Sev2 while amer concurrently (and later) makes it Sev1. Before the
    /// merge emea owes a first response in 4 h (14:00); after it, Sev1 has
    /// won and the answer is due at 11:00 — on both replicas.
    @Test func slaFollowsAMergedSeverityChange() throws {
        var emea = try openCase(severity: .sev3, at: base)
        var amer = ReplicaCase(receiving: emea.deltas[0], as: .amer, clock: base)
        // Sev3 from Monday 10:00 GMT: 7 h Monday + 1 h Tuesday → Tuesday 10:00.
        #expect(emea.state.sla(now: base).firstResponse.dueAt == utc(2026, 1, 13, 10))
        let fromEmea = try emea.set([.severity: .text("sev2")], at: base + 10 * minute)
        let fromAmer = try amer.set([.severity: .text("sev1")], at: base + 20 * minute)
        #expect(emea.state.sla(now: base).firstResponse.dueAt == utc(2026, 1, 12, 14))
        emea.state.merge(fromAmer)
        amer.state.merge(fromEmea)
        #expect(emea.state.sla(now: base).firstResponse.dueAt == utc(2026, 1, 12, 11))
        #expect(amer.state.sla(now: base) == emea.state.sla(now: base))
        #expect(emea.state.sla(now: base + 2 * hour).firstResponse.state == .breached)
    }

    // MARK: Solutions team

    /// On the customer-service path the Solutions team must contact the
    /// customer within 2 working days of the escalation, on business hours
    /// even for a Sev1. Escalated Wednesday 2026-01-14 10:00 GMT: Wed 7 h +
    /// Thu 8 h + Fri 1 h → Friday 2026-01-16 10:00 UTC.
    @Test func solutionsContactClock() throws {
        var c = try openCase(severity: .sev1, at: base, level: .csr, fields: escalationRequest)
        #expect(c.state.sla(now: base).solutionsContact == nil)
        try c.run(.escalate(level: .customerServiceManager, reason: "Unhappy customer", approvedBy: nil), at: base + hour)
        #expect(c.state.sla(now: base).solutionsContact == nil)
        // A customer note before the hand-over is not the Solutions team's contact.
        try c.run(.addNote(id: noteID("n1"), text: "We hear you", visibility: .customer), at: utc(2026, 1, 13, 10))
        try c.run(.escalate(level: .solutionsTeam, reason: "Needs a solution design", approvedBy: nil), at: utc(2026, 1, 14, 10))

        let due = utc(2026, 1, 16, 10)
        let pending = try #require(c.state.sla(now: utc(2026, 1, 16, 9)).solutionsContact)
        #expect(pending.dueAt == due)
        #expect(pending.state == .pending)
        #expect(c.state.sla(now: due + 1).solutionsContact?.state == .breached)

        try c.run(.addNote(id: noteID("n2"), text: "Solutions team here", visibility: .customer), at: utc(2026, 1, 15, 11))
        let met = try #require(c.state.sla(now: due + 1).solutionsContact)
        #expect(met.completedAt == utc(2026, 1, 15, 11))
        #expect(met.state == .met)
    }

    /// The technical path has no Solutions team clock.
    @Test func noSolutionsClockOnTheTechnicalPath() throws {
        var c = try openCase(severity: .sev3, at: base, fields: escalationRequest)
        try c.run(.escalate(level: .leadership, reason: "Exec attention", approvedBy: nil))
        #expect(c.state.sla(now: base).solutionsContact == nil)
    }
}
