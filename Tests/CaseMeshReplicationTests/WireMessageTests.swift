import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshReplication
import Testing

/// The wire codec: every message kind round-trips, and damaged, truncated,
/// padded or foreign frames end in a `CodecError`, never a crash or a
/// partly trusted message.
@Suite struct WireMessageTests {
    static func randomMessage(_ random: inout SplitMix64) -> WireMessage {
        let replicas = ["emea", "amer", "apac", "n-1"].map { ReplicaID($0) }
        func positions() -> LogPositions {
            var result: LogPositions = [:]
            for replica in replicas where Bool.random(using: &random) { result[replica] = UInt64.random(in: 1...UInt64(Int64.max), using: &random) }
            return result
        }
        func bytes() -> [UInt8] { (0..<Int.random(in: 0...40, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) } }
        func digest() -> StateDigest { StateDigest(bytes: (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }) }
        switch Int.random(in: 0..<7, using: &random) {
        case 0: return .hello(node: replicas.randomElement(using: &random)!, cluster: "casemesh-\(Int.random(in: 0...9, using: &random))")
        case 1: return .replication(.applied(positions()))
        case 2:
            return .replication(.entries((0..<Int.random(in: 0...5, using: &random)).map { _ in
                LogEntry(origin: replicas.randomElement(using: &random)!, counter: UInt64.random(in: 1...1_000_000, using: &random), delta: bytes())
            }))
        case 3:
            return .replication(.catchUpOffer(session: UInt64.random(in: 0...UInt64.max, using: &random), positions: positions(),
                                              buckets: (0..<CaseBucket.count).map { _ in digest() }))
        case 4:
            let have = (0..<Int.random(in: 0...6, using: &random)).map { index in
                CaseFingerprint(id: try! CaseID("case-\(index)"), digest: digest())
            }.sorted()
            let parts = Int.random(in: 1...3, using: &random)
            return .replication(.catchUpRequest(session: UInt64.random(in: 0...1000, using: &random), part: Int.random(in: 0..<parts, using: &random), parts: parts,
                                                buckets: (0..<Int.random(in: 0...8, using: &random)).map { _ in Int.random(in: 0..<CaseBucket.count, using: &random) },
                                                have: have))
        case 5:
            return .replication(.catchUpCases(session: UInt64.random(in: 0...1000, using: &random), part: Int.random(in: 0...5, using: &random),
                                              last: Bool.random(using: &random), cases: (0..<Int.random(in: 0...4, using: &random)).map { _ in bytes() }))
        default:
            return .replication(.catchUpAck(session: UInt64.random(in: 0...UInt64.max, using: &random), parts: Int.random(in: 0...100_000, using: &random)))
        }
    }

    @Test func everyKindRoundTrips() throws {
        var random = SplitMix64(seed: 7)
        for _ in 0..<2_000 {
            let message = Self.randomMessage(&random)
            #expect(try WireMessage(decoding: message.encoded) == message)
        }
    }

    @Test func truncatedOrPaddedFramesAreRefused() {
        var random = SplitMix64(seed: 11)
        for _ in 0..<200 {
            let bytes = Self.randomMessage(&random).encoded
            // Every prefix of short frames; for long ones (a catch-up offer
            // is 8 KiB) the first 200, every 37th, and the last 40.
            let lengths = bytes.count <= 300 ? Array(0..<bytes.count)
                : Array(0..<200) + Array(stride(from: 200, to: bytes.count - 40, by: 37)) + Array((bytes.count - 40)..<bytes.count)
            for length in lengths {
                #expect(throws: CodecError.self) { try WireMessage(decoding: Array(bytes[..<length])) }
            }
            #expect(throws: CodecError.trailingBytes(1)) { try WireMessage(decoding: bytes + [0]) }
        }
    }

    @Test func otherVersionsAndUnknownKindsAreRefusedByName() {
        var frame = WireMessage.hello(node: ReplicaID("emea"), cluster: "c").encoded
        frame[0] = 2
        #expect(throws: CodecError.invalidValue("wire version 2 is not spoken here (this node speaks 1)")) { try WireMessage(decoding: frame) }
        // version 1, empty replica table, kind 99
        #expect(throws: CodecError.invalidValue("unknown message kind 99")) { try WireMessage(decoding: [1, 0, 99]) }
    }

    @Test func outOfRangeValuesAreRefused() {
        func frame(_ body: (inout ByteWriter) -> Void) -> [UInt8] {
            var writer = ByteWriter()
            body(&writer)
            return [1] + writer.finish()
        }
        // a log counter of 0
        let zero = frame { $0.write(byte: 2); $0.write(varint: 1); $0.write(replica: ReplicaID("emea")); $0.write(varint: 0) }
        #expect(throws: CodecError.self) { try WireMessage(decoding: zero) }
        // a bucket that does not exist
        let bucket = frame { $0.write(byte: 5); $0.write(varint: 1); $0.write(varint: 0); $0.write(varint: 1); $0.write(varint: 1); $0.write(varint: 256); $0.write(varint: 0) }
        #expect(throws: CodecError.invalidValue("bucket 256 does not exist")) { try WireMessage(decoding: bucket) }
        // a request part beyond its parts
        let part = frame { $0.write(byte: 5); $0.write(varint: 1); $0.write(varint: 3); $0.write(varint: 3); $0.write(varint: 0); $0.write(varint: 0) }
        #expect(throws: CodecError.invalidValue("part 3 of 3")) { try WireMessage(decoding: part) }
        // a last-part flag that is neither 0 nor 1
        let flag = frame { $0.write(byte: 6); $0.write(varint: 1); $0.write(varint: 3); $0.write(byte: 2); $0.write(varint: 0) }
        #expect(throws: CodecError.invalidValue("last-part flag 2")) { try WireMessage(decoding: flag) }
        // a part number past 2³¹ − 1
        let huge = frame { $0.write(byte: 7); $0.write(varint: 1); $0.write(varint: 1 << 31) }
        #expect(throws: CodecError.invalidValue("part number 2147483648 out of range")) { try WireMessage(decoding: huge) }
        // an offer with too few bucket digests
        let offer = frame { $0.write(byte: 4); $0.write(varint: 1); $0.write(varint: 0); $0.write(varint: 1); for _ in 0..<32 { $0.write(byte: 0) } }
        #expect(throws: CodecError.invalidValue("1 bucket digests, expected 256")) { try WireMessage(decoding: offer) }
    }

    /// Random damage to valid frames and random byte strings: decoding
    /// either throws or yields a message that re-encodes to a valid frame.
    @Test func damagedFramesNeverCrash() throws {
        var random = SplitMix64(seed: 13)
        for _ in 0..<3_000 {
            var bytes = Self.randomMessage(&random).encoded
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            if let message = try? WireMessage(decoding: bytes) {
                #expect(try WireMessage(decoding: message.encoded) == message)
            }
            let noise = (0..<Int.random(in: 0...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            _ = try? WireMessage(decoding: noise)
        }
    }
}
