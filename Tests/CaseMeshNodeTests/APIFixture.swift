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

/// A node's API over a real store in a temporary folder, with one token per role.
struct APIFixture {
    let directory: String
    let store: NodeStore
    let app: Application<RouterResponder<BasicRequestContext>>
    /// Tokens by name: viewer, engineer (EMEA), amer-engineer, manager (EMEA regional manager), global.
    let tokens: [String: String]

    static func make(waitLimit: Duration = .milliseconds(300), maxBodyBytes: Int = 64 * 1024,
                     requestTimeout: Duration = .seconds(30), logger: Logger = quietLogger) throws -> APIFixture {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("casemesh-api-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = directory + "/tokens"
        var tokens: [String: String] = [:]
        tokens["viewer"] = try TokenFile.add(to: file, name: "vera", role: .viewer, region: nil)
        tokens["engineer"] = try TokenFile.add(to: file, name: "ana", role: .engineer, region: Region("EMEA"))
        tokens["amer-engineer"] = try TokenFile.add(to: file, name: "bo", role: .engineer, region: Region("AMER"))
        tokens["manager"] = try TokenFile.add(to: file, name: "mia", role: .regionalManager, region: Region("EMEA"))
        tokens["global"] = try TokenFile.add(to: file, name: "gus", role: .globalManager, region: nil)
        let store = try NodeStore.open(StoreConfiguration(dataDirectory: directory + "/data", replica: ReplicaID("emea"), region: Region("EMEA")),
                                       wallClock: SystemWallClock(), logger: quietLogger)
        let api = NodeAPI(node: ReplicaID("emea"), region: try Region("EMEA"), store: store, tokens: try TokenFile.load(file),
                          maxBodyBytes: maxBodyBytes, waitLimit: waitLimit, requestTimeout: requestTimeout, logger: logger)
        return APIFixture(directory: directory, store: store, app: Application(router: buildRouter(api)), tokens: tokens)
    }

    func close() async {
        await store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func headers(_ who: String?) -> HTTPFields {
        var fields: HTTPFields = [.contentType: "application/json"]
        if let who { fields[.authorization] = "Bearer \(tokens[who] ?? who)" }
        return fields
    }
}

/// Request logs only for errors, so test output stays readable.
let quietLogger: Logger = {
    var logger = Logger(label: "casemesh.api-tests")
    logger.logLevel = .error
    return logger
}()

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
