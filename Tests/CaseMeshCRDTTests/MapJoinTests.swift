import Testing
@testable import CaseMeshCRDT

/// Joins of small deltas into large maps update entries in place and skip
/// looking for removals when the delta names no dot the map has seen; both
/// rest on every held dot being in its context, which decoding enforces.
@Suite struct MapJoinTests {
    /// Fresh writes, overwrites and removes shipped as deltas into a map of
    /// hundreds of entries give the same state as joining the writer's whole state.
    @Test func smallDeltasIntoALargeMapMatchTheWholeState() {
        let emea = ReplicaID("emea"), amer = ReplicaID("amer")
        var writer = ORMap<String, String>()
        for i in 0..<300 { writer.set("note-\(1000 + i)", "text \(i)", time: HLCTimestamp(wallMillis: UInt64(i + 1)), replica: emea) }
        var reader = writer
        var deltas: [ORMap<String, String>] = []
        for i in 0..<100 {
            let time = HLCTimestamp(wallMillis: UInt64(1000 + i))
            switch i % 3 {
            case 0: deltas.append(writer.set("note-\(5000 + i)", "new \(i)", time: time, replica: amer))
            case 1: deltas.append(writer.set("note-\(1000 + i)", "edited \(i)", time: time, replica: amer))
            default: deltas.append(writer.remove("note-\(1000 + i)"))
            }
        }
        for delta in deltas { reader.join(delta) }
        #expect(reader == writer)
        var whole = ORMap<String, String>()
        whole.join(writer)
        #expect(reader.state.store.entries.map(\.key) == whole.state.store.entries.map(\.key))
        #expect(reader.count == 300 + 34 - 33)
    }

    /// A state whose store holds a dot its context has not seen is refused.
    @Test func aDotOutsideItsContextIsRefused() {
        var writer = ByteWriter()
        CausalContext().encode(to: &writer)  // an empty context
        writer.write(varint: 1)  // one key
        writer.write(string: "title")
        DotFun(DotFun.Entry(dot: Dot(ReplicaID("emea"), 1), time: HLCTimestamp(wallMillis: 5), value: "x")).encode(to: &writer)
        #expect(decode(ORMap<String, String>.self, writer.finish()) == .failure(.invalidValue("dot emea:1 held but not in its context")))
    }

    /// Contexts that do and do not cover a held dot `emea:5`: through the
    /// version vector, through the cloud alone, or not at all.
    static let coverCases: [(name: String, context: CausalContext, covered: Bool)] = [
        ("vector above", CausalContext(versionVector: VersionVector([ReplicaID("emea"): 7])), true),
        ("vector exactly", CausalContext(versionVector: VersionVector([ReplicaID("emea"): 5])), true),
        ("cloud only", CausalContext(versionVector: VersionVector([ReplicaID("emea"): 3]), cloud: [Dot(ReplicaID("emea"), 5)]), true),
        ("vector below, cloud elsewhere", CausalContext(versionVector: VersionVector([ReplicaID("emea"): 4]), cloud: [Dot(ReplicaID("emea"), 6)]), false),
        ("other replica only", CausalContext(versionVector: VersionVector([ReplicaID("amer"): 9])), false),
    ]

    /// Registers and add-wins sets alike: a held dot is accepted exactly when
    /// the state's context covers it.
    @Test(arguments: coverCases.indices)
    func heldDotsAreCheckedAgainstVectorAndCloud(_ index: Int) {
        let (name, context, covered) = Self.coverCases[index]
        let dot = Dot(ReplicaID("emea"), 5)
        var register = ByteWriter()
        context.encode(to: &register)
        register.write(varint: 1)
        register.write(string: "title")
        DotFun(DotFun.Entry(dot: dot, time: HLCTimestamp(wallMillis: 5), value: "x")).encode(to: &register)
        var set = ByteWriter()
        context.encode(to: &set)
        set.write(varint: 1)
        set.write(string: "sev1")
        DotSet([dot]).encode(to: &set)
        let refusal = CodecError.invalidValue("dot emea:5 held but not in its context")
        let expected: CodecError? = covered ? nil : refusal
        #expect(decode(ORMap<String, String>.self, register.finish()).failure == expected, "\(name)")
        #expect(decode(AWORSet<String>.self, set.finish()).failure == expected, "\(name)")
    }

    /// One reader, several states: each state's dots are checked against its
    /// own context, not one read before it.
    @Test func eachStateIsCheckedAgainstItsOwnContext() {
        let emea = ReplicaID("emea")
        var covering = ORMap<String, String>()
        _ = covering.set("title", "first", time: HLCTimestamp(wallMillis: 1), replica: emea)
        _ = covering.set("status", "new", time: HLCTimestamp(wallMillis: 2), replica: emea)
        var writer = ByteWriter()
        covering.encode(to: &writer)
        CausalContext(versionVector: VersionVector([emea: 1])).encode(to: &writer)
        writer.write(varint: 1)
        writer.write(string: "title")
        DotFun(DotFun.Entry(dot: Dot(emea, 2), time: HLCTimestamp(wallMillis: 5), value: "x")).encode(to: &writer)
        let bytes = writer.finish()
        let result = Result { () throws(CodecError) -> ORMap<String, String> in
            var reader = try ByteReader(bytes)
            #expect(try ORMap<String, String>(from: &reader) == covering)
            return try ORMap<String, String>(from: &reader)
        }
        #expect(result.failure == .invalidValue("dot emea:2 held but not in its context"))
    }
}

extension Result {
    /// The error, or nil on success.
    var failure: Failure? {
        if case let .failure(error) = self { return error }
        return nil
    }
}
