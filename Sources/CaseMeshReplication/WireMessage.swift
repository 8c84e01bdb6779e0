import CaseMeshCRDT
import CaseMeshDomain

/// What travels in one frame between two nodes: the transport's hello, then
/// replication messages. The schema (version 1) is in WIRE.md next to this
/// file; every field is checked on decoding, and a frame that does not
/// decode is refused with a `CodecError`, never trusted in part.
public enum WireMessage: Sendable, Equatable {
    /// First frame on a connection, both ways: who we are (must match the
    /// node id in our certificate) and which cluster we belong to.
    case hello(node: ReplicaID, cluster: String)
    case replication(ReplicationMessage)

    /// The wire version this build speaks. A frame of another version is
    /// refused with a clear error rather than misread.
    public static let version: UInt8 = 1

    enum Kind: UInt8 {
        case hello = 1, applied, entries, catchUpOffer, catchUpRequest, catchUpCases, catchUpAck
    }

    /// The frame payload: version, kind, then the fields as one document.
    public var encoded: [UInt8] {
        var writer = ByteWriter(canonical: false, capacity: 64)
        switch self {
        case let .hello(node, cluster):
            writer.write(byte: Kind.hello.rawValue)
            writer.write(replica: node)
            writer.write(string: cluster)
        case let .replication(message):
            switch message {
            case let .applied(positions):
                writer.write(byte: Kind.applied.rawValue)
                Self.write(positions, to: &writer)
            case let .entries(entries):
                writer.write(byte: Kind.entries.rawValue)
                writer.write(varint: UInt64(entries.count))
                for entry in entries {
                    writer.write(replica: entry.origin)
                    writer.write(varint: entry.counter)
                    writer.write(bytes: entry.delta)
                }
            case let .catchUpOffer(session, positions, buckets):
                writer.write(byte: Kind.catchUpOffer.rawValue)
                writer.write(varint: session)
                Self.write(positions, to: &writer)
                writer.write(varint: UInt64(buckets.count))
                for digest in buckets { for byte in digest.bytes { writer.write(byte: byte) } }
            case let .catchUpRequest(session, part, parts, buckets, have):
                writer.write(byte: Kind.catchUpRequest.rawValue)
                writer.write(varint: session)
                writer.write(varint: UInt64(part))
                writer.write(varint: UInt64(parts))
                writer.write(varint: UInt64(buckets.count))
                for bucket in buckets { writer.write(varint: UInt64(bucket)) }
                writer.write(varint: UInt64(have.count))
                for fingerprint in have {
                    Self.write(fixed: fingerprint.id, to: &writer)
                    Self.write(fixed: fingerprint.digest, to: &writer)
                }
            case let .catchUpCases(session, part, last, cases):
                writer.write(byte: Kind.catchUpCases.rawValue)
                writer.write(varint: session)
                writer.write(varint: UInt64(part))
                writer.write(byte: last ? 1 : 0)
                writer.write(varint: UInt64(cases.count))
                for state in cases { writer.write(bytes: state) }
            case let .catchUpAck(session, parts):
                writer.write(byte: Kind.catchUpAck.rawValue)
                writer.write(varint: session)
                writer.write(varint: UInt64(parts))
            }
        }
        return [Self.version] + writer.finish()
    }

    /// Decodes a frame payload, refusing anything malformed.
    public init(decoding frame: [UInt8]) throws(CodecError) {
        guard let version = frame.first else { throw .truncated(needed: 1, remaining: 0) }
        guard version == Self.version else {
            throw .invalidValue("wire version \(version) is not spoken here (this node speaks \(Self.version))")
        }
        var reader = try ByteReader(Array(frame.dropFirst()))
        let tag = try reader.readByte()
        guard let kind = Kind(rawValue: tag) else { throw .invalidValue("unknown message kind \(tag)") }
        switch kind {
        case .hello:
            let node = try reader.readReplica()
            let cluster = try reader.readString()
            guard cluster.utf8.count <= 64 else { throw .invalidValue("cluster name longer than 64 bytes") }
            self = .hello(node: node, cluster: cluster)
        case .applied:
            self = .replication(.applied(try Self.readPositions(&reader)))
        case .entries:
            let count = try reader.readCount(minimumItemSize: 3)
            var entries: [LogEntry] = []
            entries.reserveCapacity(count)
            for _ in 0..<count {
                let origin = try reader.readReplica()
                let counter = try Self.readCounter(&reader)
                entries.append(LogEntry(origin: origin, counter: counter, delta: Array(try reader.readBytes())))
            }
            self = .replication(.entries(entries))
        case .catchUpOffer:
            let session = try reader.readVarint()
            let positions = try Self.readPositions(&reader)
            let count = try reader.readCount(minimumItemSize: 32)
            guard count == CaseBucket.count else { throw .invalidValue("\(count) bucket digests, expected \(CaseBucket.count)") }
            var buckets: [StateDigest] = []
            buckets.reserveCapacity(count)
            for _ in 0..<count { buckets.append(try Self.readDigest(&reader)) }
            self = .replication(.catchUpOffer(session: session, positions: positions, buckets: buckets))
        case .catchUpRequest:
            let session = try reader.readVarint()
            let (part, parts) = try Self.readPart(&reader)
            let bucketCount = try reader.readCount(minimumItemSize: 1)
            guard bucketCount <= CaseBucket.count else { throw .invalidValue("\(bucketCount) buckets requested, at most \(CaseBucket.count) exist") }
            var buckets: [Int] = []
            for _ in 0..<bucketCount {
                let bucket = try reader.readVarint()
                guard bucket < UInt64(CaseBucket.count) else { throw .invalidValue("bucket \(bucket) does not exist") }
                buckets.append(Int(bucket))
            }
            let haveCount = try reader.readCount(minimumItemSize: 16)
            var have: [CaseFingerprint] = []
            have.reserveCapacity(haveCount)
            for _ in 0..<haveCount {
                let fingerprint = CaseFingerprint(id: try Self.readFixed(&reader), digest: try Self.readFixed(&reader))
                guard have.last.map({ $0 < fingerprint }) ?? true else { throw .invalidValue("case fingerprints out of order or repeated") }
                have.append(fingerprint)
            }
            self = .replication(.catchUpRequest(session: session, part: part, parts: parts, buckets: buckets, have: have))
        case .catchUpCases:
            let session = try reader.readVarint()
            let part = try Self.readPartCount(&reader)
            let last = try reader.readByte()
            guard last <= 1 else { throw .invalidValue("last-part flag \(last)") }
            let count = try reader.readCount(minimumItemSize: 1)
            var cases: [[UInt8]] = []
            cases.reserveCapacity(count)
            for _ in 0..<count { cases.append(Array(try reader.readBytes())) }
            self = .replication(.catchUpCases(session: session, part: part, last: last == 1, cases: cases))
        case .catchUpAck:
            let session = try reader.readVarint()
            self = .replication(.catchUpAck(session: session, parts: try Self.readPartCount(&reader)))
        }
        guard reader.isAtEnd else { throw .trailingBytes(reader.remaining) }
    }

    /// A part number and a part count: part < parts, parts ≥ 1.
    private static func readPart(_ reader: inout ByteReader) throws(CodecError) -> (Int, Int) {
        let part = try reader.readVarint()
        let parts = try reader.readVarint()
        guard parts > 0, part < parts, parts <= UInt64(Int32.max) else { throw .invalidValue("part \(part) of \(parts)") }
        return (Int(part), Int(parts))
    }

    /// A part number or a number of parts: below 2³¹.
    private static func readPartCount(_ reader: inout ByteReader) throws(CodecError) -> Int {
        let value = try reader.readVarint()
        guard value <= UInt64(Int32.max) else { throw .invalidValue("part number \(value) out of range") }
        return Int(value)
    }

    private static func write(_ positions: LogPositions, to writer: inout ByteWriter) {
        writer.write(varint: UInt64(positions.count))
        for (origin, counter) in positions.sorted(by: { $0.key < $1.key }) {
            writer.write(replica: origin)
            writer.write(varint: counter)
        }
    }

    private static func readPositions(_ reader: inout ByteReader) throws(CodecError) -> LogPositions {
        let count = try reader.readCount(minimumItemSize: 2)
        var positions: LogPositions = [:]
        for _ in 0..<count {
            let origin = try reader.readReplica()
            guard positions.updateValue(try readCounter(&reader), forKey: origin) == nil else {
                throw .invalidValue("origin \(origin) listed twice")
            }
        }
        return positions
    }

    /// Log counters are stored as SQLite integers: 1 through Int64.max.
    private static func readCounter(_ reader: inout ByteReader) throws(CodecError) -> UInt64 {
        let counter = try reader.readVarint()
        guard counter > 0, counter <= UInt64(Int64.max) else { throw .invalidValue("log counter \(counter) out of range") }
        return counter
    }

    /// 8 bytes, big-endian.
    private static func write(fixed value: UInt64, to writer: inout ByteWriter) {
        for shift in stride(from: 56, through: 0, by: -8) { writer.write(byte: UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    private static func readFixed(_ reader: inout ByteReader) throws(CodecError) -> UInt64 {
        var value: UInt64 = 0
        for _ in 0..<8 { value = value << 8 | UInt64(try reader.readByte()) }
        return value
    }

    private static func readDigest(_ reader: inout ByteReader) throws(CodecError) -> StateDigest {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for _ in 0..<32 { bytes.append(try reader.readByte()) }
        return StateDigest(bytes: bytes)
    }
}
