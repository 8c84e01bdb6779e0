// casemesh-bench-replication: replication figures over real mutual-TLS
// connections on loopback, between two real stores.
//
//   casemesh-bench-replication [--cases N] [--updates N] [--divergence N] [--retention N]
//
// 1. load N cases (default 100,000) into EMEA (durability off for the load);
//    AMER starts empty and is brought level by a digest catch-up;
// 2. steady state: --updates single-field updates at EMEA (default 5,000,
//    paced at 1,000/s), replicated to AMER; frame bytes on the wire (both directions, all
//    message kinds) per update, against the size of the update's delta;
// 3. catch-up: AMER disconnects, EMEA updates --divergence distinct cases
//    (default 10,000; more than the log's --retention, default 5,000, keeps),
//    AMER reconnects; bytes shipped against the size of the differing cases,
//    and the time until both digests are equal.
//
// Build in release: swift build -c release --product casemesh-bench-replication

import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshReplication
import CaseMeshStore
import CaseMeshTransport
import Foundation
import Logging
import Synchronization

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("casemesh-bench-replication: \(message)\n".utf8))
    exit(1)
}
func progress(_ message: String) { FileHandle.standardError.write(Data("  \(message)\n".utf8)) }

func parseArguments() -> (cases: Int, updates: Int, divergence: Int, retention: Int) {
    var result = (cases: 100_000, updates: 5_000, divergence: 10_000, retention: 5_000)
    var arguments = CommandLine.arguments.dropFirst().makeIterator()
    while let argument = arguments.next() {
        func number() -> Int {
            guard let value = arguments.next().flatMap(Int.init), value > 0 else { fail("\(argument) needs a positive number") }
            return value
        }
        switch argument {
        case "--cases": result.cases = number()
        case "--updates": result.updates = number()
        case "--divergence": result.divergence = number()
        case "--retention": result.retention = number()
        default:
            print("usage: casemesh-bench-replication [--cases N] [--updates N] [--divergence N] [--retention N]")
            exit(argument == "-h" || argument == "--help" ? 0 : 2)
        }
    }
    return result
}
let (caseCount, updateCount, divergence, retention) = parseArguments()
guard divergence <= caseCount, updateCount <= caseCount else { fail("--updates and --divergence must not exceed --cases") }

let logger = Logger(label: "casemesh.bench-replication")
let clock = ContinuousClock()
func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
let emea = ReplicaID("emea")
let amer = ReplicaID("amer")
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("casemesh-bench-replication-\(UUID().uuidString)").path
defer { try? FileManager.default.removeItem(atPath: directory) }

func open(_ node: ReplicaID, _ region: String, durability: Durability) -> NodeStore {
    do {
        return try NodeStore.open(StoreConfiguration(dataDirectory: "\(directory)/\(node)", replica: node, region: try Region(region),
                                                     durability: durability, deltaLogRetention: retention),
                                  wallClock: SystemWallClock(), logger: logger)
    } catch {
        fail("cannot open the \(node) store: \(error)")
    }
}

let caseID: @Sendable (Int) -> CaseID = { try! CaseID("bench-\($0)") }

/// Shared counter for concurrent workers.
final class Counter: Sendable {
    let value = Mutex(0)
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
}

func concurrently(_ count: Int, workers: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async {
    let counter = Counter()
    await withTaskGroup(of: Void.self) { group in
        for _ in 0..<workers {
            group.addTask {
                while true {
                    let i = counter.next()
                    guard i <= count else { return }
                    do { try await body(i) } catch { fail("write \(i) failed: \(error)") }
                }
            }
        }
    }
}

func waitForEqualDigests(_ a: NodeStore, _ b: NodeStore, timeout: Duration = .seconds(600)) async -> Duration {
    let start = clock.now
    while a.digest != b.digest {
        if clock.now - start > timeout { fail("digests still differ after \(timeout)") }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return clock.now - start
}

// MARK: 1. load

progress("loading \(caseCount) cases into EMEA…")
let loader = open(emea, "EMEA", durability: .off)
let loadStart = clock.now
await concurrently(caseCount, workers: 64) { i in
    _ = try await loader.create(CaseDraft(id: caseID(i), title: "Case \(i): checkout fails after the upgrade", customer: "Customer \(i % 977)",
                                           product: "Product \(i % 13)", severity: [.sev1, .sev2, .sev3, .sev4][i % 4]), actor: "loader")
}
progress(String(format: "loaded in %.1f s", seconds(clock.now - loadStart)))
await loader.close()

let storeA = open(emea, "EMEA", durability: .full)
let storeB = open(amer, "AMER", durability: .full)
let authority = try ClusterCertificates.makeAuthority()
func settings(_ node: ReplicaID, _ peer: ReplicaID) throws -> TransportSettings {
    let issued = try ClusterCertificates.issue(node: node, authority: authority)
    return try TransportSettings(node: node, cluster: "bench", peers: [peer], certificatePEM: issued.certificatePEM,
                                 privateKeyPEM: issued.privateKeyPEM, authorityPEM: authority.certificatePEM)
}
let countersA = WireCounters()
let countersB = WireCounters()
let transportA = Transport(settings: try settings(emea, amer), logger: logger, counters: countersA)
let transportB = Transport(settings: try settings(amer, emea), logger: logger, counters: countersB)
let shellA = ReplicationShell(node: emea, peers: [emea, amer], store: storeA, logger: logger)
let shellB = ReplicationShell(node: amer, peers: [emea, amer], store: storeB, logger: logger)

final class BoundPort: Sendable { let value = Mutex<Int?>(nil) }
let port = BoundPort()
let background = Task {
    await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await shellA.runTicks(every: .milliseconds(20)) }
        group.addTask { await shellB.runTicks(every: .milliseconds(20)) }
        group.addTask {
            try await transportA.listen(host: "127.0.0.1", port: 0, bound: { address in port.value.withLock { $0 = address?.port } }) { session, messages in
                try await shellA.attach(session, messages: messages)
            }
        }
        try? await group.waitForAll()
    }
}
while port.value.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(10)) }
let listening = port.value.withLock { $0 }!
func connectB() -> Task<Void, Never> {
    Task {
        await transportB.maintain(peer: emea, host: "127.0.0.1", port: listening) { session, messages in
            try await shellB.attach(session, messages: messages)
        }
    }
}

progress("AMER catches up from empty…")
var link = connectB()
let initialSync = await waitForEqualDigests(storeA, storeB)
progress(String(format: "AMER level with EMEA after %.2f s", seconds(initialSync)))

// MARK: 2. steady state

func total(_ counts: [String: WireCounters.Count]) -> (frames: Int, bytes: Int) {
    counts.values.reduce((0, 0)) { ($0.0 + $1.frames, $0.1 + $1.bytes) }
}

progress("\(updateCount) single-field updates at EMEA, replicated to AMER…")
countersA.reset()
countersB.reset()
let payloadBytes = Counter()
let steadyStart = clock.now
// At a steady 1,000 updates/s (8 writers, each paced to 125/s), so the
// figure is what replication costs when the peer keeps up.
await concurrently(updateCount, workers: 8) { i in
    let due = steadyStart + .milliseconds(i)
    if clock.now < due { try await Task.sleep(until: due, clock: clock) }
    let outcome = try await storeA.execute(.setFields([.owner: .text("engineer-\(i % 500)-\(i)")]), on: caseID(i), actor: "bench")
    let size = outcome.delta?.encodedBytes.count ?? 0
    payloadBytes.value.withLock { $0 += size }
    await shellA.committed()
}
_ = await waitForEqualDigests(storeA, storeB)
let steadySeconds = seconds(clock.now - steadyStart)
let payload = payloadBytes.value.withLock { $0 }
let steadyWire = total(countersA.sent).bytes + total(countersB.sent).bytes
let steadyKinds = countersA.sent.merging(countersB.sent) { WireCounters.Count(frames: $0.frames + $1.frames, bytes: $0.bytes + $1.bytes) }
let perUpdate = Double(steadyWire) / Double(updateCount)
let payloadPerUpdate = Double(payload) / Double(updateCount)

// MARK: 3. catch-up

progress("AMER disconnects; EMEA updates \(divergence) distinct cases…")
link.cancel()
_ = await link.value
try await Task.sleep(for: .milliseconds(300))
await concurrently(divergence, workers: 32) { i in
    _ = try await storeA.execute(.setFields([.product: .text("Product \(i % 13) v2")]), on: caseID(caseCount - i + 1), actor: "bench")
}
let differing = (1...divergence).map { caseID(caseCount - $0 + 1) }
var differingBytes = 0
for start in stride(from: 0, to: differing.count, by: 500) {
    differingBytes += try storeA.encodedCases(Array(differing[start..<min(start + 500, differing.count)])).reduce(0) { $0 + $1.count }
}
countersA.reset()
countersB.reset()
progress("AMER reconnects…")
link = connectB()
let catchUp = await waitForEqualDigests(storeA, storeB)
let shipped = total(countersA.sent).bytes + total(countersB.sent).bytes
let catchUpKinds = countersA.sent.merging(countersB.sent) { WireCounters.Count(frames: $0.frames + $1.frames, bytes: $0.bytes + $1.bytes) }
link.cancel()
background.cancel()
await storeA.close()
await storeB.close()

func mib(_ bytes: Int) -> String { String(format: "%.2f MiB", Double(bytes) / 1_048_576) }
print("CaseMesh replication (release), \(caseCount) cases, mutual TLS on loopback, \(ProcessInfo.processInfo.activeProcessorCount) cores")
print(String(format: "  initial catch-up of an empty peer: %.2f s", seconds(initialSync)))
print(String(format: "  steady state: %d updates in %.2f s; %.0f frame bytes on the wire per update (both directions), delta %.0f bytes: %.2fx",
             updateCount, steadySeconds, perUpdate, payloadPerUpdate, perUpdate / payloadPerUpdate))
print("    by kind: " + steadyKinds.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.frames) frames \($0.value.bytes) bytes" }.joined(separator: ", "))
print(String(format: "  catch-up after %d updates of divergence (log keeps %d): %@ shipped for %@ of differing cases (%.2fx), equal digests after %.2f s",
             divergence, retention, mib(shipped), mib(differingBytes), Double(shipped) / Double(max(differingBytes, 1)), seconds(catchUp)))
print("    by kind: " + catchUpKinds.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.frames) frames \(mib($0.value.bytes))" }.joined(separator: ", "))
