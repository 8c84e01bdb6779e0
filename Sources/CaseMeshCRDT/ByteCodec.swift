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
public struct ByteWriter: Sendable {
    /// The body written so far (without the replica table).
    public private(set) var bytes: [UInt8]
    public let canonical: Bool
    private var replicas: [ReplicaID] = []
    private var replicaIndex: [ReplicaID: Int] = [:]

    public init(canonical: Bool = false, capacity: Int = 64) {
        self.canonical = canonical
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// The finished document: the replica table, then the body.
    public func finish() -> [UInt8] {
        var header = ByteWriter(canonical: canonical, capacity: 1 + replicas.count * 8 + bytes.count)
        header.write(varint: UInt64(replicas.count))
        for replica in replicas { header.write(string: replica.rawValue) }
        header.bytes.append(contentsOf: bytes)
        return header.bytes
    }

    /// Writes a replica id as its index in the document's replica table.
    public mutating func write(replica: ReplicaID) {
        if replicas.count <= 16 {
            for (index, known) in replicas.enumerated() where known == replica {
                write(varint: UInt64(index))
                return
            }
        } else if let index = replicaIndex[replica] {
            write(varint: UInt64(index))
            return
        }
        let index = replicas.count
        replicas.append(replica)
        if replicas.count > 16 {
            if replicaIndex.isEmpty { for (i, known) in replicas.enumerated() { replicaIndex[known] = i } } else { replicaIndex[replica] = index }
        }
        write(varint: UInt64(index))
    }

    @inline(__always)
    public mutating func write(byte: UInt8) { bytes.append(byte) }

    /// LEB128 unsigned varint.
    @inline(__always)
    public mutating func write(varint value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    public mutating func write(bytes other: some Collection<UInt8>) {
        write(varint: UInt64(other.count))
        bytes.append(contentsOf: other)
    }

    public mutating func write(string: String) {
        // Canonical bytes must be equal for strings Swift considers equal, so
        // non-ASCII text is written in Unicode NFC there.
        if canonical && !string.utf8.allSatisfy({ $0 < 0x80 }) {
            writeUTF8(string.precomposedStringWithCanonicalMapping)
        } else {
            writeUTF8(string)
        }
    }

    @inline(__always)
    private mutating func writeUTF8(_ string: String) {
        let utf8 = string.utf8
        write(varint: UInt64(utf8.count))
        if utf8.withContiguousStorageIfAvailable({ bytes.append(contentsOf: $0) }) == nil {
            bytes.append(contentsOf: utf8)
        }
    }

    public mutating func write<T: BinaryEncodable>(_ value: T) { value.encode(to: &self) }
}

/// Reads what `ByteWriter.finish()` produced, checking every length against
/// what is left so hostile input cannot make it allocate or read out of bounds.
public struct ByteReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var position: Int
    private var replicas: [ReplicaID] = []

    /// Starts reading a document: parses its replica table.
    public init(_ bytes: [UInt8]) throws(CodecError) {
        self.bytes = bytes
        position = 0
        let count = try readCount(minimumItemSize: 2)
        replicas.reserveCapacity(count)
        for _ in 0..<count {
            let raw = try readString()
            do { replicas.append(try ReplicaID(validating: raw)) } catch { throw .invalidValue(error.description) }
        }
    }

    public mutating func readReplica() throws(CodecError) -> ReplicaID {
        let index = try readVarint()
        guard index < UInt64(replicas.count) else { throw .invalidValue("replica index \(index) outside the table of \(replicas.count)") }
        return replicas[Int(index)]
    }

    public var remaining: Int { bytes.count - position }
    public var isAtEnd: Bool { position == bytes.count }

    @inline(__always)
    public mutating func readByte() throws(CodecError) -> UInt8 {
        guard position < bytes.count else { throw .truncated(needed: 1, remaining: 0) }
        defer { position += 1 }
        return bytes[position]
    }

    public mutating func readVarint() throws(CodecError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try readByte()
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
    }

    /// A count of following items, each at least `minimumItemSize` bytes long.
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
        let count = try readCount()
        let start = position
        position += count
        // Work on the buffer directly: no slice (and no retain) per string.
        let string: String? = bytes.withUnsafeBufferPointer { all in
            let buffer = UnsafeBufferPointer(rebasing: all[start..<(start + count)])
            var ascii = true
            for byte in buffer where byte >= 0x80 { ascii = false; break }
            if ascii { return String(decoding: buffer, as: UTF8.self) }
            return String(validating: buffer, as: UTF8.self)
        }
        guard let string else { throw .invalidUTF8 }
        return string
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
