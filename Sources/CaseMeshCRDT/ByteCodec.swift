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
public struct ByteWriter: Sendable {
    public var bytes: [UInt8]
    public let canonical: Bool

    public init(canonical: Bool = false, capacity: Int = 64) {
        self.canonical = canonical
        bytes = []
        bytes.reserveCapacity(capacity)
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
        var s = canonical && !string.utf8.allSatisfy({ $0 < 0x80 }) ? string.precomposedStringWithCanonicalMapping : string
        s.withUTF8 { buffer in
            write(varint: UInt64(buffer.count))
            bytes.append(contentsOf: buffer)
        }
    }

    public mutating func write<T: BinaryEncodable>(_ value: T) { value.encode(to: &self) }
}

/// Reads what `ByteWriter` wrote, checking every length against what is left
/// so hostile input cannot make it allocate or read out of bounds.
public struct ByteReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var position: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        position = 0
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
        let slice = try readBytes()
        guard let string = String(validating: slice, as: UTF8.self) else { throw .invalidUTF8 }
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
        var writer = ByteWriter(canonical: true)
        encode(to: &writer)
        return writer.bytes
    }

    /// The fast encoding, for transfer and storage.
    public var encodedBytes: [UInt8] {
        var writer = ByteWriter(canonical: false)
        encode(to: &writer)
        return writer.bytes
    }
}

extension BinaryDecodable {
    /// Decodes a value that must occupy all of `bytes`.
    public init(decoding bytes: [UInt8]) throws(CodecError) {
        var reader = ByteReader(bytes)
        self = try Self(from: &reader)
        guard reader.isAtEnd else { throw .trailingBytes(reader.remaining) }
    }
}
