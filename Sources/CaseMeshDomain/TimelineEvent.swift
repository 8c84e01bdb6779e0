import CaseMeshCRDT

/// Where an event sits in the append-only timeline: ordered by hybrid time,
/// then replica, then a discriminator that keeps several events of one
/// command apart. Conflict events use a key derived from the two writes, so
/// every replica that detects the same conflict records the same event once.
public struct EventKey: Hashable, Comparable, Sendable, BinaryCodable {
    public var time: HLCTimestamp
    public var replica: ReplicaID
    public var discriminator: String

    public init(time: HLCTimestamp, replica: ReplicaID, discriminator: String) {
        self.time = time
        self.replica = replica
        self.discriminator = discriminator
    }

    public static func < (lhs: EventKey, rhs: EventKey) -> Bool {
        if lhs.time != rhs.time { return lhs.time < rhs.time }
        if lhs.replica != rhs.replica { return lhs.replica < rhs.replica }
        return lhs.discriminator.utf8.lexicographicallyPrecedes(rhs.discriminator.utf8)
    }

    public func encode(to writer: inout ByteWriter) {
        time.encode(to: &writer); replica.encode(to: &writer); writer.write(string: discriminator)
    }

    /// The discriminator must be ASCII. The replicas make only ASCII ones
    /// (an event's index, or a conflict's field and dot), and keys are kept
    /// in a sorted array ordered by `<`, which compares bytes: two Unicode
    /// spellings of one character would be equal (`==`) yet two keys, and
    /// the canonical encoding (NFC) would write them as the same key twice.
    public init(from reader: inout ByteReader) throws(CodecError) {
        let time = try HLCTimestamp(from: &reader)
        let replica = try ReplicaID(from: &reader)
        let discriminator = try reader.readString()
        guard discriminator.utf8.allSatisfy({ $0 < 0x80 }) else { throw .invalidValue("timeline event key \"\(discriminator)\" is not ASCII") }
        self.init(time: time, replica: replica, discriminator: discriminator)
    }
}

public enum TimelineEventKind: String, DomainEnum {
    case created, fieldChanged, escalated, deescalated, resolved
    case noteAdded, noteRemoved, attendeeAdded, attendeeRemoved
    case troubleshootingRecorded, approvalRecorded, tagAdded, tagRemoved, caseLinked, caseUnlinked
    case articleAdded, articleRemoved
    /// Two replicas wrote the same field concurrently; `from` lost to `to`.
    case conflict
}

/// One entry of the case's timeline. A flat record so every kind of event
/// reads the same way in the API: who did what, to which field, from what
/// to what, and why.
public struct TimelineEvent: Hashable, Sendable, BinaryCodable {
    public var kind: TimelineEventKind
    public var actor: String
    public var field: String?
    public var from: String?
    public var to: String?
    public var reason: String?
    /// The id of the note, attendee, step, approval or linked case involved.
    public var ref: String?

    public init(kind: TimelineEventKind, actor: String, field: String? = nil, from: String? = nil, to: String? = nil, reason: String? = nil, ref: String? = nil) {
        self.kind = kind
        self.actor = actor
        self.field = field
        self.from = from
        self.to = to
        self.reason = reason
        self.ref = ref
    }

    public func encode(to writer: inout ByteWriter) {
        kind.encode(to: &writer); writer.write(string: actor)
        field.encode(to: &writer); from.encode(to: &writer); to.encode(to: &writer)
        reason.encode(to: &writer); ref.encode(to: &writer)
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        self.init(kind: try TimelineEventKind(from: &reader), actor: try reader.readString(),
                  field: try String?(from: &reader), from: try String?(from: &reader), to: try String?(from: &reader),
                  reason: try String?(from: &reader), ref: try String?(from: &reader))
    }
}

public typealias Timeline = GrowOnlyMap<EventKey, TimelineEvent>
