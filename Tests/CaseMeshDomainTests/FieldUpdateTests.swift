import Testing
import CaseMeshCRDT
@testable import CaseMeshDomain

/// Field updates (the API's PATCH): each field kind validates its value,
/// unchanged values write nothing, each change is one `fieldChanged` event,
/// and the gates cannot be jumped through a plain update.
@Suite struct FieldUpdateTests {
    /// Text is trimmed of surrounding white space before it is stored.
    @Test func textIsTrimmed() throws {
        var c = try ReplicaCase()
        try c.set([.owner: .text("  Erin Engineer \n")])
        #expect(c.state.owner == "Erin Engineer")
    }

    /// LWW registers have no "unset": an empty text is refused, not stored.
    @Test(arguments: [CaseField.title, .customer, .product, .problemStatement, .businessImpact, .owner,
                      .regionalManager, .actionPlan, .rootCause, .resolution, .deescalationAgreement])
    func emptyTextIsRefused(field: CaseField) throws {
        let c = try ReplicaCase()
        c.expectRefusal(.setFields([field: .text(" \t ")]), code: .validationFailed, field: field.rawValue,
                        mentions: [field.rawValue, "empty"])
    }

    /// Each text field has its limit, counted after trimming.
    @Test(arguments: [(CaseField.title, 200), (.customer, 120), (.product, 120), (.owner, 120), (.regionalManager, 120),
                      (.problemStatement, 10_000), (.businessImpact, 10_000), (.actionPlan, 10_000), (.rootCause, 10_000),
                      (.resolution, 10_000), (.deescalationAgreement, 10_000)])
    func textLengthLimits(field: CaseField, limit: Int) throws {
        var c = try ReplicaCase()
        c.expectRefusal(.setFields([field: .text(String(repeating: "x", count: limit + 1))]), code: .validationFailed,
                        field: field.rawValue, mentions: [field.rawValue, "at most \(limit)"])
        try c.set([field: .text("  " + String(repeating: "x", count: limit) + "  ")])
        #expect(c.state.text(field)?.count == limit)
    }

    /// Enumerated fields accept exactly their wire names.
    @Test(arguments: [
        (CaseField.workaround, ["none", "available", "impractical"], "maybe"),
        (.severity, ["sev1", "sev2", "sev3", "sev4"], "sev5"),
        (.rcaStatus, ["notStarted", "inProgress", "onTrack", "atRisk", "complete"], "done"),
        (.communicationMode, ["email", "phone", "conferenceCall"], "fax"),
    ])
    func choiceFields(field: CaseField, accepted: [String], refused: String) throws {
        var c = try ReplicaCase()
        for name in accepted {
            try c.set([field: .text(name)])
            #expect(c.state.text(field) == name)
        }
        c.expectRefusal(.setFields([field: .text(refused)]), code: .validationFailed, field: field.rawValue,
                        mentions: [field.rawValue, refused, accepted.joined(separator: ", ")])
        // Wire names are case-sensitive.
        c.expectRefusal(.setFields([field: .text(accepted[0].uppercased())]), code: .validationFailed,
                        field: field.rawValue, mentions: [field.rawValue])
    }

    /// Flags take true/false only, not text that looks like one.
    @Test(arguments: [CaseField.actionPlanAccepted, .customerAcknowledged])
    func flagFields(field: CaseField) throws {
        var c = try ReplicaCase()
        try c.set([field: .flag(true)])
        #expect(c.state.flag(field))
        try c.set([field: .flag(false)])
        #expect(!c.state.flag(field))
        c.expectRefusal(.setFields([field: .text("yes")]), code: .validationFailed, field: field.rawValue,
                        mentions: [field.rawValue, "true or false"])
    }

    /// The communication frequency is whole minutes from 15 minutes to a week.
    @Test func minutesRange() throws {
        var c = try ReplicaCase()
        for accepted: Int64 in [15, 60, 7 * 24 * 60] {
            try c.set([.communicationFrequencyMinutes: .number(accepted)])
            #expect(c.state.communicationFrequencyMinutes == accepted)
        }
        for refused: Int64 in [14, 0, -60, 7 * 24 * 60 + 1] {
            c.expectRefusal(.setFields([.communicationFrequencyMinutes: .number(refused)]), code: .validationFailed,
                            field: "communicationFrequencyMinutes",
                            mentions: ["communicationFrequencyMinutes", "between 15 and 10080 minutes"])
        }
        c.expectRefusal(.setFields([.communicationFrequencyMinutes: .text("60")]), code: .validationFailed,
                        field: "communicationFrequencyMinutes", mentions: ["communicationFrequencyMinutes", "number of minutes"])
    }

    /// The critical milestone is a point in time after the epoch.
    @Test func timeField() throws {
        var c = try ReplicaCase()
        try c.set([.criticalMilestone: .time(milestone)])
        #expect(c.state.criticalMilestone == milestone)
        c.expectRefusal(.setFields([.criticalMilestone: .time(-1)]), code: .validationFailed, field: "criticalMilestone",
                        mentions: ["criticalMilestone", "1970"])
        c.expectRefusal(.setFields([.criticalMilestone: .text("2026-02-01")]), code: .validationFailed,
                        field: "criticalMilestone", mentions: ["criticalMilestone", "date or time"])
    }

    /// The owning region must be a region code; it moves the case to that region.
    @Test func regionField() throws {
        var c = try ReplicaCase()
        try c.set([.owningRegion: .text("AMER")])
        #expect(c.state.owningRegion == region("AMER"))
        #expect(c.state.header.originRegion == region("EMEA"))
        for refused in ["amer", "A", "AMERICASX", "AM3R"] {
            c.expectRefusal(.setFields([.owningRegion: .text(refused)]), code: .validationFailed, field: "owningRegion",
                            mentions: ["owningRegion", "upper-case letters"])
        }
    }

    /// An empty PATCH is a client mistake, not a silent success.
    @Test func noFieldsIsRefused() throws {
        let c = try ReplicaCase()
        c.expectRefusal(.setFields([:]), code: .validationFailed, field: "fields", mentions: ["no fields"])
    }

    /// One invalid field refuses the whole update: the valid ones are not applied.
    @Test func oneInvalidFieldRefusesTheWholeUpdate() throws {
        let c = try ReplicaCase()
        c.expectRefusal(.setFields([.owner: .text("Erin"), .title: .text("New title"), .workaround: .text("maybe")]),
                        code: .validationFailed, field: "workaround", mentions: ["workaround"])
    }

    /// Writing the value a field already has (after trimming) writes nothing:
    /// no register write, no event, an empty delta.
    @Test func unchangedValuesWriteNothing() throws {
        var c = try ReplicaCase()
        let before = c.state
        let delta = try c.set([.title: .text("  Card payments time out "), .severity: .text("sev3"), .status: .text("new")])
        #expect(c.state == before)
        #expect(delta.causal.store.isBottom)
        #expect(delta.causal.context.isEmpty)
        #expect(delta.timeline.count == 0)
    }

    /// Only the changed fields of a mixed update are written.
    @Test func onlyChangedFieldsAreWritten() throws {
        var c = try ReplicaCase()
        let delta = try c.set([.title: .text("Card payments time out"), .owner: .text("Erin")])
        #expect(Set(delta.causal.store.fields.keys) == [.owner])
        #expect(delta.events.map(\.event.field) == ["owner"])
    }

    /// Each change is a `fieldChanged` event naming the field, the old value
    /// (nil when there was none) and the new one, carried by the delta.
    @Test func eachChangeIsAnEventWithFromAndTo() throws {
        var c = try ReplicaCase()
        let first = try c.set([.owner: .text("Erin")])
        let second = try c.set([.owner: .text("Farid"), .severity: .text("sev1"), .actionPlanAccepted: .flag(true)])

        #expect(first.events.count == 1)
        let set = try #require(first.events.first?.event)
        #expect(set.kind == .fieldChanged)
        #expect(set.field == "owner")
        #expect(set.from == nil)
        #expect(set.to == "Erin")
        #expect(set.actor == "Ann Agent")

        let changes = Dictionary(uniqueKeysWithValues: second.events.map { ($0.event.field!, $0.event) })
        #expect(changes.count == 3)
        #expect(changes["owner"]?.from == "Erin")
        #expect(changes["owner"]?.to == "Farid")
        #expect(changes["severity"]?.from == "sev3")
        #expect(changes["severity"]?.to == "sev1")
        #expect(changes["actionPlanAccepted"]?.from == nil)
        #expect(changes["actionPlanAccepted"]?.to == "yes")
        #expect(second.events.allSatisfy { $0.event.kind == .fieldChanged })
        // The events are in the state too, after the creation event.
        #expect(c.state.events(of: .fieldChanged).count == 4)
    }

    /// A time value reads as an ISO date in the timeline.
    @Test func timeChangeReadsAsADate() throws {
        var c = try ReplicaCase()
        let delta = try c.set([.criticalMilestone: .time(utc(2026, 2, 1, 17, 30))])
        #expect(delta.events.first?.event.to == "2026-02-01T17:30:00Z")
    }

    /// The escalation level moves only through `escalate`, which checks the
    /// gates — even an "upward" PATCH is refused.
    @Test(arguments: ["l2", "l3Vendor", "l1"])
    func escalationLevelCannotBeSetDirectly(level: String) throws {
        let c = try ReplicaCase()
        c.expectRefusal(.setFields([.escalationLevel: .text(level)]), code: .ruleViolated,
                        rule: EscalationRules.Rule.levelViaEscalate, field: "escalationLevel",
                        mentions: ["escalation level", "escalate command"])
        #expect(EscalationRules.Rule.levelViaEscalate == "level_changes_by_escalation")
    }

    /// A closed case is terminal: no field changes at all.
    @Test(arguments: [(CaseField.owner, FieldValue.text("Erin")), (.title, .text("New")), (.severity, .text("sev1")),
                      (.resolution, .text("Other fix")), (.customerAcknowledged, .flag(false)), (.rootCause, .text("Config"))])
    func closedCaseRefusesFieldChanges(field: CaseField, value: FieldValue) throws {
        let c = try caseIn(.closed)
        c.expectRefusal(.setFields([field: value]), code: .ruleViolated, rule: "case_not_open", field: field.rawValue,
                        mentions: ["case is closed", "can no longer change"])
    }

    /// A resolved (not yet closed) case still takes field updates.
    @Test func resolvedCaseTakesFieldUpdates() throws {
        var c = try caseIn(.resolved)
        try c.set([.rootCause: .text("Gateway timeout too low")])
        #expect(c.state.text(.rootCause) == "Gateway timeout too low")
    }
}
