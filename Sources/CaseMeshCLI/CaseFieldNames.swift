import CaseMeshDomain
import CaseMeshNode

/// `FIELD=VALUE` arguments of `case set`, typed by the field.
public enum CaseFieldNames {
    public static var all: String { CaseField.allCases.map(\.rawValue).joined(separator: ", ") }

    public static func body(_ assignments: [String]) throws(CLIError) -> JSONValue {
        guard !assignments.isEmpty else { throw CLIError("name at least one FIELD=VALUE (fields: \(all))") }
        var body: [String: JSONValue] = [:]
        for assignment in assignments {
            guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
                throw CLIError("\"\(assignment)\" is not FIELD=VALUE")
            }
            let name = String(assignment[..<equals])
            let value = String(assignment[assignment.index(after: equals)...])
            guard let field = CaseField(rawValue: name) else { throw CLIError("unknown field \"\(name)\"; fields: \(all)") }
            switch field.kind {
            case .flag:
                guard let flag = ["true": true, "yes": true, "false": false, "no": false][value.lowercased()] else {
                    throw CLIError("\(name) takes true or false, not \"\(value)\"")
                }
                body[name] = .bool(flag)
            case .minutes:
                guard let number = Int64(value) else { throw CLIError("\(name) takes a whole number of minutes, not \"\(value)\"") }
                body[name] = .int(number)
            case .time:
                body[name] = Int64(value).map(JSONValue.int) ?? .string(value)
            case .text, .choice, .region:
                body[name] = .string(value)
            }
        }
        return .object(body)
    }
}
