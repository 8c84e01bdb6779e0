// Shared fixtures for the domain tests: replicas, hybrid timestamps, a valid
// new case, cases brought into each status through the real commands, and a
// helper that checks a refusal in full (code, rule, field, wording, and that
// the case did not change).
//
// Replaying a property failure: PropertyBased prints a hint such as
// `.fixedSeed("…")`; add that trait to the failing @Test and rerun
//   swift test --scratch-path .build-domain-tests --filter CaseMeshDomainTests

import Foundation
import Testing
import CaseMeshCRDT
@testable import CaseMeshDomain

// MARK: - Replicas and time

extension ReplicaID {
    static let emea = ReplicaID("emea")
    static let amer = ReplicaID("amer")
    static let apac = ReplicaID("apac")
}

/// Unix milliseconds of a UTC wall-clock time, computed with Foundation's
/// Gregorian calendar so expectations never go through `CalendarMath`.
func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0, _ minute: Int = 0, _ second: Int = 0) -> Int64 {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    let date = calendar.date(from: components)!
    return Int64((date.timeIntervalSince1970 * 1000).rounded())
}

let minute: Int64 = 60_000
let hour: Int64 = 60 * minute

/// Monday 2026-01-12 10:00 UTC (10:00 in London, winter time): inside EMEA
/// business hours, the default creation time of fixture cases.
let base = utc(2026, 1, 12, 10)

func hlc(_ millis: Int64, logical: UInt32 = 0) -> HLCTimestamp {
    HLCTimestamp(wallMillis: UInt64(millis), logical: logical)
}

func context(_ replica: ReplicaID = .emea, at millis: Int64 = base, logical: UInt32 = 0, actor: String = "Ann Agent") -> CommandContext {
    CommandContext(replica: replica, time: hlc(millis, logical: logical), actor: actor)
}

// MARK: - Identifiers

func caseID(_ raw: String) -> CaseID { try! CaseID(raw) }
func noteID(_ raw: String) -> NoteID { try! NoteID(raw) }
func attendeeID(_ raw: String) -> AttendeeID { try! AttendeeID(raw) }
func stepID(_ raw: String) -> StepID { try! StepID(raw) }
func approvalID(_ raw: String) -> ApprovalID { try! ApprovalID(raw) }
func region(_ raw: String) -> Region { try! Region(raw) }

// MARK: - Cases

func newCase(
    id: String = "case-1", number: String = "EMEA-000001", region regionName: String = "EMEA",
    title: String = "Card payments time out", customer: String = "Acme GmbH", product: String = "Payments API",
    severity: Severity = .sev3, level: EscalationLevel = .l1, fields: [CaseField: FieldValue] = [:]
) -> NewCase {
    NewCase(id: caseID(id), number: number, region: region(regionName), title: title, customer: customer,
            product: product, severity: severity, level: level, fields: fields)
}

/// The critical milestone the fixture cases carry: 2026-02-01 (a whole day).
let milestone = utc(2026, 2, 1)

/// The four answers an escalation request needs.
let escalationRequest: [CaseField: FieldValue] = [
    .problemStatement: .text("Card payments time out for every EU merchant"),
    .businessImpact: .text("About 4,000 orders an hour are lost"),
    .workaround: .text("none"),
    .criticalMilestone: .time(milestone),
]

/// The three de-escalation checklist items, all satisfied.
let deescalationChecklist: [CaseField: FieldValue] = [
    .actionPlanAccepted: .flag(true),
    .rcaStatus: .text("onTrack"),
    .deescalationAgreement: .text("Customer agreed on the 14 Jan call to de-escalate"),
]

/// One replica's copy of a case with its own clock. Every command runs one
/// minute after the previous one (unless a time is given), so the HLC stamps
/// of one replica strictly increase, as a real node's would.
struct ReplicaCase {
    var state: CaseState
    let replica: ReplicaID
    /// Wall time (Unix ms) of the last command.
    var clock: Int64
    /// Every delta this replica produced, the create delta first.
    var deltas: [CaseState] = []

    init(_ input: NewCase = newCase(), on replica: ReplicaID = .emea, at millis: Int64 = base, actor: String = "Ann Agent") throws {
        let created = try CaseState.create(input, context: context(replica, at: millis, actor: actor))
        state = created
        self.replica = replica
        clock = millis
        deltas = [created]
    }

    /// A replica that has received only `delta` (normally the create delta).
    init(receiving delta: CaseState, as replica: ReplicaID, clock: Int64) {
        state = CaseState(header: delta.header)
        _ = state.merge(delta)
        self.replica = replica
        self.clock = clock
    }

    var nextContext: CommandContext { context(replica, at: clock + minute) }

    @discardableResult
    mutating func run(_ command: CaseCommand, at millis: Int64? = nil, logical: UInt32 = 0, actor: String = "Ann Agent") throws(DomainError) -> CaseState {
        clock = millis ?? clock + minute
        let delta = try state.execute(command, context: context(replica, at: clock, logical: logical, actor: actor))
        deltas.append(delta)
        return delta
    }

    @discardableResult
    mutating func set(_ fields: [CaseField: FieldValue], at millis: Int64? = nil) throws(DomainError) -> CaseState {
        try run(.setFields(fields), at: millis)
    }

    /// Runs a command that must be refused and checks the refusal in full:
    /// the error code, the rule, the blamed field, that the message names
    /// each of `mentions` (ignoring case), and that the case is exactly as it
    /// was (a refused command never half-applies).
    @discardableResult
    func expectRefusal(
        _ command: CaseCommand, code: DomainError.Code, rule: String? = nil, field: String?, mentions: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> DomainError? {
        var attempt = state
        let error = #expect(throws: DomainError.self, sourceLocation: sourceLocation) {
            try attempt.execute(command, context: nextContext)
        }
        checkRefusal(error, code: code, rule: rule, field: field, mentions: mentions, sourceLocation: sourceLocation)
        #expect(attempt == state, "a refused command must leave the case unchanged", sourceLocation: sourceLocation)
        return error
    }
}

func checkRefusal(
    _ error: DomainError?, code: DomainError.Code, rule: String?, field: String?, mentions: [String],
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard let error else { return }
    #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    #expect(error.rule == rule, "\(error)", sourceLocation: sourceLocation)
    #expect(error.field == field, "\(error)", sourceLocation: sourceLocation)
    for word in mentions {
        #expect(error.message.lowercased().contains(word.lowercased()),
                "message \"\(error.message)\" should mention \"\(word)\"", sourceLocation: sourceLocation)
    }
}

/// A case whose escalation request is complete, status new.
func caseReadyToEscalate(level: EscalationLevel = .l1, severity: Severity = .sev3, region: String = "EMEA") throws -> ReplicaCase {
    try ReplicaCase(newCase(region: region, severity: severity, level: level, fields: escalationRequest))
}

/// A case at L2 that meets every vendor (L3) gate: a complete request, an
/// L1 troubleshooting step with an outcome, and a Team Leader's approval of
/// kind vendorEscalation from "Tina Lead" (approval id `approval-1`).
func caseReadyForVendor() throws -> ReplicaCase {
    var c = try caseReadyToEscalate(level: .l2)
    try c.run(.recordTroubleshooting(id: stepID("step-1"), level: .l1, action: "Restarted the payment gateway",
                                     outcome: "Timeouts continue", evidence: "gateway.log lines 10-80"))
    try c.run(.approve(id: approvalID("approval-1"), kind: .vendorEscalation, approver: "Tina Lead",
                       approverRole: .teamLeader, notes: "Vendor fix needed; approved on the bridge call"))
    return c
}

/// A case brought into `status` through the commands a person would use.
func caseIn(_ status: CaseStatus) throws -> ReplicaCase {
    var c = try caseReadyToEscalate()
    switch status {
    case .new:
        break
    case .investigating:
        try c.set([.status: .text("investigating")])
    case .escalated:
        try c.run(.escalate(level: .l2, reason: "Needs L2 expertise", approvedBy: nil))
    case .deescalated:
        try c.run(.escalate(level: .l2, reason: "Needs L2 expertise", approvedBy: nil))
        try c.set(deescalationChecklist)
        try c.run(.deescalate(reason: "Fix deployed, customer calm"))
    case .resolved:
        try c.run(.resolve(resolution: "Gateway timeout raised to 30 s", customerAcknowledged: true))
    case .closed:
        try c.run(.resolve(resolution: "Gateway timeout raised to 30 s", customerAcknowledged: true))
        try c.set([.status: .text("closed")])
    }
    try #require(c.state.status == status)
    return c
}

/// The last timeline event of the case.
extension CaseState {
    var lastEvent: TimelineEvent? { events.last?.event }
    func events(of kind: TimelineEventKind) -> [TimelineEvent] { events.map(\.event).filter { $0.kind == kind } }
}

// MARK: - Randomness for shuffles inside properties

