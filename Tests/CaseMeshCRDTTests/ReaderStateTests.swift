// Replay a failure with the `.fixedSeed(...)` trait PropertyBased prints; see Generators.swift.

import PropertyBased
import Testing
@testable import CaseMeshCRDT

/// In a batch document a timestamp's milliseconds are the difference from
/// the timestamp before it; whatever the order and size of the timestamps,
/// the reader must get back exactly what was written.
@Suite struct BatchTimestampTests {
    /// Anything up to the extremes, values near 0 and near the top (where
    /// differences wrap), and today's clocks.
    static let millisGen = zip(Gen.int(in: 0...4), Gen.uint64(in: .min ... .max)).map { (kind: Int, raw: UInt64) -> UInt64 in
        switch kind {
        case 0: return raw
        case 1: return raw % 4
        case 2: return UInt64.max - raw % 4
        default: return 1_700_000_000_000 + raw % 100_000
        }
    }
    static let timestampGen = zip(millisGen, Gen<UInt32>.value(in: .min ... .max)).map { (millis: UInt64, logical: UInt32) in
        HLCTimestamp(wallMillis: millis, logical: logical)
    }

    func roundTrip(_ times: [HLCTimestamp], batch: Bool) -> (bytes: [UInt8], read: Result<[HLCTimestamp], CodecError>) {
        var writer = ByteWriter(canonical: false, capacity: 16, batch: batch)
        for time in times { time.encode(to: &writer) }
        let bytes = writer.finish()
        let read = Result { () throws(CodecError) -> [HLCTimestamp] in
            var reader = try ByteReader(bytes, range: 0..<bytes.count, batch: batch)
            var read: [HLCTimestamp] = []
            for _ in times { read.append(try HLCTimestamp(from: &reader)) }
            guard reader.isAtEnd else { throw .trailingBytes(reader.remaining) }
            return read
        }
        return (bytes, read)
    }

    @Test func timestampsRoundTripInBatches() async {
        await propertyCheck(count: 1000, input: Self.timestampGen.array(of: 0...40)) { times in
            #expect(roundTrip(times, batch: true).read == .success(times))
            #expect(roundTrip(times, batch: false).read == .success(times))
        }
    }

    /// The writes of one case share a timestamp: after the first, each takes
    /// two bytes (a zero difference and the logical counter), not seven.
    @Test func repeatedTimestampsTakeTwoBytes() {
        let time = HLCTimestamp(wallMillis: 1_764_000_000_000, logical: 3)
        let batch = roundTrip(Array(repeating: time, count: 100), batch: true)
        let plain = roundTrip(Array(repeating: time, count: 100), batch: false)
        #expect(batch.read == .success(Array(repeating: time, count: 100)))
        // The (empty) replica table, then 7 bytes for the first and 2 for the rest.
        #expect(batch.bytes.count == 1 + 7 + 99 * 2)
        #expect(plain.bytes.count == 1 + 100 * 7)
    }
}

/// One reader hands an equal version vector the storage of the last one it
/// read; whatever runs of equal, similar and different vectors a document
/// holds, each must read back as written, and a malformed one must still be
/// refused when it starts like the last.
@Suite struct SharedVersionVectorTests {
    /// Vectors over three replicas with counters 0...2 (0: absent), so that
    /// runs of equal vectors and vectors sharing a prefix are common.
    static let vectorGen = zip(Gen.int(in: 0...2), Gen.int(in: 0...2), Gen.int(in: 0...2)).map { (a: Int, b: Int, c: Int) in
        VersionVector([replicaID(0): UInt64(a), replicaID(1): UInt64(b), replicaID(2): UInt64(c)])
    }

    @Test func runsOfVectorsReadBack() async {
        await propertyCheck(count: 1000, input: Self.vectorGen.array(of: 0...30)) { vectors in
            var writer = ByteWriter()
            for vector in vectors { vector.encode(to: &writer) }
            let bytes = writer.finish()
            let read = Result { () throws(CodecError) -> [VersionVector] in
                var reader = try ByteReader(bytes)
                return try vectors.map { _ throws(CodecError) in try VersionVector(from: &reader) }
            }
            #expect((try? read.get()) == vectors)
        }
    }

    @Test func aMalformedVectorAfterAnEqualPrefixIsRefused() {
        let a = ReplicaID("a"), b = ReplicaID("b")
        var writer = ByteWriter()
        VersionVector([a: 1, b: 2]).encode(to: &writer)
        // Then [a: 1, a: 3]: its first entry equals the last vector's.
        writer.write(varint: 2)
        writer.write(replica: a)
        writer.write(varint: 1)
        writer.write(replica: a)
        writer.write(varint: 3)
        let bytes = writer.finish()
        let read = Result { () throws(CodecError) -> VersionVector in
            var reader = try ByteReader(bytes)
            _ = try VersionVector(from: &reader)
            return try VersionVector(from: &reader)
        }
        #expect(read.failure == .invalidValue("version vector entries out of order"))
    }
}
