import Testing
import CaseMeshCRDT
@testable import CaseMeshDomain

/// The escalation gates: a complete request, moving up one path, and for
/// the vendor (L3) troubleshooting evidence plus a Team Leader's approval.
@Suite struct EscalationTests {
    static let requestFields: [(CaseField, String)] = [
        (.problemStatement, "problem statement"), (.businessImpact, "business impact"),
        (.workaround, "whether a workaround exists"), (.criticalMilestone, "critical milestone date"),
    ]

    /// Each missing answer of the escalation request refuses the escalation
    /// on its own, and the refusal names that answer.
    @Test(arguments: requestFields)
    func eachMissingRequestItemIsRefused(missing: CaseField, words: String) throws {
        var fields = escalationRequest
        fields[missing] = nil
        let c = try ReplicaCase(newCase(fields: fields))
        c.expectRefusal(.escalate(level: .l2, reason: "Needs L2", approvedBy: nil), code: .ruleViolated,
                        rule: "escalation_request_incomplete", field: missing.rawValue,
                        mentions: ["escalation request is incomplete", words, missing.rawValue])
    }

    /// With several answers missing the refusal lists them all and blames no single field.
    @Test func allRequestItemsMissingAreListed() throws {
        let c = try ReplicaCase()
        let error = c.expectRefusal(.escalate(level: .l2, reason: "Needs L2", approvedBy: nil), code: .ruleViolated,
                                    rule: "escalation_request_incomplete", field: nil,
                                    mentions: Self.requestFields.map(\.1) + Self.requestFields.map(\.0.rawValue))
        #expect(error != nil)
    }

    /// Any workaround answer completes the request, including "none".
    @Test(arguments: ["none", "available", "impractical"])
    func anyWorkaroundAnswerCounts(workaround: String) throws {
        var fields = escalationRequest
        fields[.workaround] = .text(workaround)
        var c = try ReplicaCase(newCase(fields: fields))
        try c.run(.escalate(level: .l2, reason: "Needs L2", approvedBy: nil))
        #expect(c.state.escalationLevel == .l2)
    }

    /// A successful escalation sets the level, the status and records who,
    /// from where, to where and why.
    @Test func escalationSetsLevelStatusAndEvent() throws {
        var c = try caseReadyToEscalate()
        let delta = try c.run(.escalate(level: .sme, reason: "  Needs a database expert ", approvedBy: nil), actor: "Rita REM")
        #expect(c.state.escalationLevel == .sme)
        #expect(c.state.status == .escalated)
        let event = try #require(c.state.events(of: .escalated).first)
        #expect(event.actor == "Rita REM")
        #expect(event.field == "escalationLevel")
        #expect(event.from == "l1")
        #expect(event.to == "sme")
        #expect(event.reason == "Needs a database expert")
        #expect(event.ref == nil)
        #expect(delta.events.map(\.event) == [event])
        #expect(Set(delta.causal.store.fields.keys) == [.escalationLevel, .status])
    }

    /// Escalating an already escalated case moves the level; the status stays.
    @Test func escalatingAgainMovesTheLevelOnly() throws {
        var c = try caseReadyToEscalate()
        try c.run(.escalate(level: .l2, reason: "Needs L2", approvedBy: nil))
        let delta = try c.run(.escalate(level: .teamLeader, reason: "Customer exec involved", approvedBy: nil))
        #expect(c.state.escalationLevel == .teamLeader)
        #expect(c.state.status == .escalated)
        #expect(Set(delta.causal.store.fields.keys) == [.escalationLevel])
    }

    /// The timeline must say why a case was escalated.
    @Test func reasonIsRequired() throws {
        let c = try caseReadyToEscalate()
        c.expectRefusal(.escalate(level: .l2, reason: " ", approvedBy: nil), code: .validationFailed, field: "reason",
                        mentions: ["reason", "empty"])
    }

    /// Escalation moves strictly up the path.
    @Test(arguments: [(EscalationLevel.l2, EscalationLevel.l2), (.l2, .l1), (.sme, .l2), (.leadership, .teamManager),
                      (.l3Vendor, .sme), (.customerServiceManager, .csr), (.solutionsTeam, .customerServiceManager)])
    func escalationMustMoveUp(current: EscalationLevel, target: EscalationLevel) throws {
        var c = try caseReadyToEscalate(level: current.path == .technical ? .l1 : .csr)
        if current == .l3Vendor {
            c = try caseReadyForVendor()
            try c.run(.escalate(level: .l3Vendor, reason: "Vendor fix needed", approvedBy: nil))
        } else if current != c.state.escalationLevel {
            try c.run(.escalate(level: current, reason: "Set up", approvedBy: nil))
        }
        c.expectRefusal(.escalate(level: target, reason: "Again", approvedBy: nil), code: .ruleViolated,
                        rule: "escalation_direction", field: "level",
                        mentions: ["must move up", target.label, current.label])
    }

    /// Every level strictly above the current one on the same path is allowed (jumps included).
    @Test(arguments: [(EscalationLevel.l1, EscalationLevel.l2), (.l1, .sme), (.l1, .leadership), (.l2, .teamLeader),
                      (.csr, .customerServiceManager), (.csr, .solutionsTeam), (.customerServiceManager, .solutionsTeam)])
    func upwardEscalationsAreAllowed(current: EscalationLevel, target: EscalationLevel) throws {
        var c = try caseReadyToEscalate(level: current.path == .technical ? .l1 : .csr)
        if current != c.state.escalationLevel { try c.run(.escalate(level: current, reason: "Set up", approvedBy: nil)) }
        try c.run(.escalate(level: target, reason: "Up", approvedBy: nil))
        #expect(c.state.escalationLevel == target)
    }

    /// A case does not jump between the technical and customer-service paths.
    @Test(arguments: [(EscalationLevel.l1, EscalationLevel.customerServiceManager), (.l2, .solutionsTeam),
                      (.csr, .l2), (.csr, .sme), (.csr, .l3Vendor), (.csr, .leadership)])
    func pathMismatchIsRefused(current: EscalationLevel, target: EscalationLevel) throws {
        let c = try caseReadyToEscalate(level: current)
        c.expectRefusal(.escalate(level: target, reason: "Other path", approvedBy: nil), code: .ruleViolated,
                        rule: "escalation_direction", field: "level",
                        mentions: [target.label, "\(target.path.rawValue) path", "\(current.path.rawValue) path"])
    }

    // MARK: Vendor (L3)

    /// With evidence and approval in place the vendor escalation goes through, and the event points at the approval that authorised it.
    @Test func vendorEscalationWithAllGatesMet() throws {
        var c = try caseReadyForVendor()
        let delta = try c.run(.escalate(level: .l3Vendor, reason: "Bug in the vendor's SDK", approvedBy: nil))
        #expect(c.state.escalationLevel == .l3Vendor)
        #expect(c.state.status == .escalated)
        let event = try #require(delta.events.first?.event)
        #expect(event.kind == .escalated)
        #expect(event.from == "l2")
        #expect(event.to == "l3Vendor")
        #expect(event.reason == "Bug in the vendor's SDK")
        #expect(event.ref == "approval-1")
    }

    /// Vendor escalation is a side branch from L2 upwards, so L1 cannot take it.
    @Test func vendorFromL1IsRefused() throws {
        var c = try caseReadyToEscalate(level: .l1)
        try c.run(.recordTroubleshooting(id: stepID("s1"), level: .l1, action: "Restarted", outcome: "No change", evidence: ""))
        try c.run(.approve(id: approvalID("ap-1"), kind: .vendorEscalation, approver: "Tina Lead", approverRole: .teamLeader, notes: "Go"))
        c.expectRefusal(.escalate(level: .l3Vendor, reason: "Vendor", approvedBy: nil), code: .ruleViolated,
                        rule: "escalation_direction", field: "level", mentions: ["L2 or above", "L1"])
    }

    /// Levels above L2 may also go to the vendor.
    @Test(arguments: [EscalationLevel.sme, .teamLeader, .leadership])
    func vendorFromAboveL2(current: EscalationLevel) throws {
        var c = try caseReadyForVendor()
        try c.run(.escalate(level: current, reason: "Up", approvedBy: nil))
        try c.run(.escalate(level: .l3Vendor, reason: "Vendor", approvedBy: nil))
        #expect(c.state.escalationLevel == .l3Vendor)
    }

    /// A case already with the vendor cannot be sent to the vendor again.
    @Test func alreadyWithTheVendorIsRefused() throws {
        var c = try caseReadyForVendor()
        try c.run(.escalate(level: .l3Vendor, reason: "Vendor", approvedBy: nil))
        c.expectRefusal(.escalate(level: .l3Vendor, reason: "Vendor again", approvedBy: nil), code: .ruleViolated,
                        rule: "escalation_direction", field: "level", mentions: ["already with the vendor"])
    }

    /// Without an L1/L2 step that has an outcome, the vendor cannot be engaged;
    /// a step still running (no outcome) does not count.
    @Test(arguments: [nil, "", "   "] as [String?])
    func vendorNeedsTroubleshootingWithOutcome(outcome: String?) throws {
        var c = try caseReadyToEscalate(level: .l2)
        if let outcome {
            try c.run(.recordTroubleshooting(id: stepID("s1"), level: .l2, action: "Collecting traces", outcome: outcome, evidence: ""))
        }
        try c.run(.approve(id: approvalID("ap-1"), kind: .vendorEscalation, approver: "Tina Lead", approverRole: .teamLeader, notes: "Go"))
        c.expectRefusal(.escalate(level: .l3Vendor, reason: "Vendor", approvedBy: nil), code: .ruleViolated,
                        rule: "vendor_needs_troubleshooting", field: nil,
                        mentions: ["L1/L2 troubleshooting step", "recorded outcome"])
    }

    /// Recording the outcome later (same step id) lifts the gate.
    @Test func finishingTheStepLiftsTheGate() throws {
        var c = try caseReadyToEscalate(level: .l2)
        try c.run(.recordTroubleshooting(id: stepID("s1"), level: .l2, action: "Collecting traces", outcome: "", evidence: ""))
        try c.run(.approve(id: approvalID("ap-1"), kind: .vendorEscalation, approver: "Tina Lead", approverRole: .teamLeader, notes: "Go"))
        try c.run(.recordTroubleshooting(id: stepID("s1"), level: .l2, action: "Collecting traces", outcome: "SDK bug confirmed", evidence: "t.pcap"))
        try c.run(.escalate(level: .l3Vendor, reason: "Vendor", approvedBy: nil))
        #expect(c.state.escalationLevel == .l3Vendor)
    }

    /// Only a Team Leader's approval of kind vendorEscalation authorises the vendor.
    @Test(arguments: [
        [] as [(ApprovalKind, ApproverRole)],
        [(.vendorEscalation, .teamManager)],
        [(.vendorEscalation, .leadership), (.vendorEscalation, .regionalManager)],
        [(.deescalation, .teamLeader)],
        [(.other, .teamLeader), (.deescalation, .teamLeader)],
    ])
    func vendorNeedsTeamLeaderApproval(approvals: [(ApprovalKind, ApproverRole)]) throws {
        var c = try caseReadyToEscalate(level: .l2)
        try c.run(.recordTroubleshooting(id: stepID("s1"), level: .l1, action: "Restarted", outcome: "No change", evidence: ""))
        for (index, (kind, role)) in approvals.enumerated() {
            try c.run(.approve(id: approvalID("ap-\(index)"), kind: kind, approver: "Tina Lead", approverRole: role, notes: "ok"))
        }
        c.expectRefusal(.escalate(level: .l3Vendor, reason: "Vendor", approvedBy: nil), code: .ruleViolated,
                        rule: "vendor_needs_team_leader_approval", field: nil,
                        mentions: ["Team Leader's approval", "vendorEscalation"])
    }

    /// Naming an approver who has not approved is refused, naming that person.
    @Test func approvedBySomeoneElseIsRefused() throws {
        let c = try caseReadyForVendor()
        c.expectRefusal(.escalate(level: .l3Vendor, reason: "Vendor", approvedBy: "Tom Other"), code: .ruleViolated,
                        rule: "vendor_needs_team_leader_approval", field: "approvedBy",
                        mentions: ["Team Leader's approval", "Tom Other"])
    }

    /// The approver's name matches ignoring case and surrounding spaces.
    @Test(arguments: ["Tina Lead", "tina lead", " TINA LEAD "])
    func approvedByMatchesCaseInsensitively(name: String) throws {
        var c = try caseReadyForVendor()
        let delta = try c.run(.escalate(level: .l3Vendor, reason: "Vendor", approvedBy: name))
        #expect(c.state.escalationLevel == .l3Vendor)
        #expect(delta.events.first?.event.ref == "approval-1")
    }

    /// With several Team Leader approvals, `approvedBy` picks the named one.
    @Test func approvedByPicksTheNamedApproval() throws {
        var c = try caseReadyForVendor()
        try c.run(.approve(id: approvalID("approval-2"), kind: .vendorEscalation, approver: "Omar Lead",
                           approverRole: .teamLeader, notes: "Also fine"))
        let delta = try c.run(.escalate(level: .l3Vendor, reason: "Vendor", approvedBy: "tina lead"))
        #expect(delta.events.first?.event.ref == "approval-1")
    }

    /// A closed or resolved case is not escalated; it must be reopened first.
    @Test(arguments: [CaseStatus.resolved, .closed])
    func notOpenCaseIsRefused(status: CaseStatus) throws {
        let c = try caseIn(status)
        c.expectRefusal(.escalate(level: .l2, reason: "Again", approvedBy: nil), code: .ruleViolated,
                        rule: "case_not_open", field: "status", mentions: ["case is \(status.rawValue)", "reopen"])
    }

    /// A de-escalated case can be escalated again.
    @Test func deescalatedCaseCanBeEscalatedAgain() throws {
        var c = try caseIn(.deescalated)
        try c.run(.escalate(level: .sme, reason: "Problem is back", approvedBy: nil))
        #expect(c.state.status == .escalated)
        #expect(c.state.escalationLevel == .sme)
    }

    /// The rule names are part of the client contract.
    @Test func ruleNames() {
        typealias Rule = EscalationRules.Rule
        #expect(Rule.escalationRequest == "escalation_request_incomplete")
        #expect(Rule.escalationDirection == "escalation_direction")
        #expect(Rule.vendorTroubleshooting == "vendor_needs_troubleshooting")
        #expect(Rule.vendorApproval == "vendor_needs_team_leader_approval")
        #expect(Rule.caseClosed == "case_not_open")
        #expect(Rule.statusTransition == "status_transition")
    }
}
