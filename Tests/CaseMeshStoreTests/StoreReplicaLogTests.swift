import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshReplication
import Foundation
import Testing
@testable import CaseMeshStore

/// Runs replication engines over real stores in one process: every
/// directive is carried out against the store, messages go straight to the
/// other engine unless their link is cut.
private actor StorePump {
    var stores: [ReplicaID: NodeStore]
    var engines: [ReplicaID: ReplicationEngine]
    var cut: Set<[ReplicaID]> = []
    var inbox: [(from: ReplicaID, to: ReplicaID, message: ReplicationMessage)] = []
    var now: UInt64 = 0
    /// Cases received by catch-up, per receiving node.
    var catchUpCases: [ReplicaID: Int] = [:]
    var trace: [String] = []

    init(_ stores: [NodeStore]) {
        let ids = stores.map(\.configuration.replica)
        self.stores = Dictionary(uniqueKeysWithValues: stores.map { ($0.configuration.replica, $0) })
        engines = Dictionary(uniqueKeysWithValues: ids.map { ($0, ReplicationEngine(node: $0, peers: ids, now: 0)) })
    }

    func setCut(_ links: Set<[ReplicaID]>) { cut = links }

    func feed(_ node: ReplicaID, _ event: ReplicationEvent) async throws {
        let store = stores[node]!
        let directives = engines[node]!.handle(event, log: store)
        for directive in directives {
            switch directive {
            case let .send(peer, message):
                // Through the wire codec, as the transport will carry it.
                let decoded = try WireMessage(decoding: WireMessage.replication(message).encoded)
                guard case let .replication(carried) = decoded else { Issue.record("wire changed the message kind"); return }
                if !cut.contains([node, peer]) { inbox.append((node, peer, carried)) }
                trace.append("\(now) \(node)->\(peer) \(cut.contains([node, peer]) ? "CUT " : "")\(String(describing: carried).prefix(90))")
            case let .apply(entry):
                do {
                    _ = try await store.applyRemote(origin: entry.origin, counter: entry.counter, delta: try CaseState(decoding: entry.delta))
                    try await feed(node, .committed)
                } catch {
                    trace.append("\(now) \(node) apply \(entry.origin):\(entry.counter) failed: \(error)")
                    try await feed(node, .applyFailed(origin: entry.origin, counter: entry.counter))
                }
            case let .applyCases(states, positions, peer, session):
                catchUpCases[node, default: 0] += states.count
                _ = try await store.applyCatchUp(states: try states.map { try CaseState(decoding: $0) }, positions: positions)
                try await feed(node, .catchUpApplied(from: peer, session: session))
            case .recordAcknowledgement, .suspect, .readFailed:
                break
            }
        }
    }

    func connectAll() async throws {
        for a in engines.keys.sorted() { for b in engines.keys.sorted() where a != b { try await feed(a, .connected(b)) } }
        try await settle()
    }

    func settle() async throws {
        var steps = 0
        while !inbox.isEmpty && steps < 100_000 {
            let (from, to, message) = inbox.removeFirst()
            try await feed(to, .received(from: from, message))
            steps += 1
        }
    }

    func tick(_ rounds: Int = 3) async throws {
        for _ in 0..<rounds {
            now += 300
            for node in engines.keys.sorted() { try await feed(node, .tick(now: now)) }
            try await settle()
        }
    }

    func committed(at node: ReplicaID) async throws {
        try await feed(node, .committed)
        try await settle()
    }
}

@Suite struct StoreReplicaLogTests {
    /// Three stores: a bridge (EMEA and APAC cut from each other), then a
    /// node kept away past the log's retention and caught up by digests.
    @Test func storesConvergeThroughTheEngineIncludingCatchUp() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(step: 1)
            let emea = try openStore(dir + "/emea", replica: .emea, region: "EMEA", clock: clock, retention: 5)
            let amer = try openStore(dir + "/amer", replica: .amer, region: "AMER", clock: clock, retention: 5)
            let apac = try openStore(dir + "/apac", replica: .apac, region: "APAC", clock: clock, retention: 5)
            let pump = StorePump([emea, amer, apac])
            await pump.setCut([[.emea, .apac], [.apac, .emea]])
            try await pump.connectAll()
            let first = try await emea.create(draft(title: "Bridged"), actor: "ana").state.id
            try await pump.committed(at: .emea)
            _ = try await apac.execute(addNote("n1", "seen through AMER"), on: first, actor: "li")
            try await pump.committed(at: .apac)
            try await pump.tick()
            #expect(emea.digest.digest == apac.digest.digest)
            #expect(try emea.caseState(first)?.notes.count == 1)

            // APAC goes away; EMEA writes more than the log keeps.
            await pump.setCut([[.emea, .apac], [.apac, .emea], [.amer, .apac], [.apac, .amer]])
            for index in 0..<12 { _ = try await emea.create(draft(title: "Later \(index)"), actor: "ana") }
            try await pump.committed(at: .emea)
            try await pump.tick()
            await pump.setCut([[.emea, .apac], [.apac, .emea]])
            try await pump.tick(5)
            #expect(apac.digest == emea.digest)
            #expect(amer.digest == emea.digest)
            #expect(apac.appliedPositions[.emea] == emea.appliedPositions[.emea])
            let shipped = await pump.catchUpCases[.apac] ?? 0
            #expect(shipped > 0, "APAC was behind the retained log: it needed a catch-up")
            #expect(shipped <= 12, "only the 12 cases APAC lacked are shipped, got \(shipped)")
            #expect(try apac.bucketDigests() == emea.bucketDigests())
            for store in [emea, amer, apac] { await store.close() }
        }
    }

    /// The maintained bucket digests XOR to the node digest, match a
    /// recomputation from the rows, and survive a restart.
    @Test func bucketDigestsAreMaintainedAndRebuilt() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(step: 1)
            var store = try openStore(dir, clock: clock)
            for index in 0..<40 {
                let id = try await store.create(draft(title: "Case \(index)"), actor: "ana").state.id
                if index.isMultiple(of: 3) { _ = try await store.execute(addNote("n\(index)", "more"), on: id, actor: "ana") }
            }
            let maintained = try store.bucketDigests()
            var combined = StateDigest.zero
            for digest in maintained { combined.toggle(digest) }
            #expect(combined == store.digest.digest)
            let all = try store.caseFingerprints(inBuckets: Array(0..<CaseBucket.count))
            #expect(all.count == 40)
            var recomputed = Array(repeating: StateDigest.zero, count: CaseBucket.count)
            for (id, fingerprint) in all {
                let digest = try #require(try store.caseState(id)?.digest)
                #expect(fingerprint == CaseFingerprint(id: id, digest: digest))
                recomputed[CaseBucket.of(id)].toggle(digest)
            }
            #expect(recomputed == maintained)
            let someBucket = CaseBucket.of(all.map(\.id).sorted().first!)
            #expect(try store.caseFingerprints(inBuckets: [someBucket]).allSatisfy { CaseBucket.of($0.id) == someBucket })
            await store.close()
            store = try openStore(dir, clock: clock)
            #expect(try store.bucketDigests() == maintained)
            // The fingerprints kept in memory are rebuilt from the table.
            let reloaded = try store.caseFingerprints(inBuckets: Array(0..<CaseBucket.count))
            #expect(reloaded.map(\.fingerprint).sorted() == all.map(\.fingerprint).sorted())
            await store.close()
        }
    }

    /// Log reads stop at the byte budget (but return at least one entry) and
    /// report a trimmed range instead of silently skipping it.
    @Test func logReadsRespectTheBudgetAndReportTrimming() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock(step: 1), retention: 10)
            for index in 0..<30 { _ = try await store.create(draft(title: "Case \(index)"), actor: "ana") }
            let head = try #require(store.applied[.emea])
            guard case let .entries(one) = try store.entries(of: .emea, after: head - 5, maxBytes: 1) else {
                Issue.record("expected entries")
                return
            }
            #expect(one.map(\.counter) == [head - 4])
            guard case let .entries(rest) = try store.entries(of: .emea, after: head - 5, maxBytes: 1 << 20) else {
                Issue.record("expected entries")
                return
            }
            #expect(rest.map(\.counter) == Array((head - 4)...head))
            #expect(try CaseState(decoding: rest[0].delta).id == (try logEntries(store, of: .emea, after: head - 5).first?.delta.id))
            guard case let .trimmed(from) = try store.entries(of: .emea, after: 0, maxBytes: 1 << 20) else {
                Issue.record("expected the trimmed range to be reported")
                return
            }
            #expect(from > 1)
            #expect(try store.entries(of: .emea, after: head, maxBytes: 100) == .entries([]))
            await store.close()
        }
    }

    /// A catch-up whose newest state is too far ahead of our clock is
    /// refused as a whole: no case merged, no position moved.
    @Test func skewedCatchUpChangesNothing() async throws {
        try await withTemporaryDirectory { dir in
            let ahead = ManualClock(baseMillis + 10 * minuteMillis)
            let source = try openStore(dir + "/a", replica: .amer, region: "AMER", clock: ahead)
            let state = try await source.create(draft(title: "From the future"), actor: "li").state
            let target = try openStore(dir + "/b", clock: ManualClock())
            let before = target.digest
            let error = await storeError { try await target.applyCatchUp(states: [state], positions: [.amer: 1]) }
            guard case .clockSkew = error else {
                Issue.record("expected clockSkew, got \(String(describing: error))")
                return
            }
            #expect(target.digest == before)
            #expect(target.appliedPositions[.amer] == nil)
            #expect(try target.caseState(state.id) == nil)
            await source.close()
            await target.close()
        }
    }
}
