import Foundation
import CaseMeshCRDT

/// The value of one LWW field. Enumerated fields are stored by their wire
/// name (`.text`), so an older node can still carry a value it does not know.
public enum FieldValue: Hashable, Sendable, BinaryCodable, CustomStringConvertible {
    case text(String)
    case flag(Bool)
    case number(Int64)
    /// Milliseconds since the Unix epoch (UTC).
    case time(Int64)

    public var text: String? { if case let .text(v) = self { return v } else { return nil } }
    public var flag: Bool? { if case let .flag(v) = self { return v } else { return nil } }
    public var number: Int64? { if case let .number(v) = self { return v } else { return nil } }
    public var time: Int64? { if case let .time(v) = self { return v } else { return nil } }

    /// How the value reads in a timeline or conflict event.
    public var description: String {
        switch self {
        case let .text(v): return v
        case let .flag(v): return v ? "yes" : "no"
        case let .number(v): return String(v)
        case let .time(v): return CalendarMath.isoDate(millis: v)
        }
    }

    public func encode(to writer: inout ByteWriter) {
        switch self {
        case let .text(v): writer.write(byte: 0); writer.write(string: v)
        case let .flag(v): writer.write(byte: 1); v.encode(to: &writer)
        case let .number(v): writer.write(byte: 2); v.encode(to: &writer)
        case let .time(v): writer.write(byte: 3); v.encode(to: &writer)
        }
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        switch try reader.readByte() {
        case 0: self = .text(try reader.readString())
        case 1: self = .flag(try Bool(from: &reader))
        case 2: self = .number(try Int64(from: &reader))
        case 3: self = .time(try Int64(from: &reader))
        case let tag: throw .invalidValue("field value tag \(tag)")
        }
    }
}

/// The LWW-register fields of a case, by API name.
public enum CaseField: String, DomainEnum {
    case title, customer, product, problemStatement, businessImpact, workaround
    case severity, status, escalationLevel, owner, regionalManager, owningRegion
    case criticalMilestone
    case communicationMode, communicationFrequencyMinutes
    case actionPlan, actionPlanAccepted, rootCause, rcaStatus
    case resolution, customerAcknowledged, deescalationAgreement
    /// When the customer first reported the problem, if before the case was
    /// opened here (an escalation from another desk): the SLA clocks start then.
    case reportedAt

    public enum Kind: Sendable, Equatable {
        case text(maxLength: Int)
        case choice([String])
        case flag
        /// Whole minutes, in the given range.
        case minutes(ClosedRange<Int64>)
        /// A point in time (milliseconds since the epoch).
        case time
        case region
    }

    /// 9999-12-31T23:59:59.999Z in Unix milliseconds: later times are
    /// refused so date arithmetic and display never overflow.
    public static let latestTime: Int64 = 253_402_300_799_999

    public var kind: Kind {
        switch self {
        case .title: return .text(maxLength: 200)
        case .customer, .product, .owner, .regionalManager: return .text(maxLength: 120)
        case .problemStatement, .businessImpact, .actionPlan, .rootCause, .resolution, .deescalationAgreement:
            return .text(maxLength: 10_000)
        case .workaround: return .choice(Workaround.allCases.map(\.rawValue))
        case .severity: return .choice(Severity.allCases.map(\.rawValue))
        case .status: return .choice(CaseStatus.allCases.map(\.rawValue))
        case .escalationLevel: return .choice(EscalationLevel.allCases.map(\.rawValue))
        case .rcaStatus: return .choice(RCAStatus.allCases.map(\.rawValue))
        case .communicationMode: return .choice(CommunicationMode.allCases.map(\.rawValue))
        case .communicationFrequencyMinutes: return .minutes(15...(7 * 24 * 60))
        case .actionPlanAccepted, .customerAcknowledged: return .flag
        case .criticalMilestone, .reportedAt: return .time
        case .owningRegion: return .region
        }
    }

    /// Checks that `value` fits this field; text is trimmed of surrounding
    /// white space and an empty text is refused (clear a field by writing
    /// a meaningful value instead: LWW registers have no "unset").
    public func validate(_ value: FieldValue) throws(DomainError) -> FieldValue {
        let name = rawValue
        switch (kind, value) {
        case let (.text(maxLength), .text(raw)):
            let text = raw.normalizedText
            guard !text.isEmpty else { throw .invalid(name, "\(name) must not be empty") }
            guard text.count <= maxLength else { throw .invalid(name, "\(name) must be at most \(maxLength) characters (got \(text.count))") }
            return .text(text)
        case let (.choice(names), .text(raw)):
            guard names.contains(raw) else {
                throw .invalid(name, "\(name) \"\(raw)\" is not one of: \(names.joined(separator: ", "))")
            }
            return value
        case (.flag, .flag):
            return value
        case let (.minutes(range), .number(n)):
            guard range.contains(n) else { throw .invalid(name, "\(name) must be between \(range.lowerBound) and \(range.upperBound) minutes (got \(n))") }
            return value
        case let (.time, .time(ms)):
            guard (0...CaseField.latestTime).contains(ms) else {
                throw .invalid(name, "\(name) must be between 1970-01-01 and 9999-12-31")
            }
            return value
        case let (.region, .text(raw)):
            _ = try Region(raw, field: name)
            return value
        default:
            throw .invalid(name, "\(name) expects \(kind.expectation), not \(value.kindName)")
        }
    }
}

extension CaseField.Kind {
    var expectation: String {
        switch self {
        case .text: return "text"
        case let .choice(names): return "one of \(names.joined(separator: ", "))"
        case .flag: return "true or false"
        case .minutes: return "a number of minutes"
        case .time: return "a date or time"
        case .region: return "a region such as EMEA"
        }
    }
}

extension FieldValue {
    var kindName: String {
        switch self {
        case .text: return "text"
        case .flag: return "true/false"
        case .number: return "a number"
        case .time: return "a time"
        }
    }
}

extension String {
    /// Trimmed of surrounding white space and in Unicode NFC, so text that
    /// compares equal is stored with equal bytes (and hashes to equal digests).
    var normalizedText: String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        let trimmed = String(scalars)
        if trimmed.utf8.allSatisfy({ $0 < 0x80 }) { return trimmed }
        return trimmed.precomposedStringWithCanonicalMapping
    }
}
