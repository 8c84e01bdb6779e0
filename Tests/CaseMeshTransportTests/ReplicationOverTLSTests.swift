import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshReplication
import CaseMeshStore
import Foundation
import Logging
import Synchronization
import Testing
@testable import CaseMeshTransport

/// The port a listener bound, shared with the test.
final class BoundPort: Sendable {
    let value = Mutex<Int?>(nil)
}

/// Two real stores replicating through the engine, the shell and mutual TLS
/// over loopback sockets.
@Suite struct ReplicationOverTLSTests {
    static let logger = Logger(label: "casemesh.replication-tls-tests")

    static func waitUntil(_ what: String, timeout: Duration = .seconds(400), _ condition: () throws -> Bool) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if try condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("timed out waiting until \(what)")
    }

    @Test func writesAtEitherNodeReachTheOther() async throws {
        let emea = ReplicaID("emea")
        let amer = ReplicaID("amer")
        let cluster = try TransportTests.Cluster(nodes: [emea, amer])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("casemesh-tls-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let storeA = try NodeStore.open(StoreConfiguration(dataDirectory: dir + "/emea", replica: emea, region: try Region("EMEA"), durability: .normal),
                                        wallClock: SystemWallClock(), logger: Self.logger)
        let storeB = try NodeStore.open(StoreConfiguration(dataDirectory: dir + "/amer", replica: amer, region: try Region("AMER"), durability: .normal),
                                        wallClock: SystemWallClock(), logger: Self.logger)
        let config = ReplicationConfiguration(heartbeatInterval: 100, peerTimeout: 2_000, retransmitAfter: 500)
        let shellA = ReplicationShell(node: emea, peers: [emea, amer], store: storeA, configuration: config, logger: Self.logger)
        let shellB = ReplicationShell(node: amer, peers: [emea, amer], store: storeB, configuration: config, logger: Self.logger)
        let transportA = Transport(settings: try cluster.settings(emea, peers: [amer]), logger: Self.logger)
        let transportB = Transport(settings: try cluster.settings(amer, peers: [emea]), logger: Self.logger)
        let port = BoundPort()

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await shellA.runTicks() }
            group.addTask { await shellB.runTicks() }
            group.addTask {
                try await transportA.listen(host: "127.0.0.1", port: 0, bound: { address in port.value.withLock { $0 = address?.port } }) { session, messages in
                    try await shellA.attach(session, messages: messages)
                }
            }
            try await Self.waitUntil("EMEA listens") { port.value.withLock { $0 } != nil }
            let bound = try #require(port.value.withLock { $0 })
            group.addTask {
                await transportB.maintain(peer: emea, host: "127.0.0.1", port: bound) { session, messages in
                    try await shellB.attach(session, messages: messages)
                }
            }

            let fromAmer = try await storeB.create(CaseDraft(title: "Checkout fails in Brazil", customer: "Globex", product: "Payments", severity: .sev1), actor: "li").state.id
            await shellB.committed()
            try await Self.waitUntil("EMEA has AMER's case") { try storeA.caseState(fromAmer) != nil }
            let fromEmea = try await storeA.create(CaseDraft(title: "Invoices blank in Germany", customer: "Initech", product: "Billing", severity: .sev2), actor: "ana").state.id
            _ = try await storeA.execute(.addNote(id: try NoteID("n1"), text: "customer called", visibility: .internal), on: fromAmer, actor: "ana")
            await shellA.committed()
            try await Self.waitUntil("AMER has EMEA's case and note") {
                try storeB.caseState(fromEmea) != nil && storeB.caseState(fromAmer)?.notes.count == 1
            }
            try await Self.waitUntil("the digests agree") { storeA.digest == storeB.digest }
            group.cancelAll()
        }
        await storeA.close()
        await storeB.close()
    }
}
