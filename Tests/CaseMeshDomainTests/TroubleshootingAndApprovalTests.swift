import Testing
import CaseMeshCRDT
@testable import CaseMeshDomain

/// Evidence recorded before a vendor escalation: L1/L2 troubleshooting steps
/// and approvals.
@Suite struct TroubleshootingAndApprovalTests {
    /// A step records level, action, outcome, evidence and who recorded it, and appears in the timeline.
    @Test(arguments: [EscalationLevel.l1, .l2])
    func stepsAreRecordedAtL1AndL2(level: EscalationLevel) throws {
        var c = try ReplicaCase()
        let delta = try c.run(.recordTroubleshooting(id: stepID("s1"), level: level, action: " Flushed DNS cache ",
                                                     outcome: " No change ", evidence: "trace.pcap"), actor: "Lee L1")
        let step = try #require(c.state.troubleshootingSteps.first)
        #expect(step.level == level)
        #expect(step.action == "Flushed DNS cache")
        #expect(step.outcome == "No change")
        #expect(step.hasOutcome)
        #expect(step.evidence == "trace.pcap")
        #expect(step.recordedBy == "Lee L1")
        let event = try #require(delta.events.first?.event)
        #expect(event.kind == .troubleshootingRecorded)
        #expect(event.field == level.rawValue)
        #expect(event.to == "No change")
        #expect(event.reason == "Flushed DNS cache")
        #expect(event.ref == "s1")
    }

    /// A step still running has no outcome; white space is no outcome either.
    @Test(arguments: ["", "   "])
    func stepWithoutOutcome(outcome: String) throws {
        var c = try ReplicaCase()
        let delta = try c.run(.recordTroubleshooting(id: stepID("s1"), level: .l1, action: "Collecting logs", outcome: outcome, evidence: ""))
        #expect(c.state.troubleshootingSteps.first?.hasOutcome == false)
        #expect(delta.events.first?.event.to == nil)
    }

    /// Troubleshooting evidence is by definition L1/L2 work.
    @Test(arguments: [EscalationLevel.sme, .l3Vendor, .teamLeader, .teamManager, .leadership, .csr, .customerServiceManager, .solutionsTeam])
    func stepsAboveL2AreRefused(level: EscalationLevel) throws {
        let c = try ReplicaCase()
        c.expectRefusal(.recordTroubleshooting(id: stepID("s1"), level: level, action: "Looked at it", outcome: "Done", evidence: ""),
                        code: .validationFailed, field: "level", mentions: ["troubleshooting", "L1 or L2", level.label])
    }

    /// A step must say what was tried.
    @Test(arguments: ["", "  \n"])
    func emptyActionIsRefused(action: String) throws {
        let c = try ReplicaCase()
        c.expectRefusal(.recordTroubleshooting(id: stepID("s1"), level: .l1, action: action, outcome: "x", evidence: ""),
                        code: .validationFailed, field: "action", mentions: ["action", "empty"])
    }

    /// Outcomes are capped at 2,000 characters.
    @Test func overlongOutcomeIsRefused() throws {
        let c = try ReplicaCase()
        c.expectRefusal(.recordTroubleshooting(id: stepID("s1"), level: .l1, action: "Tried", outcome: String(repeating: "o", count: 2_001), evidence: ""),
                        code: .validationFailed, field: "outcome", mentions: ["outcome", "at most 2000"])
    }

    /// An approval keeps approver, role, kind and notes, and the timeline shows it.
    @Test func approvalIsRecordedWithEvent() throws {
        var c = try ReplicaCase()
        let delta = try c.run(.approve(id: approvalID("ap-1"), kind: .vendorEscalation, approver: " Tina Lead ",
                                       approverRole: .teamLeader, notes: " Go ahead "), actor: "Ann Agent")
        let approval = try #require(c.state.approvals.first)
        #expect(approval.approver == "Tina Lead")
        #expect(approval.notes == "Go ahead")
        #expect(approval.kind == .vendorEscalation)
        #expect(approval.approverRole == .teamLeader)
        #expect(approval.recordedBy == "Ann Agent")
        let event = try #require(delta.events.first?.event)
        #expect(event.kind == .approvalRecorded)
        #expect(event.field == "vendorEscalation")
        #expect(event.to == "Tina Lead (Team Leader)")
        #expect(event.reason == "Go ahead")
        #expect(event.ref == "ap-1")
    }

    /// An approval id is used once; a retry must not replace the recorded approval.
    @Test func duplicateApprovalIdIsRefused() throws {
        var c = try ReplicaCase()
        try c.run(.approve(id: approvalID("ap-1"), kind: .other, approver: "Tina Lead", approverRole: .teamLeader, notes: "Budget ok"))
        c.expectRefusal(.approve(id: approvalID("ap-1"), kind: .vendorEscalation, approver: "Tina Lead", approverRole: .teamLeader, notes: "Go"),
                        code: .ruleViolated, rule: "approval_exists", field: "id", mentions: ["approval", "ap-1", "already exists"])
    }

    /// An approval is recorded with notes and a named approver.
    @Test func emptyNotesOrApproverIsRefused() throws {
        let c = try ReplicaCase()
        c.expectRefusal(.approve(id: approvalID("ap-1"), kind: .vendorEscalation, approver: "Tina Lead", approverRole: .teamLeader, notes: "  "),
                        code: .validationFailed, field: "notes", mentions: ["notes", "empty"])
        c.expectRefusal(.approve(id: approvalID("ap-1"), kind: .vendorEscalation, approver: "", approverRole: .teamLeader, notes: "Go"),
                        code: .validationFailed, field: "approver", mentions: ["approver", "empty"])
    }
}
