import Testing
import CaseMeshCRDT
@testable import CaseMeshDomain

/// De-escalation needs an escalated case and the full checklist: action
/// plan accepted, root-cause analysis on track (or complete), agreement documented.
@Suite struct DeescalationTests {
    func escalatedCase(with checklist: [CaseField: FieldValue]) throws -> ReplicaCase {
        var c = try caseIn(.escalated)
        if !checklist.isEmpty { try c.set(checklist) }
        return c
    }

    /// With the checklist complete, de-escalation sets the status and records who, from, to and why; the level stays.
    @Test func fullChecklistDeescalates() throws {
        var c = try escalatedCase(with: deescalationChecklist)
        let delta = try c.run(.deescalate(reason: "Fix holds for a week"), actor: "Rita REM")
        #expect(c.state.status == .deescalated)
        #expect(c.state.escalationLevel == .l2)
        let event = try #require(delta.events.first?.event)
        #expect(delta.events.count == 1)
        #expect(event.kind == .deescalated)
        #expect(event.actor == "Rita REM")
        #expect(event.field == "status")
        #expect(event.from == "escalated")
        #expect(event.to == "deescalated")
        #expect(event.reason == "Fix holds for a week")
        #expect(Set(delta.causal.store.fields.keys) == [.status])
    }

    /// Without a reason the documented agreement explains the de-escalation.
    @Test func agreementIsTheDefaultReason() throws {
        var c = try escalatedCase(with: deescalationChecklist)
        let delta = try c.run(.deescalate(reason: "  "))
        #expect(delta.events.first?.event.reason == "Customer agreed on the 14 Jan call to de-escalate")
    }

    /// Either "on track" or "complete" satisfies the RCA item.
    @Test(arguments: ["onTrack", "complete"])
    func rcaOnTrackOrComplete(rca: String) throws {
        var checklist = deescalationChecklist
        checklist[.rcaStatus] = .text(rca)
        var c = try escalatedCase(with: checklist)
        try c.run(.deescalate(reason: "Done"))
        #expect(c.state.status == .deescalated)
    }

    /// The action plan must have been accepted: not recorded and "no" both refuse.
    @Test(arguments: [nil, false] as [Bool?])
    func actionPlanNotAcceptedIsRefused(accepted: Bool?) throws {
        var checklist = deescalationChecklist
        checklist[.actionPlanAccepted] = accepted.map { FieldValue.flag($0) }
        let c = try escalatedCase(with: checklist)
        c.expectRefusal(.deescalate(reason: "Done"), code: .ruleViolated, rule: "deescalation_checklist_incomplete",
                        field: "actionPlanAccepted", mentions: ["checklist is incomplete", "action plan has not been accepted"])
    }

    /// An RCA that is missing, not started, in progress or at risk is not "on track".
    @Test(arguments: [nil, "notStarted", "inProgress", "atRisk"] as [String?])
    func rcaNotOnTrackIsRefused(rca: String?) throws {
        var checklist = deescalationChecklist
        checklist[.rcaStatus] = rca.map { FieldValue.text($0) }
        let c = try escalatedCase(with: checklist)
        c.expectRefusal(.deescalate(reason: "Done"), code: .ruleViolated, rule: "deescalation_checklist_incomplete",
                        field: "rcaStatus", mentions: ["root-cause analysis is not on track", rca ?? "not recorded"])
    }

    /// The agreement to de-escalate must be documented on the case.
    @Test func agreementMissingIsRefused() throws {
        var checklist = deescalationChecklist
        checklist[.deescalationAgreement] = nil
        let c = try escalatedCase(with: checklist)
        c.expectRefusal(.deescalate(reason: "Done"), code: .ruleViolated, rule: "deescalation_checklist_incomplete",
                        field: "deescalationAgreement", mentions: ["agreement to de-escalate is not documented"])
    }

    /// Everything missing: all three items are named, no single field blamed.
    @Test func everythingMissingIsListed() throws {
        let c = try escalatedCase(with: [:])
        c.expectRefusal(.deescalate(reason: "Done"), code: .ruleViolated, rule: "deescalation_checklist_incomplete",
                        field: nil, mentions: ["action plan", "root-cause analysis", "agreement to de-escalate"])
    }

    /// Only an escalated case can be de-escalated, whatever the checklist says.
    @Test(arguments: [CaseStatus.new, .investigating, .deescalated, .resolved, .closed])
    func onlyEscalatedCasesDeescalate(status: CaseStatus) throws {
        var c = try caseIn(status)
        if status != .closed { try c.set(deescalationChecklist) }
        c.expectRefusal(.deescalate(reason: "Done"), code: .ruleViolated, rule: "deescalation_needs_escalated_case",
                        field: "status", mentions: ["only an escalated case", status.rawValue])
    }
}
