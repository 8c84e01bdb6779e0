import CaseMeshCRDT

/// A closed set of values with stable wire names. Parsing an unknown name
/// fails with the list of accepted names.
public protocol DomainEnum: RawRepresentable, CaseIterable, Hashable, Sendable, BinaryCodable, Comparable
where RawValue == String {
    /// Words for people, e.g. "L3 (vendor)".
    var label: String { get }
}

extension DomainEnum {
    public static func parse(_ raw: String, field: String) throws(DomainError) -> Self {
        guard let value = Self(rawValue: raw) else {
            let names = allCases.map(\.rawValue).joined(separator: ", ")
            throw .invalid(field, "\(field) \"\(raw)\" is not one of: \(names)")
        }
        return value
    }

    public var label: String { rawValue }

    public func encode(to writer: inout ByteWriter) { writer.write(string: rawValue) }

    public init(from reader: inout ByteReader) throws(CodecError) {
        let raw = try reader.readString()
        guard let value = Self(rawValue: raw) else { throw .invalidValue("unknown \(Self.self) \"\(raw)\"") }
        self = value
    }

    /// Declaration order.
    public static func < (lhs: Self, rhs: Self) -> Bool {
        let all = Array(allCases)
        return all.firstIndex(of: lhs)! < all.firstIndex(of: rhs)!
    }
}

public enum Severity: String, DomainEnum {
    case sev1, sev2, sev3, sev4
    public var label: String { "Sev\(rawValue.dropFirst(3))" }
}

public enum Workaround: String, DomainEnum {
    /// No workaround exists.
    case none
    /// A workaround exists and the customer can use it.
    case available
    /// A workaround exists but is impractical for the customer.
    case impractical
}

public enum RCAStatus: String, DomainEnum {
    case notStarted, inProgress, onTrack, atRisk, complete

    /// De-escalation needs the root-cause analysis on track (or done).
    public var isOnTrack: Bool { self == .onTrack || self == .complete }
}

public enum CommunicationMode: String, DomainEnum {
    case email, phone, conferenceCall
    public var label: String {
        switch self {
        case .email: return "email"
        case .phone: return "phone"
        case .conferenceCall: return "conference call"
        }
    }
}

public enum Visibility: String, DomainEnum {
    case `internal`, customer
}

public enum ApproverRole: String, DomainEnum {
    case teamLeader, teamManager, regionalManager, leadership
    public var label: String {
        switch self {
        case .teamLeader: return "Team Leader"
        case .teamManager: return "Team Manager"
        case .regionalManager: return "Regional Escalation Manager"
        case .leadership: return "Leadership"
        }
    }
}

public enum ApprovalKind: String, DomainEnum {
    /// Permission to take the case to the vendor (L3).
    case vendorEscalation
    /// Sign-off on de-escalating the case.
    case deescalation
    /// Anything else worth recording (budget, on-site visit, …).
    case other
}
