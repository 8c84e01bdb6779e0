import CaseMeshCRDT

/// A note on the case. Immutable once written; removing it is an
/// observed-remove of the add (a concurrent re-add survives).
public struct Note: Hashable, Sendable, BinaryCodable {
    public var id: NoteID
    public var author: String
    public var text: String
    public var visibility: Visibility
    /// Milliseconds since the epoch when it was written.
    public var createdAt: Int64

    public init(id: NoteID, author: String, text: String, visibility: Visibility, createdAt: Int64) {
        self.id = id
        self.author = author
        self.text = text
        self.visibility = visibility
        self.createdAt = createdAt
    }

    public func encode(to writer: inout ByteWriter) {
        id.encode(to: &writer); writer.write(string: author); writer.write(string: text)
        visibility.encode(to: &writer); createdAt.encode(to: &writer)
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        self.init(id: try NoteID(from: &reader), author: try reader.readString(), text: try reader.readString(),
                  visibility: try Visibility(from: &reader), createdAt: try Int64(from: &reader))
    }
}

/// A person on the communication plan.
public struct Attendee: Hashable, Sendable, BinaryCodable {
    public var id: AttendeeID
    public var name: String
    public var email: String
    public var role: String

    public init(id: AttendeeID, name: String, email: String, role: String) {
        self.id = id
        self.name = name
        self.email = email
        self.role = role
    }

    public func encode(to writer: inout ByteWriter) {
        id.encode(to: &writer); writer.write(string: name); writer.write(string: email); writer.write(string: role)
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        self.init(id: try AttendeeID(from: &reader), name: try reader.readString(),
                  email: try reader.readString(), role: try reader.readString())
    }
}

/// One L1/L2 troubleshooting step: what was tried and what came of it.
public struct TroubleshootingStep: Hashable, Sendable, BinaryCodable {
    public var id: StepID
    public var level: EscalationLevel
    public var action: String
    /// Empty while the step is still running.
    public var outcome: String
    public var evidence: String
    public var recordedBy: String
    public var recordedAt: Int64

    public init(id: StepID, level: EscalationLevel, action: String, outcome: String, evidence: String, recordedBy: String, recordedAt: Int64) {
        self.id = id
        self.level = level
        self.action = action
        self.outcome = outcome
        self.evidence = evidence
        self.recordedBy = recordedBy
        self.recordedAt = recordedAt
    }

    public var hasOutcome: Bool { !outcome.isEmpty }

    public func encode(to writer: inout ByteWriter) {
        id.encode(to: &writer); level.encode(to: &writer); writer.write(string: action)
        writer.write(string: outcome); writer.write(string: evidence); writer.write(string: recordedBy)
        recordedAt.encode(to: &writer)
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        self.init(id: try StepID(from: &reader), level: try EscalationLevel(from: &reader), action: try reader.readString(),
                  outcome: try reader.readString(), evidence: try reader.readString(), recordedBy: try reader.readString(),
                  recordedAt: try Int64(from: &reader))
    }
}

/// A recorded approval, e.g. a Team Leader's go-ahead for vendor escalation.
public struct Approval: Hashable, Sendable, BinaryCodable {
    public var id: ApprovalID
    public var kind: ApprovalKind
    public var approver: String
    public var approverRole: ApproverRole
    public var notes: String
    public var recordedBy: String
    public var recordedAt: Int64

    public init(id: ApprovalID, kind: ApprovalKind, approver: String, approverRole: ApproverRole, notes: String, recordedBy: String, recordedAt: Int64) {
        self.id = id
        self.kind = kind
        self.approver = approver
        self.approverRole = approverRole
        self.notes = notes
        self.recordedBy = recordedBy
        self.recordedAt = recordedAt
    }

    public func encode(to writer: inout ByteWriter) {
        id.encode(to: &writer); kind.encode(to: &writer); writer.write(string: approver); approverRole.encode(to: &writer)
        writer.write(string: notes); writer.write(string: recordedBy); recordedAt.encode(to: &writer)
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        self.init(id: try ApprovalID(from: &reader), kind: try ApprovalKind(from: &reader), approver: try reader.readString(),
                  approverRole: try ApproverRole(from: &reader), notes: try reader.readString(),
                  recordedBy: try reader.readString(), recordedAt: try Int64(from: &reader))
    }
}
