import CaseMeshNode
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Talks to one node's HTTP API for the people's CLI. Every failure becomes
/// a `CLIError` in plain words: an unreachable node, a refused token, or the
/// node's own JSON error.
public struct NodeClient: Sendable {
    public let base: URL
    public let token: String
    public let timeout: TimeInterval

    public init(node: String, token: String, timeout: TimeInterval = 30) throws(CLIError) {
        let trimmed = node.hasSuffix("/") ? String(node.dropLast()) : node
        guard let url = URL(string: trimmed), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw CLIError("\"\(node)\" is not a node URL such as http://127.0.0.1:8080")
        }
        guard !token.isEmpty else { throw CLIError("no token: pass --token or set CASEMESH_TOKEN (casemesh tokens add makes one)") }
        self.base = url
        self.token = token
        self.timeout = timeout
    }

    /// An answer: status, headers (lower-cased names) and the JSON body.
    public struct Reply: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: JSONValue
        public var raw: Data
    }

    /// Sends one request; a 4xx/5xx becomes a `CLIError` carrying the
    /// node's message (and field), so commands only handle success.
    @discardableResult
    public func send(_ method: String, _ path: String, query: [(String, String)] = [], body: JSONValue? = nil) async throws(CLIError) -> Reply {
        let reply = try await exchange(method, path, query: query, body: body)
        guard (200..<300).contains(reply.status) else { throw CLIError(reply: reply, method: method, path: path) }
        return reply
    }

    /// Sends one request and returns whatever the node answered.
    public func exchange(_ method: String, _ path: String, query: [(String, String)] = [], body: JSONValue? = nil) async throws(CLIError) -> Reply {
        var components = URLComponents(url: base.appendingPathComponent(path), resolvingAgainstBaseURL: false)!
        if !query.isEmpty { components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
        // '+' is literal in a query item but a space to most servers.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        var request = URLRequest(url: components.url!, timeoutInterval: timeout)
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try? JSONEncoder().encode(body)
        }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw CLIError.unreachable(base, error)
        }
        guard let http = response as? HTTPURLResponse else { throw CLIError("\(base) answered with something other than HTTP") }
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { headers[name.lowercased()] = value }
        }
        let json = (try? JSONDecoder().decode(JSONValue.self, from: data)) ?? .null
        return Reply(status: http.statusCode, headers: headers, body: json, raw: data)
    }
}

/// A failure the CLI reports in one line and a non-zero exit code.
public struct CLIError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    /// The node's error code (e.g. validation_failed) when it refused the request.
    public var code: String?
    public var status: Int?

    public init(_ description: String, code: String? = nil, status: Int? = nil) {
        self.description = description
        self.code = code
        self.status = status
    }

    static func unreachable(_ base: URL, _ error: any Error) -> CLIError {
        let reason = (error as? URLError).map { error -> String in
            switch error.code {
            case .cannotConnectToHost: return "connection refused"
            case .timedOut: return "no answer in time"
            case .cannotFindHost: return "unknown host"
            default: return error.localizedDescription
            }
        } ?? "\(error)"
        return CLIError("cannot reach the node at \(base.absoluteString): \(reason) (is it running? `casemesh cluster up` starts a local cluster)",
                        code: "unreachable")
    }

    init(reply: NodeClient.Reply, method: String, path: String) {
        let message = reply.body["error"]?["message"]?.string
        let code = reply.body["error"]?["code"]?.string
        let field = reply.body["error"]?["field"]?.string
        var text: String
        switch reply.status {
        case 401: text = "the node refused the token: \(message ?? "unauthenticated")"
        case 403: text = "not allowed: \(message ?? "forbidden")"
        case 404: text = message ?? "not found: \(path)"
        default: text = message ?? "\(method) \(path) failed with HTTP \(reply.status)"
        }
        if let field, !text.contains(field) { text += " (\(field))" }
        self.init(text, code: code, status: reply.status)
    }
}
