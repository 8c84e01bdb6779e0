import Foundation

/// Many keyed states (every case of a replica, say) in one document, cut into
/// segments that are encoded and decoded on separate threads.
///
/// Shipping a whole replica is dominated by building and walking millions of
/// small values, which one core does no faster however the bytes are laid out;
/// segments let every core take a share. Each segment is a complete
/// `ByteWriter` document (its own replica table) that shares its text (a
/// field name or status is read once per segment, not once per case; see
/// `TextTable`), so a segment decodes without the others.
///
/// Both directions block the calling thread until every segment is done
/// (they use `DispatchQueue.concurrentPerform`); from async code, call them
/// outside the cooperative pool when the batch is large.
///
/// Layout: varint segment count, then each segment's byte length (varints),
/// then the segments; a segment is a count and that many (key, value) pairs.
/// The pairs come back in the order they were given.
public enum SegmentedBatch {
    /// More segments than this is a hostile document, not a large one.
    public static let maximumSegments = 256

    /// How many segments `encode` makes by default: four per active core.
    /// With one per core, the whole batch waits for the slowest thread; with
    /// several, a thread that finishes early takes the next segment.
    public static var defaultSegmentCount: Int { max(1, min(4 * ProcessInfo.processInfo.activeProcessorCount, maximumSegments)) }

    /// Encodes `keys[i]` with `values[i]` for every i, in order, in the fast
    /// (non-canonical) encoding, `segments` parts encoded in parallel.
    public static func encode<Key: BinaryEncodable & Sendable, Value: BinaryEncodable & Sendable>(
        keys: [Key], values: [Value], segments requested: Int = defaultSegmentCount
    ) -> [UInt8] {
        precondition(keys.count == values.count, "one value per key")
        let segments = max(1, min(requested, maximumSegments, max(keys.count, 1)))
        let bounds = split(keys.count, into: segments)
        let parts = parallelMap(segments) { segment in
            let range = bounds[segment]
            var writer = ByteWriter(canonical: false, capacity: 16 + range.count * 128, sharedText: true)
            writer.write(varint: UInt64(range.count))
            // Through the buffers, each pair is borrowed rather than copied (a
            // copy would retain and release everything the value holds).
            keys.withUnsafeBufferPointer { keys in
                values.withUnsafeBufferPointer { values in
                    for index in range {
                        keys[index].encode(to: &writer)
                        values[index].encode(to: &writer)
                    }
                }
            }
            return writer.finish()
        }
        var header = ByteWriter(canonical: false, capacity: 8 + segments * 5)
        header.write(varint: UInt64(segments))
        for part in parts { header.write(varint: UInt64(part.count)) }
        var output = header.bytes
        output.reserveCapacity(output.count + parts.reduce(0) { $0 + $1.count })
        for part in parts { output.append(contentsOf: part) }
        return output
    }

    /// Decodes a batch, its segments in parallel. Every segment must be well
    /// formed and fill its length exactly, and the lengths must fill the
    /// document; otherwise the first segment's error (in document order) is thrown.
    public static func decode<Key: BinaryDecodable & Sendable, Value: BinaryDecodable & Sendable>(
        _ bytes: [UInt8], as: (Key, Value).Type = (Key, Value).self
    ) throws(CodecError) -> [Segment<Key, Value>] {
        var header = try ByteReader(bytes, range: 0..<bytes.count, replicaTable: false)
        let count = try header.readCount(minimumItemSize: 1)
        guard count >= 1 else { throw .invalidValue("a batch with no segments") }
        guard count <= maximumSegments else { throw .invalidValue("\(count) segments, more than \(maximumSegments)") }
        var lengths: [Int] = []
        lengths.reserveCapacity(count)
        for _ in 0..<count { lengths.append(try header.readCount(minimumItemSize: 0)) }
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(count)
        var start = header.position
        for (index, length) in lengths.enumerated() {
            // Even an empty segment has its replica table and pair count.
            guard length >= 1 else { throw .invalidValue("segment \(index + 1) of \(count) is empty") }
            guard length <= bytes.count - start else {
                throw .truncated(needed: length, remaining: bytes.count - start)
            }
            ranges.append(start..<(start + length))
            start += length
        }
        guard start == bytes.count else { throw .trailingBytes(bytes.count - start) }
        let segmentRanges = ranges
        let results = parallelMap(count) { segment -> Result<Segment<Key, Value>, CodecError> in
            do throws(CodecError) {
                var reader = try ByteReader(bytes, range: segmentRanges[segment], sharedText: true)
                let pairs = try reader.readCount(minimumItemSize: 2)
                var decoded = Segment<Key, Value>(capacity: pairs)
                for _ in 0..<pairs {
                    decoded.keys.append(try Key(from: &reader))
                    decoded.values.append(try Value(from: &reader))
                }
                guard reader.isAtEnd else { throw .trailingBytes(reader.remaining) }
                return .success(decoded)
            } catch {
                return .failure(error)
            }
        }
        var segments: [Segment<Key, Value>] = []
        segments.reserveCapacity(count)
        for result in results {
            switch result {
            case let .success(segment): segments.append(segment)
            case let .failure(error): throw error
            }
        }
        return segments
    }

    /// One decoded segment: `keys[i]` goes with `values[i]`.
    public struct Segment<Key: Sendable, Value: Sendable>: Sendable {
        public var keys: [Key]
        public var values: [Value]
        init(capacity: Int) {
            keys = []
            values = []
            keys.reserveCapacity(capacity)
            values.reserveCapacity(capacity)
        }
        public var count: Int { keys.count }
    }

    /// `count` items cut into `parts` contiguous ranges whose sizes differ by at most one.
    static func split(_ count: Int, into parts: Int) -> [Range<Int>] {
        (0..<parts).map { part in (count * part / parts)..<(count * (part + 1) / parts) }
    }

    /// `body(0..<count)` run on as many threads as there are cores, results in order.
    static func parallelMap<T: Sendable>(_ count: Int, _ body: @Sendable (Int) -> T) -> [T] {
        if count == 1 { return [body(0)] }
        let slots = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
        slots.initialize(repeating: nil)
        defer { slots.deinitialize(); slots.deallocate() }
        nonisolated(unsafe) let shared = slots
        DispatchQueue.concurrentPerform(iterations: count) { index in
            shared[index] = body(index)  // each iteration writes only its own slot
        }
        return slots.map { $0! }
    }
}

extension SegmentedBatch.Segment: Equatable where Key: Equatable, Value: Equatable {}
