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
}
