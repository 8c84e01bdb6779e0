/// Why a command was refused. Every refusal names the field or the rule in
/// plain words, so an engineer can fix the request without reading code.
public struct DomainError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// The input itself is malformed (missing, too long, unknown value).
        case validationFailed = "validation_failed"
        /// The input is fine but the escalation process does not allow it now.
        case ruleViolated = "rule_violated"
        /// The thing referred to does not exist on this case.
        case notFound = "not_found"
    }

    public let code: Code
    public let message: String
    /// The offending field (API name), when one field is to blame.
    public let field: String?
    /// The process rule that refused the command, when it is a rule.
    public let rule: String?

    public init(code: Code, message: String, field: String? = nil, rule: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
        self.rule = rule
    }

    public static func invalid(_ field: String, _ message: String) -> DomainError {
        DomainError(code: .validationFailed, message: message, field: field)
    }

    public static func rule(_ rule: String, _ message: String, field: String? = nil) -> DomainError {
        DomainError(code: .ruleViolated, message: message, field: field, rule: rule)
    }

    public var description: String {
        var out = "\(code.rawValue): \(message)"
        if let field { out += " (field: \(field))" }
        if let rule { out += " (rule: \(rule))" }
        return out
    }
}
