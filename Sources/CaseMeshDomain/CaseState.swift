import CaseMeshCRDT

/// What is fixed when a case is created. Should the same id ever be created
/// on two replicas, the creation with the lower (HLC, replica) stamp wins on
/// every replica, so the header still converges.
public struct CaseHeader: Hashable, Sendable, BinaryCodable {
    public var id: CaseID
    /// Human-facing number, e.g. `EMEA-000123` (a counter per region).
    public var number: String
    public var originRegion: Region
    public var createdAt: HLCTimestamp
    public var createdBy: String
    public var originReplica: ReplicaID

    public init(id: CaseID, number: String, originRegion: Region, createdAt: HLCTimestamp, createdBy: String, originReplica: ReplicaID) {
        self.id = id
        self.number = number
        self.originRegion = originRegion
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.originReplica = originReplica
    }

    var stamp: LWWStamp { LWWStamp(time: createdAt, replica: originReplica) }

    /// The header both replicas keep when they disagree: the earlier creation,
    /// ties (impossible for distinct creations) broken by canonical bytes.
    static func winner(_ a: CaseHeader, _ b: CaseHeader) -> CaseHeader {
        if a == b { return a }
        if a.stamp != b.stamp { return a.stamp < b.stamp ? a : b }
        return a.canonicalBytes.lexicographicallyPrecedes(b.canonicalBytes) ? a : b
    }

    public func encode(to writer: inout ByteWriter) {
        id.encode(to: &writer); writer.write(string: number); originRegion.encode(to: &writer)
        createdAt.encode(to: &writer); writer.write(string: createdBy); originReplica.encode(to: &writer)
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        self.init(id: try CaseID(from: &reader), number: try reader.readString(), originRegion: try Region(from: &reader),
                  createdAt: try HLCTimestamp(from: &reader), createdBy: try reader.readString(),
                  originReplica: try ReplicaID(from: &reader))
    }
}

/// All the causal parts of a case, sharing one causal context: LWW fields
/// (registers on dot stores) and the add-wins sets.
public struct CaseStore: DotStore {
    public var fields = DotMap<CaseField, DotFun<FieldWrite>>()
    public var notes = DotMap<NoteID, DotFun<Note>>()
    public var attendees = DotMap<AttendeeID, DotFun<Attendee>>()
    public var troubleshooting = DotMap<StepID, DotFun<TroubleshootingStep>>()
    public var approvals = DotMap<ApprovalID, DotFun<Approval>>()
    public var tags = DotMap<String, DotSet>()
    public var linkedCases = DotMap<CaseID, DotSet>()
    public var articles = DotMap<String, DotSet>()

    public init() {}

    public var isBottom: Bool {
        fields.isBottom && notes.isBottom && attendees.isBottom && troubleshooting.isBottom
            && approvals.isBottom && tags.isBottom && linkedCases.isBottom && articles.isBottom
    }

    public func forEachDot(_ body: (Dot) -> Void) {
        fields.forEachDot(body); notes.forEachDot(body); attendees.forEachDot(body)
        troubleshooting.forEachDot(body); approvals.forEachDot(body); tags.forEachDot(body)
        linkedCases.forEachDot(body); articles.forEachDot(body)
    }

    public func holdsDot(seenBy context: CausalContext) -> Bool {
        fields.holdsDot(seenBy: context) || notes.holdsDot(seenBy: context)
            || attendees.holdsDot(seenBy: context) || troubleshooting.holdsDot(seenBy: context)
            || approvals.holdsDot(seenBy: context) || tags.holdsDot(seenBy: context)
            || linkedCases.holdsDot(seenBy: context) || articles.holdsDot(seenBy: context)
    }

    public mutating func join(_ other: CaseStore, context: CausalContext, otherContext: CausalContext) {
        fields.join(other.fields, context: context, otherContext: otherContext)
        notes.join(other.notes, context: context, otherContext: otherContext)
        attendees.join(other.attendees, context: context, otherContext: otherContext)
        troubleshooting.join(other.troubleshooting, context: context, otherContext: otherContext)
        approvals.join(other.approvals, context: context, otherContext: otherContext)
        tags.join(other.tags, context: context, otherContext: otherContext)
        linkedCases.join(other.linkedCases, context: context, otherContext: otherContext)
        articles.join(other.articles, context: context, otherContext: otherContext)
    }
}

extension CaseStore: BinaryCodable {
    public func encode(to writer: inout ByteWriter) {
        fields.encode(to: &writer); notes.encode(to: &writer); attendees.encode(to: &writer)
        troubleshooting.encode(to: &writer); approvals.encode(to: &writer); tags.encode(to: &writer)
        linkedCases.encode(to: &writer); articles.encode(to: &writer)
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        fields = try .init(from: &reader)
        notes = try .init(from: &reader)
        attendees = try .init(from: &reader)
        troubleshooting = try .init(from: &reader)
        approvals = try .init(from: &reader)
        tags = try .init(from: &reader)
        linkedCases = try .init(from: &reader)
        articles = try .init(from: &reader)
    }
}

/// The replicated state of one escalation case — and, with the same shape,
/// a delta of it. `join` is commutative, associative and idempotent.
public struct CaseState: Equatable, Sendable {
    public var header: CaseHeader
    public var causal: Causal<CaseStore>
    public var timeline: Timeline

    public init(header: CaseHeader, causal: Causal<CaseStore> = Causal(), timeline: Timeline = Timeline()) {
        self.header = header
        self.causal = causal
        self.timeline = timeline
    }

    public var id: CaseID { header.id }

    /// Joins another state or delta of the same case into this one.
    public mutating func join(_ other: CaseState) {
        precondition(other.header.id == header.id, "joining states of different cases")
        header = CaseHeader.winner(header, other.header)
        causal.join(other.causal)
        timeline.join(other.timeline)
    }

    /// The digest of this case: SHA-256 over its canonical encoding.
    public var digest: StateDigest { Self.digest(of: header.id, canonicalBytes: canonicalBytes) }

    /// The digest of a case from its canonical encoding, for a caller that
    /// has the encoding already (the store keeps it as the stored state).
    public static func digest(of id: CaseID, canonicalBytes: [UInt8]) -> StateDigest {
        StateDigest.member(key: Array(id.rawValue.utf8), content: canonicalBytes)
    }
}

extension CaseState: BinaryCodable {
    /// Format version, so a later layout can be told apart.
    static let formatVersion: UInt8 = 1

    public func encode(to writer: inout ByteWriter) {
        writer.write(byte: Self.formatVersion)
        header.encode(to: &writer); causal.encode(to: &writer); timeline.encode(to: &writer)
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        let version = try reader.readByte()
        guard version == Self.formatVersion else { throw .invalidValue("case state format version \(version)") }
        self.init(header: try CaseHeader(from: &reader), causal: try Causal(from: &reader), timeline: try Timeline(from: &reader))
    }
}
