import CaseMeshDomain
import CaseMeshStore
import Foundation
import HTTPTypes
import Hummingbird

/// An error as the API reports it:
/// `{"error":{"code":"validation_failed","message":"…","field":"severity"}}`.
public struct APIError: Error, HTTPResponseError, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var field: String?
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, field: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
    }

    static func badRequest(_ message: String, field: String? = nil) -> APIError { APIError(.badRequest, "bad_request", message, field: field) }
    static func invalid(_ message: String, field: String? = nil) -> APIError { APIError(.unprocessableContent, "validation_failed", message, field: field) }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, "not_found", message) }
    static let unauthenticated = APIError(.unauthorized, "unauthenticated", "send a token: Authorization: Bearer <token> (see casemesh tokens add)")
    static func forbidden(_ message: String) -> APIError { APIError(.forbidden, "forbidden", message) }

    /// The store's refusals in API terms: bad input 422, a process rule 409,
    /// a missing case 404, a disk that cannot take writes (or a search index
    /// that cannot be brought up to date) 503.
    init(_ error: StoreError) {
        switch error {
        case let .rejected(domain): self.init(domain)
        case let .writeFailed(reason):
            self.init(.serviceUnavailable, "store_unavailable", "the write was not stored: \(reason)")
        case let .readOnly(reason):
            self.init(.serviceUnavailable, "store_read_only", "this node refuses writes since its disk failed (\(reason)); reads still work")
        case let .clockSkew(detail):
            self.init(.serviceUnavailable, "clock_skew", detail)
        case .searchUnavailable:
            self.init(.serviceUnavailable, "search_unavailable", error.description)
        default:
            self.init(.internalServerError, "internal", error.description)
        }
    }

    init(_ error: DomainError) {
        switch error.code {
        case .validationFailed: self.init(.unprocessableContent, error.code.rawValue, error.message, field: error.field)
        case .ruleViolated: self.init(.conflict, error.code.rawValue, error.message, field: error.field)
        case .notFound: self.init(.notFound, error.code.rawValue, error.message, field: error.field)
        }
    }

    struct Body: Encodable {
        struct Detail: Encodable {
            var code: String
            var message: String
            var field: String?
        }
        var error: Detail
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try JSONEncoder().encode(Body(error: .init(code: code, message: message, field: field)))
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
