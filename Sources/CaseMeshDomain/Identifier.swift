import CaseMeshCRDT

/// A validated string identifier: 1–64 characters of letters, digits, `-`,
/// `_` and `.`. Clients may choose case ids (for idempotent retries), so ids
/// are checked at the edge rather than trusted.
public struct Identifier<Tag>: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String, field: String = "id") throws(DomainError) {
        guard !rawValue.isEmpty, rawValue.utf8.count <= 64 else {
            throw .invalid(field, "\(field) must be 1 to 64 characters long")
        }
        for byte in rawValue.utf8 {
            let ok = (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x5F || byte == 0x2E
            guard ok else { throw .invalid(field, "\(field) may contain only letters, digits, '-', '_' and '.'") }
        }
        self.rawValue = rawValue
    }

    init(unchecked rawValue: String) { self.rawValue = rawValue }

    public static func < (lhs: Identifier, rhs: Identifier) -> Bool {
        lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8)
    }

    public var description: String { rawValue }
}

extension Identifier: BinaryCodable {
    public func encode(to writer: inout ByteWriter) { writer.write(string: rawValue) }
    public init(from reader: inout ByteReader) throws(CodecError) {
        let raw = try reader.readString()
        do { try self.init(raw) } catch { throw .invalidValue(error.message) }
    }
}

public enum CaseTag {}
public enum NoteTag {}
public enum AttendeeTag {}
public enum StepTag {}
public enum ApprovalTag {}

public typealias CaseID = Identifier<CaseTag>
public typealias NoteID = Identifier<NoteTag>
public typealias AttendeeID = Identifier<AttendeeTag>
public typealias StepID = Identifier<StepTag>
public typealias ApprovalID = Identifier<ApprovalTag>

/// A support region, e.g. `EMEA`: 2–8 upper-case ASCII letters.
public struct Region: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String, field: String = "region") throws(DomainError) {
        let ok = (2...8).contains(rawValue.utf8.count) && rawValue.utf8.allSatisfy { $0 >= 0x41 && $0 <= 0x5A }
        guard ok else { throw .invalid(field, "\(field) must be 2 to 8 upper-case letters, e.g. EMEA") }
        self.rawValue = rawValue
    }

    public static func < (lhs: Region, rhs: Region) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { rawValue }
}

extension Region: BinaryCodable {
    public func encode(to writer: inout ByteWriter) { writer.write(string: rawValue) }
    public init(from reader: inout ByteReader) throws(CodecError) {
        let raw = try reader.readString()
        do { try self.init(raw) } catch { throw .invalidValue(error.message) }
    }
}
