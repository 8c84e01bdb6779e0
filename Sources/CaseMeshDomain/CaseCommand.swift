import CaseMeshCRDT

/// Who writes, where, and when. Commands are pure: the node supplies the
/// replica, a fresh hybrid timestamp and the authenticated actor.
public struct CommandContext: Sendable {
    public var replica: ReplicaID
    public var time: HLCTimestamp
    public var actor: String

    public init(replica: ReplicaID, time: HLCTimestamp, actor: String) {
        self.replica = replica
        self.time = time
        self.actor = actor
    }

    var wallMillis: Int64 { Int64(clamping: time.wallMillis) }
}

/// The input to open a new case.
public struct NewCase: Sendable {
    public var id: CaseID
    /// Assigned by the origin node from its region's counter, e.g. `EMEA-000123`.
    public var number: String
    public var region: Region
    public var title: String
    public var customer: String
    public var product: String
    public var severity: Severity
    public var level: EscalationLevel
    /// Optional fields set at creation (validated like a field update).
    public var fields: [CaseField: FieldValue]

    public init(id: CaseID, number: String, region: Region, title: String, customer: String, product: String,
                severity: Severity, level: EscalationLevel = .l1, fields: [CaseField: FieldValue] = [:]) {
        self.id = id
        self.number = number
        self.region = region
        self.title = title
        self.customer = customer
        self.product = product
        self.severity = severity
        self.level = level
        self.fields = fields
    }
}

/// Everything that changes an existing case. Each returns one delta.
public enum CaseCommand: Sendable {
    /// Sets LWW fields (the API's PATCH). Status changes that have a gate
    /// must use their command; the escalation level only moves by `escalate`.
    case setFields([CaseField: FieldValue])
    case addNote(id: NoteID, text: String, visibility: Visibility)
    case removeNote(NoteID)
    case putAttendee(id: AttendeeID, name: String, email: String, role: String)
    case removeAttendee(AttendeeID)
    case recordTroubleshooting(id: StepID, level: EscalationLevel, action: String, outcome: String, evidence: String)
    case approve(id: ApprovalID, kind: ApprovalKind, approver: String, approverRole: ApproverRole, notes: String)
    case escalate(level: EscalationLevel, reason: String, approvedBy: String?)
    case deescalate(reason: String)
    /// Either argument may be nil to use what the case already records.
    case resolve(resolution: String?, customerAcknowledged: Bool?)
    case addTag(String)
    case removeTag(String)
    case linkCase(CaseID)
    case unlinkCase(CaseID)
    case addArticle(String)
    case removeArticle(String)
}
