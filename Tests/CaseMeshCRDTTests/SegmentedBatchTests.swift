// Replay a failure with the `.fixedSeed(...)` trait PropertyBased prints; see Generators.swift.

import PropertyBased
import Testing
@testable import CaseMeshCRDT

/// Items for a batch: text keys with maps written by several replicas, so each
/// segment needs its own replica table.
let batchItemsGen = zip(
    unicodeStringGen,
    zip(Gen.int(in: 0...3), Gen.int(in: 0...5), Gen.int(in: -50...50), Gen.uint64(in: 1...1_000)).array(of: 0...4)
)
.map { key, writes -> (String, ORMap<Int, Int>) in
    var map = ORMap<Int, Int>()
    for (replica, field, value, millis) in writes {
        map.set(field, value, time: HLCTimestamp(wallMillis: millis), replica: replicaID(replica))
    }
    return (key, map)
}
.array(of: 0...40)

func decodeBatch(_ bytes: [UInt8]) -> Result<[SegmentedBatch.Segment<String, ORMap<Int, Int>>], CodecError> {
    Result { () throws(CodecError) in try SegmentedBatch.decode(bytes, as: (String, ORMap<Int, Int>).self) }
}

/// A whole replica's cases travel as one batch whose segments are encoded and
/// decoded on separate threads; what comes out must be what went in, in order,
/// and a damaged batch must be refused, never misread.
@Suite struct SegmentedBatchTests {
    @Test func batchesRoundTripInOrder() async {
        await propertyCheck(count: 1000, input: batchItemsGen, Gen.int(in: 1...6)) { items, segments in
            let bytes = SegmentedBatch.encode(keys: items.map(\.0), values: items.map(\.1), segments: segments)
            switch decodeBatch(bytes) {
            case let .success(decoded):
                #expect(decoded.count == min(segments, max(items.count, 1)), "segments")
                let keys = decoded.flatMap(\.keys), values = decoded.flatMap(\.values)
                #expect(keys == items.map(\.0))
                #expect(values == items.map(\.1))
            case let .failure(error):
                Issue.record("a batch of \(items.count) items in \(segments) segments failed to decode: \(error)")
            }
        }
    }

    @Test func damagedBatchesAreRefused() async {
        await propertyCheck(count: 1000, input: batchItemsGen, Gen.int(in: 1...4), Gen.uint64(in: .min ... .max)) { items, segments, seed in
            let bytes = SegmentedBatch.encode(keys: items.map(\.0), values: items.map(\.1), segments: segments)
            #expect(decodeBatch(bytes + [0]) == .failure(.trailingBytes(1)))
            var rng = SplitMix64(seed: seed)
            let cut = Int(rng.next() % UInt64(bytes.count))
            if case .success = decodeBatch(Array(bytes[..<cut])) {
                Issue.record("the \(cut)-byte prefix of a \(bytes.count)-byte batch decoded")
            }
            // Any damage either decodes to something or is refused: it never traps.
            var damaged = bytes
            damageOnce(&damaged, using: &rng)
            _ = decodeBatch(damaged)
        }
    }

    @Test(arguments: [
        ([0], CodecError.invalidValue("a batch with no segments")),
        ([0x81, 0x02] + [UInt8](repeating: 1, count: 257), .invalidValue("257 segments, more than 256")),
        ([1, 0, 0], .invalidValue("segment 1 of 1 is empty")),
        ([1, 0, 5, 0, 0], .truncated(needed: 5, remaining: 2)),
        ([2, 0, 1, 1, 0, 0, 0, 0], .trailingBytes(2)),  // the lengths leave two bytes over
        ([1, 0, 3, 0, 0, 9], .trailingBytes(1)),  // a segment longer than its pairs
        ([1, 1, 2, 0, 1], .truncated(needed: 2, remaining: 0)),  // one pair promised, none there
        ([1, 1, 2, 0, 0], .invalidValue("the header counts 1 pairs, the segments hold 0")),
        ([1, 100, 2, 0, 0], .truncated(needed: 200, remaining: 3)),  // more pairs than the bytes could hold
    ] as [([UInt8], CodecError)])
    func malformedBatchesNameTheirProblem(bytes: [UInt8], expected: CodecError) {
        #expect(decodeBatch(bytes) == .failure(expected))
    }

    /// Segments handed over as they are decoded arrive in order, the same as
    /// decoding the whole batch, after the pair count; and a batch whose
    /// segments cannot all be handed over fails the same way both ways.
    @Test func segmentsArriveInOrderAsTheyAreDecoded() async {
        await propertyCheck(count: 300, input: batchItemsGen, Gen.int(in: 1...12)) { items, segments in
            let bytes = SegmentedBatch.encode(keys: items.map(\.0), values: items.map(\.1), segments: segments)
            var promised: Int?
            var delivered: [SegmentedBatch.Segment<String, ORMap<Int, Int>>] = []
            do {
                try SegmentedBatch.decode(bytes, as: (String, ORMap<Int, Int>).self,
                                          start: { promised = $0 }, each: { delivered.append($0) })
            } catch {
                Issue.record("a batch of \(items.count) items in \(segments) segments failed to decode: \(error)")
            }
            #expect(promised == items.count)
            #expect(delivered == (try? decodeBatch(bytes).get()))
            #expect(delivered.flatMap(\.keys) == items.map(\.0))
            #expect(delivered.flatMap(\.values) == items.map(\.1))
        }
    }

    /// A damaged segment stops the delivery there: the segments before it
    /// have arrived, none after, and its error is thrown.
    @Test(arguments: [0, 2, 7])
    func aDamagedSegmentStopsDelivery(damaged: Int) throws {
        let keys = (0..<800).map { "case-\($0)" }
        let values = keys.indices.map { i in
            var map = ORMap<Int, Int>()
            map.set(i % 7, i, time: HLCTimestamp(wallMillis: UInt64(i + 1)), replica: replicaID(i % 3))
            return map
        }
        var bytes = SegmentedBatch.encode(keys: keys, values: values, segments: 8)
        let layout = try SegmentedBatch.Layout(of: bytes)
        // The segment's last byte (the end of a varint) now says "more follows".
        bytes[layout.ranges[damaged].upperBound - 1] |= 0x80
        var delivered: [SegmentedBatch.Segment<String, ORMap<Int, Int>>] = []
        #expect(throws: CodecError.self) {
            try SegmentedBatch.decode(bytes, as: (String, ORMap<Int, Int>).self, each: { delivered.append($0) })
        }
        #expect(delivered.map(\.count) == Array(repeating: 100, count: damaged))
        #expect(delivered.flatMap(\.keys) == Array(keys.prefix(100 * damaged)))
        #expect(throws: CodecError.self) { try SegmentedBatch.decode(bytes, as: (String, ORMap<Int, Int>).self) }
    }

    @Test func anEmptyBatchIsOneEmptySegment() throws {
        let bytes = SegmentedBatch.encode(keys: [String](), values: [ORMap<Int, Int>](), segments: 4)
        let decoded = try SegmentedBatch.decode(bytes, as: (String, ORMap<Int, Int>).self)
        #expect(decoded.count == 1)
        #expect(decoded[0].count == 0)
    }

    @Test func splitCoversEveryItemOnce() {
        for count in 0...50 {
            for parts in 1...8 {
                let ranges = SegmentedBatch.split(count, into: parts)
                #expect(ranges.count == parts)
                #expect(ranges.flatMap { Array($0) } == Array(0..<count))
                #expect(ranges.map(\.count).max()! - ranges.map(\.count).min()! <= 1)
            }
        }
    }

    /// The writer owns a growing buffer: many writes from a tiny capacity read back unchanged.
    @Test func writerGrowsFromTinyCapacity() throws {
        var writer = ByteWriter(canonical: false, capacity: 1)
        let values = (0..<10_000).map { UInt64($0) &* 0x9E37_79B9_7F4A_7C15 }
        writer.write(varint: UInt64(values.count))
        for value in values { writer.write(varint: value) }
        writer.write(string: String(repeating: "é", count: 5_000))
        var reader = try ByteReader(writer.finish())
        #expect(try reader.readVarint() == UInt64(values.count))
        for value in values { #expect(try reader.readVarint() == value) }
        #expect(try reader.readString() == String(repeating: "é", count: 5_000))
        #expect(reader.isAtEnd)
    }
}
