/// Who is working the case. Two paths: the technical path
/// (L1 → L2 → SME → Team Leader → Team Manager → Leadership, with the vendor,
/// L3, as a side branch from L2 upwards) and the customer-service path
/// (CSR → Customer Service Manager → Solutions team).
public enum EscalationLevel: String, DomainEnum {
    case l1, l2, sme, l3Vendor, teamLeader, teamManager, leadership
    case csr, customerServiceManager, solutionsTeam

    public enum Path: String, Sendable { case technical, customerService = "customer service" }

    public var path: Path {
        switch self {
        case .csr, .customerServiceManager, .solutionsTeam: return .customerService
        default: return .technical
        }
    }

    /// Position on its path; a normal escalation must move strictly up.
    public var rank: Int {
        switch self {
        case .l1, .csr: return 1
        case .l2, .customerServiceManager: return 2
        case .sme, .l3Vendor, .solutionsTeam: return 3
        case .teamLeader: return 4
        case .teamManager: return 5
        case .leadership: return 6
        }
    }

    public var label: String {
        switch self {
        case .l1: return "L1"
        case .l2: return "L2"
        case .sme: return "Subject Matter Expert"
        case .l3Vendor: return "L3 (vendor)"
        case .teamLeader: return "Team Leader"
        case .teamManager: return "Team Manager"
        case .leadership: return "Leadership"
        case .csr: return "Customer Service Representative"
        case .customerServiceManager: return "Customer Service Manager"
        case .solutionsTeam: return "Solutions team"
        }
    }

    /// Levels a case may be created at.
    public static let entryLevels: Set<EscalationLevel> = [.l1, .l2, .csr]
}

/// The case's lifecycle. Transitions marked "command" are only reachable
/// through the command that checks their gate; the others may be set directly.
///
/// | from | to | how |
/// | --- | --- | --- |
/// | new | investigating | set status |
/// | new, investigating, escalated, deescalated | escalated | escalate command (gates) |
/// | escalated | deescalated | de-escalate command (checklist) |
/// | new, investigating, escalated, deescalated | resolved | resolve command (resolution + acknowledgement) |
/// | deescalated | investigating | set status |
/// | resolved | closed | set status |
/// | resolved | investigating | set status (reopen: the customer withdrew the acknowledgement) |
/// | closed | — | terminal |
public enum CaseStatus: String, DomainEnum {
    case new, investigating, escalated, deescalated, resolved, closed

    public var isOpen: Bool { self != .resolved && self != .closed }

    /// Transitions allowed by a plain field update (no gate to check).
    public func allowsDirectTransition(to target: CaseStatus) -> Bool {
        switch (self, target) {
        case (.new, .investigating), (.deescalated, .investigating), (.resolved, .closed), (.resolved, .investigating):
            return true
        default:
            return false
        }
    }

    /// The command that reaches `target`, if it is gated.
    public static func gatedCommand(for target: CaseStatus) -> String? {
        switch target {
        case .escalated: return "escalate"
        case .deescalated: return "deescalate"
        case .resolved: return "resolve"
        default: return nil
        }
    }
}
