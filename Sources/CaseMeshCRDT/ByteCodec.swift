import Foundation

/// Why a byte string could not be decoded. Decoding never traps: every
/// malformed input ends in one of these.
public enum CodecError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated(needed: Int, remaining: Int)
    case malformedVarint
    case invalidUTF8
    case invalidValue(String)
    case trailingBytes(Int)

    public var description: String {
        switch self {
        case let .truncated(needed, remaining): return "input ends early: needed \(needed) more bytes, \(remaining) left"
        case .malformedVarint: return "malformed variable-length integer"
        case .invalidUTF8: return "text is not valid UTF-8"
        case let .invalidValue(what): return "invalid value: \(what)"
        case let .trailingBytes(count): return "\(count) unexpected bytes after the value"
        }
    }
}

/// Appends a compact binary encoding. In `canonical` mode unordered
/// collections are written in sorted order, so equal values give equal bytes
/// (what digests hash); otherwise they are written in iteration order, which
/// is faster and decodes to the same value.
///
/// Replica ids recur in every dot, so they are written once, in a table that
/// `finish()` puts in front of the body, and referred to by index.
///
/// A `batch` document (thousands of cases, written for one reader and read
/// front to back) is smaller and quicker to read, at the price of every
/// value depending on what came before it:
/// - text that recurs (field names, statuses, customers) is written in full
///   twice and then referred to, so the reader builds each such string once
///   instead of once per use; see `TextTable`;
/// - a timestamp's milliseconds are written as the difference from the
///   timestamp before it: one byte for the writes of one case, not six.
/// Only the reader of such a document knows to expect it, so stored and
/// canonical encodings never use it.
///
/// The writer owns its buffer and cannot be copied, so a byte is written with
/// a capacity check and a store; an array would also check on every append
/// that no copy shares its storage, which made that check a large part of
/// encoding.
public struct ByteWriter: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// How many body bytes are written so far (without the replica table).
    public private(set) var count: Int
    public let canonical: Bool
    private var replicas: [ReplicaID] = []
    private var replicaIndex: [ReplicaID: Int] = [:]
    /// The replica written last and its index: dots of one replica run together.
    private var lastReplica: ReplicaID?
    private var lastReplicaIndex = 0
    private var text: TextTable.Writer
    /// Whether this is a batch document (see above), and the last timestamp
    /// it wrote, in milliseconds.
    private let batch: Bool
    private var lastMillis: UInt64 = 0

    public init(canonical: Bool = false, capacity: Int = 64, batch: Bool = false) {
        precondition(!(canonical && batch), "canonical bytes cannot depend on what came before")
        self.canonical = canonical
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
        count = 0
        text = TextTable.Writer(enabled: batch)
        self.batch = batch
    }

    deinit { base.deallocate() }

    /// The body written so far (without the replica table).
    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// The finished document: the replica table, then the body.
    public func finish() -> [UInt8] {
        var output = replicaTable
        output.append(contentsOf: UnsafeBufferPointer(start: base, count: count))
        return output
    }

    private var replicaTable: [UInt8] {
        var table = ByteWriter(canonical: canonical, capacity: 1 + replicas.count * 8)
        table.write(varint: UInt64(replicas.count))
        for replica in replicas { table.write(string: replica.rawValue) }
        return table.bytes
    }

    /// Writes a replica id as its index in the document's replica table.
    public mutating func write(replica: ReplicaID) {
        if lastReplica != replica {
            lastReplicaIndex = tableIndex(of: replica)
            lastReplica = replica
        }
        write(varint: UInt64(lastReplicaIndex))
    }

    /// The index of `replica` in the replica table, adding it if it is new.
    private mutating func tableIndex(of replica: ReplicaID) -> Int {
        if replicas.count <= 16 {
            for (index, known) in replicas.enumerated() where known == replica { return index }
        } else if let index = replicaIndex[replica] {
            return index
        }
        let index = replicas.count
        replicas.append(replica)
        if replicas.count > 16 {
            if replicaIndex.isEmpty { for (i, known) in replicas.enumerated() { replicaIndex[known] = i } } else { replicaIndex[replica] = index }
        }
        return index
    }

    /// Makes room for `extra` more bytes.
    @inline(__always)
    private mutating func reserve(_ extra: Int) {
        if capacity - count < extra { grow(extra) }
    }

    @inline(never)
    private mutating func grow(_ extra: Int) {
        let newCapacity = max(capacity * 2, count + extra)
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    @inline(__always)
    public mutating func write(byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    /// LEB128 unsigned varint.
    @inline(__always)
    public mutating func write(varint value: UInt64) {
        reserve(10)
        var v = value
        var at = count
        while v >= 0x80 {
            base[at] = UInt8(truncatingIfNeeded: v) | 0x80
            v >>= 7
            at += 1
        }
        base[at] = UInt8(v)
        count = at + 1
    }

    /// A timestamp's milliseconds: in a batch, as the zig-zag difference from
    /// the last one (wrapping, so every value has one).
    public mutating func write(millis: UInt64) {
        guard batch else { return write(varint: millis) }
        let difference = Int64(bitPattern: millis &- lastMillis)
        lastMillis = millis
        write(varint: UInt64(bitPattern: (difference << 1) ^ (difference >> 63)))
    }

    public mutating func write(bytes other: some Collection<UInt8>) {
        write(varint: UInt64(other.count))
        append(other)
    }

    private mutating func append(_ other: some Collection<UInt8>) {
        reserve(other.count)
        let copied: Void? = other.withContiguousStorageIfAvailable { buffer in
            if let source = buffer.baseAddress { (base + count).update(from: source, count: buffer.count) }
        }
        if copied == nil {
            var at = count
            for byte in other { base[at] = byte; at += 1 }
        }
        count += other.count
    }

    public mutating func write(string: String) {
        // Canonical bytes must be equal for strings Swift considers equal, so
        // non-ASCII text is written in Unicode NFC there.
        if canonical && !Self.isASCII(string) {
            writeUTF8(string.precomposedStringWithCanonicalMapping)
        } else if text.isEnabled {
            writeShared(string)
        } else {
            writeUTF8(string)
        }
    }

    /// Whether `string` is all ASCII, eight bytes at a time where its UTF-8
    /// is contiguous (native strings): a case's notes are most of its bytes,
    /// and the canonical encoding checks every one of them on every write.
    static func isASCII(_ string: String) -> Bool {
        string.utf8.withContiguousStorageIfAvailable(ByteReader.isASCII) ?? string.utf8.allSatisfy { $0 < 0x80 }
    }

    /// A reference to an earlier copy of `string`, or `string` itself (which
    /// the reader then adds to its table).
    private mutating func writeShared(_ string: String) {
        let keep: UInt64
        switch text.reference(to: string) {
        case let .earlier(index):
            write(varint: UInt64(index) << 1 | 1)
            return
        case .keep: keep = 2
        case .once: keep = 0
        }
        let utf8 = string.utf8
        write(varint: UInt64(utf8.count) << 2 | keep)
        append(utf8)
    }

    @inline(__always)
    private mutating func writeUTF8(_ string: String) {
        let utf8 = string.utf8
        write(varint: UInt64(utf8.count))
        append(utf8)
    }

    public mutating func write<T: BinaryEncodable>(_ value: T) { value.encode(to: &self) }
}

/// Reads what `ByteWriter.finish()` produced, checking every length against
/// what is left so hostile input cannot make it allocate or read out of bounds.
public struct ByteReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var position: Int
    /// Where the document ends: `bytes.count`, or the end of its part of a batch.
    private let end: Int
    private var replicas: [ReplicaID] = []
    /// While the store of a causal state is read (see `beginHeldDots`): for
    /// each replica of the table, the counter up to which the state's
    /// version vector covers it, and the held dots above that, which only
    /// its cloud can cover. Checking here, as the dots are read, costs a
    /// comparison per dot instead of a second walk over the decoded store.
    private var heldDotBounds: [UInt64] = []
    private var heldDotsBeyondBounds: [Dot] = []
    private var checksHeldDots = false
    /// The version vector read last, which an equal one shares.
    var lastVersionVector = VersionVector()
    /// Whether the document is a batch (see `ByteWriter`): the text it has
    /// asked to keep, and its last timestamp.
    private let batch: Bool
    private var text: [String] = []
    private var lastMillis: UInt64 = 0

    /// Starts reading a document: parses its replica table.
    public init(_ bytes: [UInt8]) throws(CodecError) {
        try self.init(bytes, range: 0..<bytes.count)
    }

    /// Starts reading a document that occupies `range` of `bytes` (one segment
    /// of a `SegmentedBatch`), without copying it out. Without a replica
    /// table (a batch's own header), reading a replica id fails.
    /// `batch` must match how the document was written.
    public init(_ bytes: [UInt8], range: Range<Int>, replicaTable: Bool = true, batch: Bool = false) throws(CodecError) {
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count, "reader range outside the buffer")
        self.bytes = bytes
        self.batch = batch
        position = range.lowerBound
        end = range.upperBound
        if replicaTable {
            let count = try readCount(minimumItemSize: 2)
            replicas.reserveCapacity(count)
            for _ in 0..<count {
                // The table is written in full even when the body shares text.
                let raw = try readText(count: try readCount())
                do { replicas.append(try ReplicaID(validating: raw)) } catch { throw .invalidValue(error.description) }
            }
        }
    }

    public mutating func readReplica() throws(CodecError) -> ReplicaID {
        replicas[try readReplicaIndex()]
    }

    @inline(__always)
    private mutating func readReplicaIndex() throws(CodecError) -> Int {
        let index = try readVarint()
        guard index < UInt64(replicas.count) else { throw .invalidValue("replica index \(index) outside the table of \(replicas.count)") }
        return Int(index)
    }

    /// Reads a dot: a replica and a counter in 1...Int64.max. Counters
    /// beyond Int64 never occur (they are stored as SQLite integers) and
    /// would let a peer make our next dot overflow.
    mutating func readDot() throws(CodecError) -> Dot {
        try readDot(held: false)
    }

    /// Reads a dot that a dot store holds. Between `beginHeldDots` and
    /// `endHeldDots`, one its state's context may not have seen is noted.
    @inline(__always)
    mutating func readHeldDot() throws(CodecError) -> Dot {
        try readDot(held: true)
    }

    @inline(__always)
    private mutating func readDot(held: Bool) throws(CodecError) -> Dot {
        let index = try readReplicaIndex()
        let counter = try readVarint()
        guard counter > 0 else { throw .invalidValue("dot counter 0") }
        guard counter <= UInt64(Int64.max) else { throw .invalidValue("dot counter \(counter) out of range") }
        let dot = Dot(replicas[index], counter)
        if held && checksHeldDots && counter > heldDotBounds[index] { heldDotsBeyondBounds.append(dot) }
        return dot
    }

    /// Starts checking the dots a causal state holds against its context,
    /// which has just been read: every dot a state holds must be one its
    /// context has seen (joins rely on it). States do not nest.
    mutating func beginHeldDots(within context: CausalContext) {
        if heldDotBounds.count != replicas.count { heldDotBounds = Array(repeating: 0, count: replicas.count) }
        for index in replicas.indices { heldDotBounds[index] = context.versionVector[replicas[index]] }
        heldDotsBeyondBounds.removeAll(keepingCapacity: true)
        checksHeldDots = true
    }

    /// Ends the check begun by `beginHeldDots`, returning a held dot that
    /// `context` has not seen, if there is one.
    mutating func endHeldDots(within context: CausalContext) -> Dot? {
        checksHeldDots = false
        return heldDotsBeyondBounds.first { !context.contains($0) }
    }

    public var remaining: Int { end - position }
    public var isAtEnd: Bool { position == end }

    @inline(__always)
    public mutating func readByte() throws(CodecError) -> UInt8 {
        guard position < end else { throw .truncated(needed: 1, remaining: 0) }
        defer { position += 1 }
        return bytes[position]
    }

    @inline(__always)
    public mutating func readVarint() throws(CodecError) -> UInt64 {
        // Most varints (counts, indices, small counters) are one byte.
        if position < end, bytes[position] < 0x80 {
            defer { position += 1 }
            return UInt64(bytes[position])
        }
        return try readLongVarint()
    }

    @inline(never)
    private mutating func readLongVarint() throws(CodecError) -> UInt64 {
        // Up to 8 bytes (56 bits: timestamps, counters) from one load, with
        // no loop, when the document has 8 bytes left.
        if end - position >= 8 {
            let start = position
            let word = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: start, as: UInt64.self)) }
            let stops = ~word & 0x8080_8080_8080_8080
            if stops != 0 {
                let length = stops.trailingZeroBitCount / 8 + 1
                // Reject non-minimal encodings (a trailing zero group) so that
                // one value has exactly one encoding.
                if length > 1 && (word >> (8 * UInt64(length - 1))) & 0xFF == 0 { throw .malformedVarint }
                var value = word & ((1 << (8 * UInt64(length))) &- 1) & 0x7F7F_7F7F_7F7F_7F7F
                // Close the gaps between the 7-bit groups: pairs, then fours, then eights.
                value = (value & 0x007F_007F_007F_007F) | ((value & 0x7F00_7F00_7F00_7F00) >> 1)
                value = (value & 0x0000_3FFF_0000_3FFF) | ((value & 0x3FFF_0000_3FFF_0000) >> 2)
                value = (value & 0x0000_0000_0FFF_FFFF) | ((value & 0x0FFF_FFFF_0000_0000) >> 4)
                position = start + length
                return value
            }
        }
        // A local cursor, committed once: none of the per-byte bookkeeping of
        // `readByte`.
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var at = position
        defer { position = at }
        while at < end {
            let byte = bytes[at]
            at += 1
            if shift == 63 && byte > 1 { throw .malformedVarint }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 {
                // Reject non-minimal encodings (a trailing zero group) so that
                // one value has exactly one encoding.
                if byte == 0 && shift > 0 { throw .malformedVarint }
                return result
            }
            shift += 7
            if shift > 63 { throw .malformedVarint }
        }
        throw .truncated(needed: 1, remaining: 0)
    }

    /// A timestamp's milliseconds (see `ByteWriter.write(millis:)`).
    @inline(__always)
    public mutating func readMillis() throws(CodecError) -> UInt64 {
        let raw = try readVarint()
        guard batch else { return raw }
        lastMillis &+= UInt64(bitPattern: Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1))
        return lastMillis
    }

    /// A count of following items, each at least `minimumItemSize` bytes long.
    @inline(__always)
    public mutating func readCount(minimumItemSize: Int = 1) throws(CodecError) -> Int {
        let value = try readVarint()
        let needed = value.multipliedReportingOverflow(by: UInt64(max(minimumItemSize, 0)))
        guard !needed.overflow, needed.partialValue <= UInt64(remaining) else {
            throw .truncated(needed: needed.overflow ? Int.max : Int(clamping: needed.partialValue), remaining: remaining)
        }
        return Int(value)
    }

    public mutating func readBytes() throws(CodecError) -> ArraySlice<UInt8> {
        let count = try readCount()
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    public mutating func readString() throws(CodecError) -> String {
        guard batch else { return try readText(count: try readCount()) }
        let tag = try readVarint()
        if tag & 1 == 1 {
            let index = Int(truncatingIfNeeded: tag >> 1)
            guard index < text.count else { throw .invalidValue("text reference \(index) outside the \(text.count) kept so far") }
            return text[index]
        }
        let count = Int(truncatingIfNeeded: tag >> 2)
        guard count <= remaining else { throw .truncated(needed: count, remaining: remaining) }
        let string = try readText(count: count)
        if tag & 2 != 0 { text.append(string) }
        return string
    }

    /// `count` bytes of UTF-8 text (already checked to be there).
    private mutating func readText(count: Int) throws(CodecError) -> String {
        let start = position
        position += count
        // Work on the buffer directly: no slice (and no retain) per string.
        let string: String? = bytes.withUnsafeBufferPointer { all in
            let buffer = UnsafeBufferPointer(rebasing: all[start..<(start + count)])
            if Self.isASCII(buffer) { return String(decoding: buffer, as: UTF8.self) }
            return String(validating: buffer, as: UTF8.self)
        }
        guard let string else { throw .invalidUTF8 }
        return string
    }

    /// Whether every byte is below 0x80, eight bytes per step.
    @inline(__always)
    static func isASCII(_ buffer: UnsafeBufferPointer<UInt8>) -> Bool {
        let raw = UnsafeRawBufferPointer(buffer)
        var offset = 0
        var high: UInt64 = 0
        while offset + 8 <= raw.count {
            high |= raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            offset += 8
        }
        if offset < raw.count {
            if raw.count >= 8 {
                // The last eight bytes in one load (some already checked).
                high |= raw.loadUnaligned(fromByteOffset: raw.count - 8, as: UInt64.self)
            } else {
                for byte in raw { high |= UInt64(byte) }
            }
        }
        return high & 0x8080_8080_8080_8080 == 0
    }

    public mutating func read<T: BinaryDecodable>(_ type: T.Type = T.self) throws(CodecError) -> T {
        try T(from: &self)
    }
}

public protocol BinaryEncodable {
    func encode(to writer: inout ByteWriter)
}

public protocol BinaryDecodable {
    init(from reader: inout ByteReader) throws(CodecError)
}

public typealias BinaryCodable = BinaryEncodable & BinaryDecodable

extension BinaryEncodable {
    /// The canonical encoding: equal values give equal bytes.
    public var canonicalBytes: [UInt8] {
        var writer = ByteWriter(canonical: true, capacity: 256)
        encode(to: &writer)
        return writer.finish()
    }

    /// The fast encoding, for transfer and storage.
    public var encodedBytes: [UInt8] {
        var writer = ByteWriter(canonical: false, capacity: 256)
        encode(to: &writer)
        return writer.finish()
    }
}

extension BinaryDecodable {
    /// Decodes a value that must occupy all of `bytes`.
    public init(decoding bytes: [UInt8]) throws(CodecError) {
        var reader = try ByteReader(bytes)
        self = try Self(from: &reader)
        guard reader.isAtEnd else { throw .trailingBytes(reader.remaining) }
    }
}
