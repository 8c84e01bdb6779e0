import Testing
import CaseMeshCRDT
@testable import CaseMeshDomain

/// Resolution counts only with a resolution text and the customer's
/// acknowledgement, each taken from the command or from the case.
@Suite struct ResolutionTests {
    /// Resolving records the text and the acknowledgement, sets the status and adds a `resolved` event.
    @Test func resolveWithTextAndAcknowledgement() throws {
        var c = try caseIn(.escalated)
        let delta = try c.run(.resolve(resolution: " Timeout raised to 30 s ", customerAcknowledged: true), actor: "Erin Engineer")
        #expect(c.state.status == .resolved)
        #expect(c.state.text(.resolution) == "Timeout raised to 30 s")
        #expect(c.state.flag(.customerAcknowledged))
        let event = try #require(delta.events.first?.event)
        #expect(delta.events.count == 1)
        #expect(event.kind == .resolved)
        #expect(event.actor == "Erin Engineer")
        #expect(event.field == "status")
        #expect(event.from == "escalated")
        #expect(event.to == "resolved")
        #expect(event.reason == "Timeout raised to 30 s")
        #expect(Set(delta.causal.store.fields.keys) == [.resolution, .customerAcknowledged, .status])
    }

    /// Text and acknowledgement already on the case are enough.
    @Test func resolveFromRecordedFields() throws {
        var c = try ReplicaCase()
        try c.set([.resolution: .text("Config corrected"), .customerAcknowledged: .flag(true)])
        let delta = try c.run(.resolve(resolution: nil, customerAcknowledged: nil))
        #expect(c.state.status == .resolved)
        #expect(delta.events.first?.event.reason == "Config corrected")
        #expect(Set(delta.causal.store.fields.keys) == [.status])
    }

    /// The command's text wins over the recorded one; the recorded acknowledgement is used.
    @Test func commandTextWithRecordedAcknowledgement() throws {
        var c = try ReplicaCase()
        try c.set([.resolution: .text("Old text"), .customerAcknowledged: .flag(true)])
        try c.run(.resolve(resolution: "New text", customerAcknowledged: nil))
        #expect(c.state.text(.resolution) == "New text")
        #expect(c.state.status == .resolved)
    }

    /// Recorded text with the acknowledgement given in the command.
    @Test func recordedTextWithCommandAcknowledgement() throws {
        var c = try ReplicaCase()
        try c.set([.resolution: .text("Config corrected")])
        try c.run(.resolve(resolution: nil, customerAcknowledged: true))
        #expect(c.state.status == .resolved)
        #expect(c.state.flag(.customerAcknowledged))
    }

    /// A resolution must say what resolved the case.
    @Test func missingTextIsRefused() throws {
        let c = try ReplicaCase()
        c.expectRefusal(.resolve(resolution: nil, customerAcknowledged: true), code: .ruleViolated,
                        rule: "resolution_needs_text", field: "resolution", mentions: ["resolution text"])
    }

    /// An empty text in the command is malformed input, not a missing resolution.
    @Test func emptyTextIsInvalid() throws {
        let c = try ReplicaCase()
        c.expectRefusal(.resolve(resolution: "   ", customerAcknowledged: true), code: .validationFailed,
                        field: "resolution", mentions: ["resolution", "empty"])
    }

    /// No acknowledgement, a recorded "no", or an explicit false all refuse.
    @Test(arguments: [(nil, nil), (nil, false), (false, nil), (false, true), (false, false)] as [(Bool?, Bool?)])
    func missingAcknowledgementIsRefused(command: Bool?, recorded: Bool?) throws {
        var c = try ReplicaCase()
        if let recorded { try c.set([.customerAcknowledged: .flag(recorded)]) }
        c.expectRefusal(.resolve(resolution: "Fixed", customerAcknowledged: command), code: .ruleViolated,
                        rule: "resolution_needs_customer_acknowledgement", field: "customerAcknowledged",
                        mentions: ["customer's acknowledgement"])
    }

    /// A resolved or closed case cannot be resolved again.
    @Test(arguments: [CaseStatus.resolved, .closed])
    func resolvingAgainIsRefused(status: CaseStatus) throws {
        let c = try caseIn(status)
        c.expectRefusal(.resolve(resolution: "Fixed again", customerAcknowledged: true), code: .ruleViolated,
                        rule: "case_not_open", field: "status", mentions: ["already \(status.rawValue)"])
    }

    /// The rule names are part of the client contract.
    @Test func ruleNames() {
        #expect(EscalationRules.Rule.resolutionText == "resolution_needs_text")
        #expect(EscalationRules.Rule.resolutionAcknowledgement == "resolution_needs_customer_acknowledgement")
        #expect(EscalationRules.Rule.deescalationChecklist == "deescalation_checklist_incomplete")
    }
}
