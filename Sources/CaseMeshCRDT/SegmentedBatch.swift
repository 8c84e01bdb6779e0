import Foundation

/// Many keyed states (every case of a replica, say) in one document, cut into
/// segments that are encoded and decoded on separate threads.
///
/// Shipping a whole replica is dominated by building and walking millions of
/// small values, which one core does no faster however the bytes are laid out;
/// segments let every core take a share. Each segment is a complete
/// `ByteWriter` batch document (its own replica table; a field name or status
/// is read once per segment, not once per case, and timestamps are written as
/// differences), so a segment decodes without the others.
///
/// Both directions block the calling thread until every segment is done
/// (they wait for Dispatch worker threads); from async code, call them
/// outside the cooperative pool when the batch is large.
///
/// Layout: varint segment count, the number of pairs in all segments (so a
/// reader can make room before the first segment is decoded), then each
/// segment's byte length (varints), then the segments; a segment is a count
/// and that many (key, value) pairs.
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
        let parts = Parallel.map(segments) { segment in
            let range = bounds[segment]
            var writer = ByteWriter(canonical: false, capacity: 16 + range.count * 128, batch: true)
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
        header.write(varint: UInt64(keys.count))
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
        var segments: [Segment<Key, Value>] = []
        try decode(bytes, as: (Key, Value).self, each: { segments.append($0) })
        return segments
    }

    /// Decodes a batch and hands each segment to `body` on the calling
    /// thread, in document order, as soon as it is decoded, while the other
    /// cores decode the segments after it. Merging a replica this way joins
    /// the first segments while the last are still being read. Waiting for a
    /// segment, the calling thread decodes one itself, so no core is left
    /// idle and no more threads run than there are cores.
    ///
    /// `start` is called first, with the number of pairs the header counts
    /// (to make room for them). If a segment is malformed, the segments
    /// before it have been handed to `body`, none after it, and its error is
    /// thrown. (Joining part of a replica's state is a correct, if partial,
    /// merge.) If the segments hold another number of pairs than the header
    /// counts, that is thrown after the last one.
    public static func decode<Key: BinaryDecodable & Sendable, Value: BinaryDecodable & Sendable>(
        _ bytes: [UInt8], as: (Key, Value).Type = (Key, Value).self,
        start: (_ pairs: Int) -> Void = { _ in }, each body: (consuming Segment<Key, Value>) -> Void
    ) throws(CodecError) {
        let layout = try Layout(of: bytes)
        let ranges = layout.ranges
        start(layout.pairs)
        let queue = DecodeQueue(count: ranges.count) { index in decodeSegment(bytes, ranges[index], as: (Key, Value).self) }
        let helpers = DispatchGroup()
        let helperCount = min(ProcessInfo.processInfo.activeProcessorCount - 1, ranges.count - 1)
        if helperCount > 0 {
            DispatchQueue.global().async(group: helpers) {
                DispatchQueue.concurrentPerform(iterations: helperCount) { _ in
                    while queue.decodeNext() {}
                }
            }
        }
        // The helpers finish (or stop claiming) before the batch may go.
        defer {
            queue.stop()
            helpers.wait()
        }
        var pairs = 0
        for index in ranges.indices {
            switch queue.take(index) {
            case let .success(segment):
                pairs += segment.count
                body(segment)
            case let .failure(error):
                throw error
            }
        }
        try layout.check(pairs: pairs)
    }

    /// What a batch's header says: how many pairs, and where each segment lies.
    struct Layout {
        var pairs: Int
        var ranges: [Range<Int>]

        init(of bytes: [UInt8]) throws(CodecError) {
            var header = try ByteReader(bytes, range: 0..<bytes.count, replicaTable: false)
            let count = try header.readCount(minimumItemSize: 1)
            guard count >= 1 else { throw .invalidValue("a batch with no segments") }
            guard count <= maximumSegments else { throw .invalidValue("\(count) segments, more than \(maximumSegments)") }
            // Every pair takes at least two bytes, so a hostile count cannot
            // make a reader reserve more than the batch could hold.
            pairs = try header.readCount(minimumItemSize: 2)
            var lengths: [Int] = []
            lengths.reserveCapacity(count)
            for _ in 0..<count { lengths.append(try header.readCount(minimumItemSize: 0)) }
            ranges = []
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
        }

        func check(pairs found: Int) throws(CodecError) {
            guard found == pairs else { throw .invalidValue("the header counts \(pairs) pairs, the segments hold \(found)") }
        }
    }

    static func decodeSegment<Key: BinaryDecodable & Sendable, Value: BinaryDecodable & Sendable>(
        _ bytes: [UInt8], _ range: Range<Int>, as: (Key, Value).Type
    ) -> Result<Segment<Key, Value>, CodecError> {
        do throws(CodecError) {
            var reader = try ByteReader(bytes, range: range, batch: true)
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
}

extension SegmentedBatch.Segment: Equatable where Key: Equatable, Value: Equatable {}

/// Segments waiting to be decoded, claimed one at a time by whichever thread
/// is free, and their results, each taken once by the thread that joins them.
private final class DecodeQueue<T: Sendable>: @unchecked Sendable {
    // `next` is guarded by `lock`. Each slot is written once, before its
    // semaphore is signalled, and read once, after waiting on it: the
    // semaphore orders the two.
    private let lock = NSLock()
    private var next = 0
    private let count: Int
    private let results: UnsafeMutableBufferPointer<T?>
    private let ready: [DispatchSemaphore]
    private let decode: @Sendable (Int) -> T

    init(count: Int, decode: @escaping @Sendable (Int) -> T) {
        self.count = count
        self.decode = decode
        results = .allocate(capacity: count)
        results.initialize(repeating: nil)
        ready = (0..<count).map { _ in DispatchSemaphore(value: 0) }
    }

    deinit {
        results.deinitialize()
        results.deallocate()
    }

    /// Decodes the next segment nobody has claimed; false when none is left.
    func decodeNext() -> Bool {
        lock.lock()
        let index = next
        if index < count { next += 1 }
        lock.unlock()
        guard index < count else { return false }
        results[index] = decode(index)
        ready[index].signal()
        return true
    }

    /// Segment `index`'s result, decoding others while it is not there yet.
    func take(_ index: Int) -> T {
        while ready[index].wait(timeout: .now()) == .timedOut {
            if !decodeNext() {
                ready[index].wait()
                break
            }
        }
        defer { results[index] = nil }
        return results[index]!
    }

    /// Leaves the segments nobody has claimed undecoded.
    func stop() {
        lock.lock()
        next = count
        lock.unlock()
    }
}
