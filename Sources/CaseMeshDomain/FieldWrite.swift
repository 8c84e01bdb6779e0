import CaseMeshCRDT

/// One write of an LWW field: the value plus what the writer's replica had
/// seen of the case when it wrote. The latter is what tells a real conflict
/// (neither writer saw the other's write) from an old value still waiting for
/// the delta that overwrote it, which out-of-order delivery can leave behind.
public struct FieldWrite: Hashable, Sendable, BinaryCodable {
    public var value: FieldValue
    public var observed: CausalContext

    public init(value: FieldValue, observed: CausalContext) {
        self.value = value
        self.observed = observed
    }

    public func encode(to writer: inout ByteWriter) {
        value.encode(to: &writer)
        observed.encode(to: &writer)
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        self.init(value: try FieldValue(from: &reader), observed: try CausalContext(from: &reader))
    }
}

/// A concurrent write to a field that lost to the current value.
public struct ConflictingWrite: Hashable, Sendable {
    public var value: FieldValue
    public var stamp: LWWStamp
}

extension DotFun where Value == FieldWrite {
    /// Two writes conflict when neither writer had seen the other's write.
    static func concurrent(_ a: Entry, _ b: Entry) -> Bool {
        !a.value.observed.contains(b.dot) && !b.value.observed.contains(a.dot)
    }

    /// Losing writes that were concurrent with the winner and carry another value.
    var conflictingLosers: [Entry] {
        guard let winner, entries.count > 1 else { return [] }
        return losers.filter { Self.concurrent($0, winner) && $0.value.value != winner.value.value }
    }
}
