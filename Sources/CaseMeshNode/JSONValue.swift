import Foundation

/// Any JSON value. Request bodies are read into this first, so unknown
/// fields, wrong types and missing fields each get their own clear error
/// naming the field, instead of a decoder's generic complaint.
public enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case let .bool(value): try container.encode(value)
        case let .int(value): try container.encode(value)
        case let .double(value): try container.encode(value)
        case let .string(value): try container.encode(value)
        case let .array(value): try container.encode(value)
        case let .object(value): try container.encode(value)
        }
    }

    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

extension JSONValue {
    public subscript(_ key: String) -> JSONValue? {
        if case let .object(fields) = self { return fields[key] } else { return nil }
    }
    public var string: String? { if case let .string(value) = self { return value } else { return nil } }
    public var array: [JSONValue]? { if case let .array(value) = self { return value } else { return nil } }
    public var int: Int64? { if case let .int(value) = self { return value } else { return nil } }
    public var bool: Bool? { if case let .bool(value) = self { return value } else { return nil } }
    public var object: [String: JSONValue]? { if case let .object(value) = self { return value } else { return nil } }

    /// Pretty, key-sorted JSON text.
    public var prettyText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
}

/// A request body: a JSON object whose fields are checked one by one.
struct RequestObject {
    let fields: [String: JSONValue]

    /// Parses `data` as a JSON object with only `allowed` fields.
    init(_ data: Data, allowed: Set<String>) throws(APIError) {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw .badRequest(data.isEmpty ? "the request needs a JSON body" : "the body is not valid JSON")
        }
        guard case let .object(fields) = value else { throw .badRequest("the body must be a JSON object, not \(value.typeName)") }
        if let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw .badRequest("unknown field \"\(unknown)\"; allowed: \(allowed.sorted().joined(separator: ", "))", field: unknown)
        }
        self.fields = fields
    }

    func string(_ name: String) throws(APIError) -> String? {
        switch fields[name] {
        case nil: return nil
        case let .string(value)?: return value
        case let other?: throw .badRequest("\(name) must be a string, not \(other.typeName)", field: name)
        }
    }

    func requiredString(_ name: String) throws(APIError) -> String {
        guard let value = try string(name) else { throw .invalid("\(name) is required", field: name) }
        return value
    }

    func bool(_ name: String) throws(APIError) -> Bool? {
        switch fields[name] {
        case nil: return nil
        case let .bool(value)?: return value
        case let other?: throw .badRequest("\(name) must be true or false, not \(other.typeName)", field: name)
        }
    }

    func integer(_ name: String) throws(APIError) -> Int64? {
        switch fields[name] {
        case nil: return nil
        case let .int(value)?: return value
        case let other?: throw .badRequest("\(name) must be a whole number, not \(other.typeName)", field: name)
        }
    }
}
