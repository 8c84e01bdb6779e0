/// A 256-bit digest of replicated state.
///
/// A set's digest is the XOR of its members' digests: order-independent and
/// updatable one member at a time (add the old member's digest out, the new
/// one in), which is what lets a store keep it current and a catch-up compare
/// ranges. Members are hashed with SHA-256 over their canonical encoding, so
/// two sets share a digest only if they hold identical members (up to a
/// SHA-256 collision).
public struct StateDigest: Hashable, Sendable, CustomStringConvertible {
    public private(set) var bytes: [UInt8]

    public static let zero = StateDigest(bytes: [UInt8](repeating: 0, count: 32))

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 32, "a state digest is 32 bytes")
        self.bytes = bytes
    }

    /// The digest of one member, identified by `key`, with canonical `content`.
    public static func member(key: [UInt8], content: [UInt8]) -> StateDigest {
        var hasher = SHA256()
        var prefix = ByteWriter(canonical: true)
        prefix.write(bytes: key)
        hasher.update(prefix.finish())
        hasher.update(content)
        return StateDigest(bytes: hasher.finalize())
    }

    /// XOR-combines: adds a member if absent, removes it if present.
    public mutating func toggle(_ member: StateDigest) {
        for i in 0..<32 { bytes[i] ^= member.bytes[i] }
    }

    public var hex: String { bytes.hexString }

    public var description: String { hex }
}

extension Sequence where Element == UInt8 {
    /// Lower-case hexadecimal, two digits per byte.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
