import Testing
import CaseMeshCRDT
@testable import CaseMeshDomain

/// Opening a case: what a valid create records, and every way the create
/// request can be refused.
@Suite struct CreateCaseTests {
    /// The create delta is the whole initial state: fields, status, level,
    /// owning region, header and one `created` event.
    @Test func validCreateRecordsEverything() throws {
        let input = newCase(number: "  EMEA-000123 ", title: "  Card payments time out  ", severity: .sev2, level: .l2,
                            fields: [.owner: .text("Erin Engineer"), .communicationFrequencyMinutes: .number(120)])
        let state = try CaseState.create(input, context: context(.emea, at: base, actor: " Ann Agent "))

        #expect(state.title == "Card payments time out")
        #expect(state.customer == "Acme GmbH")
        #expect(state.product == "Payments API")
        #expect(state.severity == .sev2)
        #expect(state.status == .new)
        #expect(state.escalationLevel == .l2)
        #expect(state.owningRegion == region("EMEA"))
        #expect(state.text(.owningRegion) == "EMEA")
        #expect(state.owner == "Erin Engineer")
        #expect(state.communicationFrequencyMinutes == 120)

        #expect(state.header.id == caseID("case-1"))
        #expect(state.header.number == "EMEA-000123")
        #expect(state.header.originRegion == region("EMEA"))
        #expect(state.header.createdAt == hlc(base))
        #expect(state.header.createdBy == "Ann Agent")
        #expect(state.header.originReplica == .emea)

        #expect(state.events.count == 1)
        let created = try #require(state.events.first)
        #expect(created.event.kind == .created)
        #expect(created.event.actor == "Ann Agent")
        #expect(created.event.to == "EMEA-000123")
        #expect(created.event.reason == "Sev2 Card payments time out")
        #expect(created.key.time == hlc(base))
        #expect(created.key.replica == .emea)
        #expect(state.unresolvedConflicts.isEmpty)
    }

    /// Every entry level is accepted, and the customer-service path starts at CSR.
    @Test(arguments: [EscalationLevel.l1, .l2, .csr])
    func entryLevelsAreAccepted(level: EscalationLevel) throws {
        let state = try CaseState.create(newCase(level: level), context: context())
        #expect(state.escalationLevel == level)
    }

    /// A case cannot be opened above the entry levels: escalation has gates.
    @Test(arguments: [EscalationLevel.sme, .l3Vendor, .teamLeader, .teamManager, .leadership, .customerServiceManager, .solutionsTeam])
    func nonEntryLevelsAreRefused(level: EscalationLevel) {
        expectCreateRefused(newCase(level: level), field: "escalationLevel", mentions: ["L1, L2", level.label])
    }

    /// A case needs a title; white space alone is not one.
    @Test(arguments: ["", "   ", "\n\t"])
    func emptyTitleIsRefused(title: String) {
        expectCreateRefused(newCase(title: title), field: "title", mentions: ["title", "empty"])
    }

    /// The title limit is 200 characters after trimming.
    @Test func titleLengthLimit() throws {
        let longest = String(repeating: "t", count: 200)
        #expect(try CaseState.create(newCase(title: " \(longest) "), context: context()).title == longest)
        expectCreateRefused(newCase(title: longest + "t"), field: "title", mentions: ["title", "200"])
    }

    /// Every case belongs to a customer.
    @Test func emptyCustomerIsRefused() {
        expectCreateRefused(newCase(customer: "  "), field: "customer", mentions: ["customer", "empty"])
    }

    /// Every case concerns a product (root-cause reports group by it).
    @Test func emptyProductIsRefused() {
        expectCreateRefused(newCase(product: ""), field: "product", mentions: ["product", "empty"])
    }

    /// Customer names are capped at 120 characters.
    @Test func tooLongCustomerIsRefused() {
        expectCreateRefused(newCase(customer: String(repeating: "c", count: 121)), field: "customer", mentions: ["customer", "120"])
    }

    /// The number is 1 to 40 characters after trimming.
    @Test(arguments: ["", "   ", String(repeating: "9", count: 41)])
    func badNumberIsRefused(number: String) {
        expectCreateRefused(newCase(number: number), field: "number", mentions: ["number", "40"])
    }

    /// Every write names who made it (header createdBy, timeline actor).
    @Test func actorMustBeNamed() {
        let error = #expect(throws: DomainError.self) { try CaseState.create(newCase(), context: context(actor: "  ")) }
        checkRefusal(error, code: .validationFailed, rule: nil, field: "actor", mentions: ["acting user"])
    }

    /// Fields that the create request sets itself may not be passed again.
    @Test(arguments: [
        (CaseField.title, FieldValue.text("Other")), (.customer, .text("Other")), (.product, .text("Other")),
        (.severity, .text("sev1")), (.status, .text("investigating")), (.escalationLevel, .text("l2")),
    ])
    func fieldsOfTheRequestItselfAreRefused(field: CaseField, value: FieldValue) {
        expectCreateRefused(newCase(fields: [field: value]), field: field.rawValue, mentions: [field.rawValue, "create request"])
    }

    /// A new case cannot start resolved, acknowledged or with a de-escalation agreed.
    @Test(arguments: [
        (CaseField.resolution, FieldValue.text("Fixed")), (.customerAcknowledged, .flag(true)),
        (.deescalationAgreement, .text("Agreed")), (.actionPlanAccepted, .flag(true)),
    ])
    func lifecycleFieldsCannotStartSet(field: CaseField, value: FieldValue) {
        expectCreateRefused(newCase(fields: [field: value]), field: field.rawValue, mentions: [field.rawValue, "new case"])
    }

    /// Optional fields are validated exactly like a field update.
    @Test(arguments: [
        (CaseField.workaround, FieldValue.text("maybe"), "workaround"),
        (.communicationFrequencyMinutes, .number(5), "communicationFrequencyMinutes"),
        (.owner, .text("   "), "owner"),
        (.owningRegion, .text("emea"), "owningRegion"),
        (.criticalMilestone, .time(-1), "criticalMilestone"),
        (.actionPlan, .flag(true), "actionPlan"),
    ])
    func invalidOptionalFieldsAreRefused(field: CaseField, value: FieldValue, mention: String) {
        expectCreateRefused(newCase(fields: [field: value]), field: field.rawValue, mentions: [mention])
    }

    /// The optional escalation-request fields may be recorded at creation.
    @Test func escalationRequestMayBeGivenAtCreation() throws {
        let state = try CaseState.create(newCase(fields: escalationRequest), context: context())
        #expect(state.text(.problemStatement) == "Card payments time out for every EU merchant")
        #expect(state.workaround == Workaround.none)
        #expect(state.criticalMilestone == milestone)
    }

    // MARK: Identifiers and regions

    /// Letters, digits, "-", "_" and "." up to 64 characters make an id.
    @Test(arguments: ["case-1", "A.b_c-9", String(repeating: "x", count: 64)])
    func validIdentifiers(raw: String) throws {
        #expect(try CaseID(raw).rawValue == raw)
    }

    /// Ids are 1 to 64 characters; the error names the field it came from.
    @Test(arguments: ["", String(repeating: "x", count: 65)])
    func identifierLengthIsChecked(raw: String) {
        let error = #expect(throws: DomainError.self) { try CaseID(raw, field: "caseId") }
        checkRefusal(error, code: .validationFailed, rule: nil, field: "caseId", mentions: ["caseId", "1 to 64"])
    }

    /// Ids travel in URLs and keys, so other characters are refused.
    @Test(arguments: ["case 1", "case/1", "ca$e", "café", "a\nb"])
    func identifierAlphabetIsChecked(raw: String) {
        let error = #expect(throws: DomainError.self) { try NoteID(raw) }
        checkRefusal(error, code: .validationFailed, rule: nil, field: "id", mentions: ["id", "letters, digits"])
    }

    /// Regions are 2 to 8 upper-case letters.
    @Test(arguments: ["EMEA", "AM", "ABCDEFGH"])
    func validRegions(raw: String) throws {
        #expect(try Region(raw).rawValue == raw)
    }

    /// Anything else is not a region code.
    @Test(arguments: ["emea", "E", "ABCDEFGHI", "EM3A", "", "EM EA", "ÉMEA"])
    func invalidRegionsAreRefused(raw: String) {
        let error = #expect(throws: DomainError.self) { try Region(raw) }
        checkRefusal(error, code: .validationFailed, rule: nil, field: "region", mentions: ["region", "upper-case letters"])
    }
}

/// Checks that creating `input` is refused as invalid, blaming `field`.
func expectCreateRefused(_ input: NewCase, field: String, mentions: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    let error = #expect(throws: DomainError.self, sourceLocation: sourceLocation) {
        try CaseState.create(input, context: context())
    }
    checkRefusal(error, code: .validationFailed, rule: nil, field: field, mentions: mentions, sourceLocation: sourceLocation)
}
