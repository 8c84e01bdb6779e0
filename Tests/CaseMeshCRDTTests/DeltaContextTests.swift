import PropertyBased
import Testing
@testable import CaseMeshCRDT

/// Mutators build delta contexts through fast paths; each must still be in
/// normal form (equal to the context built from its dots the slow way), or
/// equal states could compare and hash differently.
@Suite struct DeltaContextTests {
    @Test func registerOverwriteDeltasAreInNormalForm() async {
        await propertyCheck(count: 1000, input: Gen.int(in: 0...2).array(of: 1...12)) { writers in
            let replicas = [ReplicaID("a"), ReplicaID("b"), ReplicaID("c")]
            var states = replicas.map { _ in LWWRegister<Int>() }
            var time: UInt64 = 1
            for (step, writer) in writers.enumerated() {
                time += 1
                let delta = states[writer].assign(step, time: HLCTimestamp(wallMillis: time), replica: replicas[writer])
                #expect(CausalContext(dots: delta.state.context.allDots) == delta.state.context, "delta context \(delta.state.context)")
                // Ship the delta to the next replica so overwrites cross replicas.
                states[(writer + 1) % 3].join(delta)
            }
        }
    }

    @Test func multiFieldWriteIntoNothingShipsTheWholeState() {
        var map = ORMap<String, String>()
        let delta = map.set([("a", "1"), ("b", "2"), ("a", "3")], time: HLCTimestamp(wallMillis: 5), replica: ReplicaID("r"))
        #expect(delta == map)
        #expect(map["a"] == "3" && map["b"] == "2")
        #expect(CausalContext(dots: map.state.context.allDots) == map.state.context)
        var other = ORMap<String, String>()
        other.join(delta)
        #expect(other == map)
    }
}
