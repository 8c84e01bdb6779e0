import Testing
import CaseMeshCRDT
@testable import CaseMeshDomain

/// The status state machine documented on `CaseStatus`, checked over every
/// (from, to) pair. Each "from" status is reached through the real commands
/// (create, escalate, deescalate, resolve, set status), not by writing the
/// register directly.
@Suite struct StatusTransitionTests {
    /// The transitions a plain field update may make (the table's "set status" rows).
    static let direct: Set<[CaseStatus]> = [
        [.new, .investigating], [.deescalated, .investigating], [.resolved, .closed], [.resolved, .investigating],
    ]

    /// Statuses only their gated command may reach, with that command's name.
    static let gated: [CaseStatus: String] = [.escalated: "escalate", .deescalated: "deescalate", .resolved: "resolve"]

    static let allPairs: [(CaseStatus, CaseStatus)] = CaseStatus.allCases.flatMap { from in CaseStatus.allCases.map { (from, $0) } }

    /// Every (from, to) pair: same status is a no-op, the four direct transitions work with a fieldChanged
    /// event, gated targets name their command, everything else is refused.
    @Test(arguments: allPairs)
    func directStatusUpdate(from: CaseStatus, to: CaseStatus) throws {
        var c = try caseIn(from)
        let command = CaseCommand.setFields([.status: .text(to.rawValue)])
        if from == to {
            // Setting the current status is "unchanged": nothing is written.
            let before = c.state
            let delta = try c.run(command)
            #expect(c.state == before)
            #expect(delta.timeline.count == 0)
        } else if Self.direct.contains([from, to]) {
            let delta = try c.run(command)
            #expect(c.state.status == to)
            let event = try #require(delta.events.first?.event)
            #expect(delta.events.count == 1)
            #expect(event.kind == .fieldChanged)
            #expect(event.field == "status")
            #expect(event.from == from.rawValue)
            #expect(event.to == to.rawValue)
        } else if let command = Self.gated[to] {
            c.expectRefusal(.setFields([.status: .text(to.rawValue)]), code: .ruleViolated, rule: "status_transition",
                            field: "status", mentions: ["status \(to.rawValue)", "\(command) command"])
        } else {
            c.expectRefusal(command, code: .ruleViolated, rule: "status_transition", field: "status",
                            mentions: ["status cannot change from \(from.rawValue) to \(to.rawValue)"])
        }
    }

    /// The gated statuses are reachable through their commands from every
    /// open status the table lists.
    @Test(arguments: [CaseStatus.new, .investigating, .escalated, .deescalated])
    func gatedCommandsReachTheirStatus(from: CaseStatus) throws {
        var escalating = try caseIn(from)
        let next: EscalationLevel = escalating.state.escalationLevel == .l1 ? .l2 : .sme
        try escalating.run(.escalate(level: next, reason: "Needs more expertise", approvedBy: nil))
        #expect(escalating.state.status == .escalated)

        var resolving = try caseIn(from)
        try resolving.run(.resolve(resolution: "Patched", customerAcknowledged: true))
        #expect(resolving.state.status == .resolved)
    }

    /// Reopening a resolved case makes it open again: it can be escalated.
    @Test func reopenedCaseIsOpenAgain() throws {
        var c = try caseIn(.resolved)
        try c.set([.status: .text("investigating")])
        #expect(c.state.status.isOpen)
        try c.run(.escalate(level: .l2, reason: "Customer reports the problem is back", approvedBy: nil))
        #expect(c.state.status == .escalated)
    }

    /// The pure transition table, independent of how statuses are reached.
    @Test func transitionTable() {
        for (from, to) in Self.allPairs {
            #expect(from.allowsDirectTransition(to: to) == Self.direct.contains([from, to]), "\(from) → \(to)")
        }
        for status in CaseStatus.allCases {
            #expect(CaseStatus.gatedCommand(for: status) == Self.gated[status])
            #expect(status.isOpen == ![.resolved, .closed].contains(status))
        }
    }
}
