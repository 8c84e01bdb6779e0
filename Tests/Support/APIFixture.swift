import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshNode
import CaseMeshReplication
import CaseMeshStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// A node's API over a real store in a temporary folder, with one token per role.
public struct APIFixture: Sendable {
    public let directory: String
    public let store: NodeStore
    public let app: Application<RouterResponder<BasicRequestContext>>
    /// Tokens by name: viewer, engineer (EMEA), amer-engineer, manager (EMEA regional manager), global.
    public let tokens: [String: String]

    public static func make(waitLimit: Duration = .milliseconds(300), maxBodyBytes: Int = 64 * 1024,
                     requestTimeout: Duration = .seconds(30), logger: Logger = quietLogger,
                     faultClock: FaultClock? = nil, delivery: (@Sendable () async -> ReplicationDelivery)? = nil) throws -> APIFixture {
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
                                       wallClock: faultClock ?? SystemWallClock(), logger: quietLogger)
        let api = NodeAPI(node: ReplicaID("emea"), region: try Region("EMEA"), store: store, tokens: try TokenFile.load(file),
                          maxBodyBytes: maxBodyBytes, waitLimit: waitLimit, requestTimeout: requestTimeout, logger: logger,
                          faultClock: faultClock, delivery: delivery)
        return APIFixture(directory: directory, store: store, app: Application(router: buildRouter(api)), tokens: tokens)
    }

    init(directory: String, store: NodeStore, app: Application<RouterResponder<BasicRequestContext>>, tokens: [String: String]) {
        self.directory = directory
        self.store = store
        self.app = app
        self.tokens = tokens
    }

    public func close() async {
        await store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    public func headers(_ who: String?) -> HTTPFields {
        var fields: HTTPFields = [.contentType: "application/json"]
        if let who { fields[.authorization] = "Bearer \(tokens[who] ?? who)" }
        return fields
    }
}

/// Request logs only for errors, so test output stays readable.
public let quietLogger: Logger = {
    var logger = Logger(label: "casemesh.api-tests")
    logger.logLevel = .error
    return logger
}()

