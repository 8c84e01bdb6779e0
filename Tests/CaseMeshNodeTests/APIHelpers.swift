import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshNode
import CaseMeshStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import CaseMeshTestSupport

/// A response body as JSON.
func json(_ response: TestResponse) throws -> JSONValue {
    try JSONDecoder().decode(JSONValue.self, from: Data(response.body.readableBytesView))
}

/// The error code of an error response.
func errorCode(_ response: TestResponse) -> String? {
    (try? json(response))?["error"]?["code"]?.string
}

let newCase = #"{"title":"Checkout fails after upgrade","customer":"Acme","product":"Payments","severity":"sev2"}"#

func withAPI(waitLimit: Duration = .milliseconds(300), requestTimeout: Duration = .seconds(30),
             _ body: @escaping @Sendable (APIFixture, any TestClientProtocol) async throws -> Void) async throws {
    let fixture = try APIFixture.make(waitLimit: waitLimit, requestTimeout: requestTimeout)
    do {
        try await fixture.app.test(.router) { client in try await body(fixture, client) }
    } catch {
        await fixture.close()
        throw error
    }
    await fixture.close()
}

/// Creates a case as the EMEA engineer and returns its id.
func createCase(_ fixture: APIFixture, _ client: any TestClientProtocol, body: String = newCase) async throws -> String {
    try await client.execute(uri: "/v1/cases", method: .post, headers: fixture.headers("engineer"), body: ByteBuffer(string: body)) { response in
        #expect(response.status == .created, "\(String(buffer: response.body))")
        return try #require(try json(response)["id"]?.string)
    }
}

/// The field an error response names.
func errorField(_ response: TestResponse) -> String? {
    (try? json(response))?["error"]?["field"]?.string
}

/// The body as JSON, or null if it is not JSON (for use inside `#expect`).
func parsed(_ response: TestResponse) -> JSONValue {
    (try? json(response)) ?? .null
}
