import CaseMeshCRDT
import CaseMeshDomain
import Foundation

/// API tokens, stored hashed: one JSON object per line with the token's
/// name, role, region and the SHA-256 of the token. The token itself is
/// shown once, when it is added, and never written down.
public struct TokenFile: Sendable {
    struct Entry: Codable, Equatable {
        var name: String
        var role: Role
        var region: String?
        var sha256: String
    }

    public enum Failure: Error, CustomStringConvertible, Equatable {
        case unreadable(path: String, reason: String)
        case malformed(path: String, line: Int, reason: String)
        case invalid(String)

        public var description: String {
            switch self {
            case let .unreadable(path, reason): return "cannot read the token file \(path): \(reason)"
            case let .malformed(path, line, reason): return "the token file \(path) is damaged at line \(line): \(reason)"
            case let .invalid(reason): return reason
            }
        }
    }

    /// Principals by the hex SHA-256 of their token.
    let principals: [String: Principal]

    public var count: Int { principals.count }

    init(principals: [String: Principal]) { self.principals = principals }

    /// Reads `path`; a missing file holds no tokens.
    public static func load(_ path: String) throws(Failure) -> TokenFile {
        guard FileManager.default.fileExists(atPath: path) else { return TokenFile(principals: [:]) }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .unreadable(path: path, reason: "\(error.localizedDescription)")
        }
        var principals: [String: Principal] = [:]
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let entry: Entry
            do {
                entry = try JSONDecoder().decode(Entry.self, from: Data(line.utf8))
            } catch {
                throw .malformed(path: path, line: index + 1, reason: "not a token entry")
            }
            let region: Region?
            do {
                region = try entry.region.map { raw throws(DomainError) in try Region(raw) }
            } catch {
                throw .malformed(path: path, line: index + 1, reason: error.message)
            }
            guard entry.sha256.count == 64, entry.sha256.allSatisfy(\.isHexDigit) else {
                throw .malformed(path: path, line: index + 1, reason: "the hash is not 64 hex digits")
            }
            principals[entry.sha256.lowercased()] = Principal(name: entry.name, role: entry.role, region: region)
        }
        return TokenFile(principals: principals)
    }

    /// The principal a bearer token stands for, if any.
    public func principal(for token: String) -> Principal? {
        principals[Self.hash(token)]
    }

    static func hash(_ token: String) -> String {
        var hasher = SHA256()
        hasher.update(Array(token.utf8))
        return hasher.finalize().hexString
    }

    /// Appends a new token for `name` to `path` (created with mode 0600)
    /// and returns the token. Engineers and regional managers need a region.
    public static func add(to path: String, name: String, role: Role, region: Region?) throws(Failure) -> String {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.count <= 120 else { throw .invalid("the token name must be 1 to 120 characters") }
        if role.isRegional && region == nil { throw .invalid("\(role == .engineer ? "an" : "a") \(role.rawValue) token needs --region (e.g. --region EMEA)") }
        if !role.isRegional && region != nil { throw .invalid("a \(role.rawValue) token is not tied to a region; leave out --region") }
        let existing = try load(path)
        if existing.principals.values.contains(where: { $0.name == trimmed }) {
            throw .invalid("a token named \"\(trimmed)\" already exists in \(path)")
        }
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255, using: &generator) }
        let token = "cm_" + Base64URL.encode(bytes)
        let entry = Entry(name: trimmed, role: role, region: region?.rawValue, sha256: hash(token))
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            var line = try encoder.encode(entry)
            line.append(UInt8(ascii: "\n"))
            if !FileManager.default.fileExists(atPath: path) {
                guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                    throw Failure.unreadable(path: path, reason: "cannot create the file")
                }
            }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: line)
            try handle.synchronize()
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .unreadable(path: path, reason: "\(error.localizedDescription)")
        }
        return token
    }
}
