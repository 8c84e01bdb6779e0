/// The escalation process's gates, checked at the node that takes the write.
/// Each refusal names the rule and says in plain words what is missing.
public enum EscalationRules {
    /// Rule names, stable for clients and tests.
    public enum Rule {
        public static let caseClosed = "case_not_open"
        public static let statusTransition = "status_transition"
        public static let levelViaEscalate = "level_changes_by_escalation"
        public static let escalationRequest = "escalation_request_incomplete"
        public static let escalationDirection = "escalation_direction"
        public static let vendorTroubleshooting = "vendor_needs_troubleshooting"
        public static let vendorApproval = "vendor_needs_team_leader_approval"
        public static let deescalationNotEscalated = "deescalation_needs_escalated_case"
        public static let deescalationChecklist = "deescalation_checklist_incomplete"
        public static let resolutionText = "resolution_needs_text"
        public static let resolutionAcknowledgement = "resolution_needs_customer_acknowledgement"
    }

    /// A field update (PATCH) may not jump a gate.
    static func checkDirectUpdate(of field: CaseField, to value: FieldValue, in state: CaseState) throws(DomainError) {
        switch field {
        case .status:
            let target = CaseStatus(rawValue: value.text ?? "") ?? .new
            let current = state.status
            if target == current { return }
            if let command = CaseStatus.gatedCommand(for: target) {
                throw .rule(Rule.statusTransition, "status \(target.rawValue) is reached with the \(command) command, which checks its gate; it cannot be set directly", field: field.rawValue)
            }
            guard current.allowsDirectTransition(to: target) else {
                throw .rule(Rule.statusTransition, "status cannot change from \(current.rawValue) to \(target.rawValue)", field: field.rawValue)
            }
        case .escalationLevel:
            throw .rule(Rule.levelViaEscalate, "the escalation level changes only through the escalate command", field: field.rawValue)
        case .customerAcknowledged, .resolution:
            guard state.status != .closed else {
                throw .rule(Rule.caseClosed, "the case is closed; \(field.rawValue) can no longer change", field: field.rawValue)
            }
        default:
            guard state.status != .closed else {
                throw .rule(Rule.caseClosed, "the case is closed; \(field.rawValue) can no longer change (a closed case cannot be reopened)", field: field.rawValue)
            }
        }
    }

    /// Escalation gates. Returns the approval that authorises a vendor escalation.
    static func checkEscalation(to level: EscalationLevel, approvedBy: String?, in state: CaseState) throws(DomainError) -> Approval? {
        guard state.status.isOpen else {
            throw .rule(Rule.caseClosed, "the case is \(state.status.rawValue); reopen it before escalating", field: "status")
        }
        // The escalation request must be complete.
        var missing: [(field: String, words: String)] = []
        if state.text(.problemStatement) == nil { missing.append(("problemStatement", "problem statement")) }
        if state.text(.businessImpact) == nil { missing.append(("businessImpact", "business impact")) }
        if state.workaround == nil { missing.append(("workaround", "whether a workaround exists")) }
        if state.criticalMilestone == nil { missing.append(("criticalMilestone", "critical milestone date")) }
        if !missing.isEmpty {
            let list = missing.map { "\($0.words) (\($0.field))" }.joined(separator: ", ")
            throw .rule(Rule.escalationRequest, "the escalation request is incomplete: record the \(list) first",
                        field: missing.count == 1 ? missing[0].field : nil)
        }
        let current = state.escalationLevel
        guard level.path == current.path else {
            throw .rule(Rule.escalationDirection, "\(level.label) is on the \(level.path.rawValue) path but the case is on the \(current.path.rawValue) path (at \(current.label))", field: "level")
        }
        if level == .l3Vendor {
            guard current != .l3Vendor else {
                throw .rule(Rule.escalationDirection, "the case is already with the vendor (L3)", field: "level")
            }
            guard current.rank >= EscalationLevel.l2.rank else {
                throw .rule(Rule.escalationDirection, "vendor escalation (L3) starts from L2 or above; the case is at \(current.label)", field: "level")
            }
            let steps = state.troubleshootingSteps.filter { ($0.level == .l1 || $0.level == .l2) && $0.hasOutcome }
            guard !steps.isEmpty else {
                throw .rule(Rule.vendorTroubleshooting, "escalating to L3 (vendor) needs at least one L1/L2 troubleshooting step with a recorded outcome; none is recorded")
            }
            let approvals = state.approvals.filter { $0.kind == .vendorEscalation && $0.approverRole == .teamLeader }
            let matching = approvedBy.map { name in approvals.filter { $0.approver.caseInsensitiveCompare(name.normalizedText) } } ?? approvals
            guard let approval = matching.last else {
                if let approvedBy {
                    throw .rule(Rule.vendorApproval, "escalating to L3 (vendor) needs a Team Leader's approval; none is recorded from \(approvedBy)", field: "approvedBy")
                }
                throw .rule(Rule.vendorApproval, "escalating to L3 (vendor) needs a Team Leader's approval (kind vendorEscalation); none is recorded")
            }
            return approval
        }
        guard level.rank > current.rank else {
            throw .rule(Rule.escalationDirection, "escalation must move up: \(level.label) is not above the current level \(current.label)", field: "level")
        }
        return nil
    }

    /// De-escalation checklist: action plan accepted, RCA on track, agreement documented.
    static func checkDeescalation(in state: CaseState) throws(DomainError) {
        guard state.status == .escalated else {
            throw .rule(Rule.deescalationNotEscalated, "only an escalated case can be de-escalated; this one is \(state.status.rawValue)", field: "status")
        }
        var missing: [(String, String)] = []
        if !state.flag(.actionPlanAccepted) { missing.append(("actionPlanAccepted", "the action plan has not been accepted")) }
        if !(state.rcaStatus?.isOnTrack ?? false) {
            missing.append(("rcaStatus", "the root-cause analysis is not on track (it is \(state.rcaStatus?.rawValue ?? "not recorded"))"))
        }
        if state.text(.deescalationAgreement) == nil { missing.append(("deescalationAgreement", "the agreement to de-escalate is not documented")) }
        if !missing.isEmpty {
            throw .rule(Rule.deescalationChecklist, "the de-escalation checklist is incomplete: " + missing.map(\.1).joined(separator: "; "),
                        field: missing.count == 1 ? missing[0].0 : nil)
        }
    }

    /// Resolution counts only with a resolution text and the customer's acknowledgement.
    static func checkResolution(resolution: String?, customerAcknowledged: Bool?, in state: CaseState) throws(DomainError) -> (String, Bool) {
        guard state.status.isOpen else {
            throw .rule(Rule.caseClosed, "the case is already \(state.status.rawValue)", field: "status")
        }
        guard let text = resolution ?? state.text(.resolution) else {
            throw .rule(Rule.resolutionText, "resolving needs a resolution text", field: "resolution")
        }
        let acknowledged = customerAcknowledged ?? state.flag(.customerAcknowledged)
        guard acknowledged else {
            throw .rule(Rule.resolutionAcknowledgement, "resolving needs the customer's acknowledgement of the resolution", field: "customerAcknowledged")
        }
        return (text, acknowledged)
    }
}

private extension String {
    func caseInsensitiveCompare(_ other: String) -> Bool { lowercased() == other.lowercased() }
}
