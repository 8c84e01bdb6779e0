/// The identity of one replica (one node) in the cluster, e.g. `emea`.
///
/// Replica ids break ties between LWW writes with equal hybrid timestamps, so
/// they are totally ordered (by their UTF-8 bytes) and must be unique per node.
public struct ReplicaID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// Creates an id without validation; use `init(validating:)` for user input.
    public init(_ rawValue: String) {
        self.rawValue = rawValue
    }

    /// Accepts 1–32 characters of lower-case ASCII letters, digits and `-`,
    /// the same alphabet node certificates use.
    public init(validating rawValue: String) throws(ReplicaIDError) {
        guard !rawValue.isEmpty, rawValue.utf8.count <= 32 else {
            throw ReplicaIDError(rawValue: rawValue, reason: "must be 1 to 32 characters long")
        }
        for byte in rawValue.utf8 {
            let ok = (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D
            if !ok {
                throw ReplicaIDError(rawValue: rawValue, reason: "may contain only a-z, 0-9 and '-'")
            }
        }
        self.rawValue = rawValue
    }

    public static func < (lhs: ReplicaID, rhs: ReplicaID) -> Bool {
        // Byte order, not locale order, so every platform agrees.
        lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8)
    }

    public var description: String { rawValue }
}

public struct ReplicaIDError: Error, Equatable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public let reason: String
    public var description: String { "replica id \"\(rawValue)\" \(reason)" }
}
