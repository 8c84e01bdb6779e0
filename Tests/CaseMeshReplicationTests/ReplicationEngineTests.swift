import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshReplication
import Testing

/// A scripted cluster: messages are delivered at once, in order, unless the
/// link is blocked; store directives run at once. For scenarios where the
/// exact sequence matters more than randomness.
private struct MiniCluster {
    var stores: [SimStore]
    var engines: [ReplicationEngine]
    var clocks: [SimClock]
    var blocked: Set<[Int]> = []
    var down: Set<Int> = []
    /// Messages for which this is true are lost on the way.
    var lose: (ReplicationMessage) -> Bool = { _ in false }
    var now: UInt64 = 0
    var sent: [(from: Int, to: Int, message: ReplicationMessage)] = []
    var directives: [[ReplicationDirective]]

    init(nodes: Int, retention: Int = 1_000, configuration: ReplicationConfiguration = ReplicationConfiguration()) {
        let ids = (0..<nodes).map { ReplicaID("n\($0)") }
        let clocks = ids.map { _ in let clock = SimClock(); clock.set(now: 1_000_000); return clock }
        self.clocks = clocks
        stores = ids.indices.map { SimStore(node: ids[$0], region: try! Region("EMEA"), retention: retention, wallClock: clocks[$0], maxOffset: 500) }
        engines = ids.map { ReplicationEngine(node: $0, peers: ids, configuration: configuration, now: 0) }
        directives = Array(repeating: [], count: nodes)
    }

    func id(_ index: Int) -> ReplicaID { ReplicaID("n\(index)") }
    func index(_ id: ReplicaID) -> Int { Int(id.rawValue.dropFirst())! }

    mutating func connectAll() {
        for a in stores.indices { for b in stores.indices where a != b { feed(a, .connected(id(b))) } }
        settle()
    }

    private var inbox: [(from: Int, to: Int, message: ReplicationMessage)] = []

    mutating func feed(_ node: Int, _ event: ReplicationEvent) {
        guard !down.contains(node) else { return }
        let out = engines[node].handle(event, log: stores[node])
        directives[node] += out
        for directive in out {
            switch directive {
            case let .send(peer, message):
                sent.append((node, index(peer), message))
                if !blocked.contains([node, index(peer)]) && !down.contains(index(peer)) && !lose(message) {
                    inbox.append((node, index(peer), message))
                }
            case let .apply(entry):
                if case .success = stores[node].apply(entry) { feed(node, .committed) } else {
                    feed(node, .applyFailed(origin: entry.origin, counter: entry.counter))
                }
            case let .applyCases(states, fastForward, peer, session):
                if case .success = stores[node].applyCases(states, fastForward: fastForward) {
                    feed(node, .catchUpApplied(from: peer, session: session))
                } else {
                    feed(node, .catchUpFailed(from: peer, session: session))
                }
            case .recordAcknowledgement, .suspect, .readFailed:
                break
            }
        }
    }

    /// Delivers messages until none are left.
    mutating func settle() {
        var rounds = 0
        while !inbox.isEmpty && rounds < 100_000 {
            let (from, to, message) = inbox.removeFirst()
            feed(to, .received(from: id(from), message))
            rounds += 1
        }
    }

    mutating func tick(by millis: UInt64 = 100) {
        now += millis
        for clock in clocks { clock.set(now: 1_000_000 + now) }
        for node in stores.indices { feed(node, .tick(now: now)) }
        settle()
    }

    /// Takes `node` away while node 0 creates `count` cases, brings it back
    /// (recording only what is sent from then on) and lets things settle.
    mutating func rejoin(_ node: Int, whileNodeZeroCreates count: Int, named prefix: String) {
        down = [node]
        feed(0, .disconnected(id(node)))
        for i in 0..<count { create(at: 0, "\(prefix)-\(i)") }
        down = []
        sent = []
        feed(0, .connected(id(node)))
        feed(node, .connected(id(0)))
        settle()
        for _ in 0..<3 { tick() }
    }

    mutating func create(at node: Int, _ name: String) {
        _ = try! stores[node].create(try! CaseID(name), title: name, actor: "ana")
        feed(node, .committed)
        settle()
    }
}

@Suite struct ReplicationEngineTests {
    /// Under a steady stream some entries are always waiting to be applied.
    /// As long as the applies keep landing, the engine keeps accepting the
    /// entries that follow them (giving up on pending applies after the
    /// retransmit timeout made every later entry a gap, and the stream stalled
    /// for a second); applies that stop landing are still given up on.
    @Test func pendingAppliesThatProgressAreNeverGivenUp() {
        let n0 = ReplicaID("n0"), n1 = ReplicaID("n1")
        var store = SimStore(node: n1, region: try! Region("EMEA"), retention: 100, wallClock: SimClock(), maxOffset: 500)
        var source = SimStore(node: n0, region: try! Region("EMEA"), retention: 100, wallClock: SimClock(), maxOffset: 500)
        for name in ["a", "b", "c", "d"] { _ = try! source.create(try! CaseID(name), title: name, actor: "x") }
        guard case let .entries(entries) = source.entries(of: n0, after: 0, maxBytes: 1 << 20), entries.count == 4 else {
            Issue.record("no entries")
            return
        }
        func applies(_ directives: [ReplicationDirective]) -> [UInt64] {
            directives.compactMap { if case let .apply(entry) = $0 { return entry.counter } else { return nil } }
        }
        var engine = ReplicationEngine(node: n1, peers: [n0, n1], now: 0)
        _ = engine.handle(.connected(n0), log: store)
        #expect(applies(engine.handle(.received(from: n0, .entries(Array(entries[0..<3]))), log: store)) == [1, 2, 3])
        _ = engine.handle(.tick(now: 800), log: store)
        _ = store.apply(entries[0])
        _ = engine.handle(.committed, log: store)
        _ = engine.handle(.tick(now: 1_500), log: store)
        #expect(applies(engine.handle(.received(from: n0, .entries([entries[3]])), log: store)) == [4], "entry 4 follows the pending ones")
        #expect(engine.delivery.gaps == 0)
        // No apply lands for longer than the timeout: the pending ones are given up.
        _ = engine.handle(.tick(now: 2_600), log: store)
        #expect(applies(engine.handle(.received(from: n0, .entries(Array(entries[1...]))), log: store)) == [2, 3, 4])
    }

    /// A–B–C with A and C cut from each other: A's write reaches C through B.
    @Test func bridgeForwardsBetweenNodesThatCannotTalk() {
        var cluster = MiniCluster(nodes: 3)
        cluster.blocked = [[0, 2], [2, 0]]
        cluster.connectAll()
        cluster.create(at: 0, "from-a")
        cluster.create(at: 2, "from-c")
        for _ in 0..<5 { cluster.tick() }
        for node in 0..<3 {
            #expect(cluster.stores[node].cases.count == 2, "n\(node) holds \(cluster.stores[node].cases.count) cases")
        }
        #expect(!cluster.sent.contains { ($0.from, $0.to) == (0, 2) && { if case .entries = $0.message { return true } else { return false } }($0) },
                "nothing should have been delivered directly from A to C")
        #expect(cluster.stores[2].applied[ReplicaID("n0")] == 1)
    }

    /// A node away longer than the log's retention catches up by digests:
    /// only the cases that differ are shipped, and its positions move up.
    @Test func nodeBehindTheRetainedLogCatchesUpWithOnlyTheDifferingCases() {
        var cluster = MiniCluster(nodes: 2, retention: 3)
        cluster.connectAll()
        for i in 0..<5 { cluster.create(at: 0, "shared-\(i)") }
        cluster.tick()
        #expect(cluster.stores[1].cases.count == 5)
        // n1 goes away; n0 writes more than the log keeps.
        cluster.rejoin(1, whileNodeZeroCreates: 8, named: "later")
        #expect(cluster.stores[1].digest == cluster.stores[0].digest)
        #expect(cluster.stores[1].applied == cluster.stores[0].applied)
        let shipped = cluster.sent.flatMap { item -> [[UInt8]] in
            if case let .catchUpCases(_, _, _, cases) = item.message { return cases } else { return [] }
        }
        #expect(shipped.count == 8, "shipped \(shipped.count) cases, expected only the 8 n1 lacked")
        #expect(cluster.sent.contains { if case .catchUpOffer = $0.message { return true } else { return false } })
    }

    /// With a small byte cap the catch-up request and the cases travel in
    /// several parts, and the catch-up still completes.
    @Test func catchUpSplitsRequestsAndCasesUnderTheByteCap() {
        var cluster = MiniCluster(nodes: 2, retention: 3, configuration: ReplicationConfiguration(maxMessageBytes: 250))
        cluster.connectAll()
        for i in 0..<300 { cluster.create(at: 0, "shared-\(i)") }
        cluster.tick()
        #expect(cluster.stores[1].cases.count == 300)
        cluster.rejoin(1, whileNodeZeroCreates: 40, named: "case")
        #expect(cluster.stores[1].digest == cluster.stores[0].digest)
        let requestParts = cluster.sent.compactMap { item -> Int? in
            if case let .catchUpRequest(_, _, parts, _, _) = item.message { return parts } else { return nil }
        }
        #expect((requestParts.max() ?? 0) > 1, "the request should have been split: \(requestParts)")
        let caseParts = cluster.sent.compactMap { item -> Int? in
            if case let .catchUpCases(_, part, _, _) = item.message { return part + 1 } else { return nil }
        }
        #expect((caseParts.max() ?? 0) > 1)
    }

    /// Parts of a catch-up are merged as they arrive, but the positions
    /// move only once every part is durable: with a part lost, the node
    /// keeps its old positions (so the missing cases are not skipped), and
    /// the offer made again after the catch-up timeout completes it.
    @Test func lostCatchUpPartNeverRaisesPositions() {
        var cluster = MiniCluster(nodes: 2, retention: 3, configuration: ReplicationConfiguration(catchUpTimeout: 2_000, maxMessageBytes: 400))
        cluster.connectAll()
        for i in 0..<20 { cluster.create(at: 0, "shared-\(i)") }
        cluster.tick()
        let before = cluster.stores[1].applied
        cluster.lose = { message in
            if case let .catchUpCases(_, part, _, _) = message { return part == 1 } else { return false }
        }
        cluster.rejoin(1, whileNodeZeroCreates: 40, named: "case")
        let parts = cluster.sent.compactMap { item -> Int? in
            if case let .catchUpCases(_, part, _, _) = item.message { return part + 1 } else { return nil }
        }
        try! #require((parts.max() ?? 0) > 2, "the catch-up should have come in several parts: \(parts)")
        #expect(cluster.stores[1].applied == before, "positions moved over a lost part: \(cluster.stores[1].applied)")
        #expect(cluster.stores[1].cases.count > 20, "the parts that arrived should have been merged")
        #expect(cluster.stores[1].digest != cluster.stores[0].digest)
        cluster.lose = { _ in false }
        for _ in 0..<30 { cluster.tick(by: 200) }
        #expect(cluster.stores[1].digest == cluster.stores[0].digest)
        #expect(cluster.stores[1].applied == cluster.stores[0].applied)
    }

    /// The sender reads and sends catch-up parts only as the receiver merges
    /// them: with the receiver's acknowledgements lost, no more than the
    /// window goes out; the stalled catch-up starts over after its timeout.
    @Test func catchUpPartsWaitForTheReceiverToMergeThem() {
        var cluster = MiniCluster(nodes: 2, retention: 3,
                                  configuration: ReplicationConfiguration(catchUpTimeout: 2_000, maxMessageBytes: 400, catchUpWindow: 3))
        cluster.connectAll()
        cluster.lose = { message in
            if case .catchUpAck = message { return true } else { return false }
        }
        cluster.rejoin(1, whileNodeZeroCreates: 40, named: "case")
        let parts = cluster.sent.filter { item in
            if case .catchUpCases = item.message { return true } else { return false }
        }
        #expect(parts.count == 3, "\(parts.count) parts went out without acknowledgements, the window is 3")
        #expect(cluster.stores[1].digest != cluster.stores[0].digest)
        cluster.lose = { _ in false }
        for _ in 0..<30 { cluster.tick(by: 200) }
        #expect(cluster.stores[1].digest == cluster.stores[0].digest)
        #expect(cluster.stores[1].applied == cluster.stores[0].applied)
    }

    /// An unanswered offer is made again with the same session (answering
    /// takes a while on a large store; a new session would throw that work
    /// away), and a receiver that already answered it sends its request again.
    @Test func lostRequestIsSentAgainForTheSameOffer() {
        var cluster = MiniCluster(nodes: 2, retention: 3)
        cluster.connectAll()
        for i in 0..<10 { cluster.create(at: 0, "shared-\(i)") }
        cluster.tick()
        final class Once: @unchecked Sendable { var spent = false }
        let once = Once()
        cluster.lose = { message in
            guard case .catchUpRequest = message, !once.spent else { return false }
            once.spent = true
            return true
        }
        cluster.rejoin(1, whileNodeZeroCreates: 8, named: "later")
        #expect(once.spent, "a request should have been sent (and lost)")
        for _ in 0..<15 { cluster.tick(by: 100) }
        #expect(cluster.stores[1].digest == cluster.stores[0].digest)
        let sessions = Set(cluster.sent.compactMap { item -> UInt64? in
            switch item.message {
            case let .catchUpOffer(session, _, _), let .catchUpRequest(session, _, _, _, _): return session
            default: return nil
            }
        })
        #expect(sessions.count == 1, "the offer should have been repeated with its session: \(sessions)")
        let requests = cluster.sent.filter { if case .catchUpRequest = $0.message { return true } else { return false } }
        #expect(requests.count == 2)
    }

    /// A part the store refuses (here: a clock too far ahead) abandons the
    /// catch-up: later parts are not fast-forwarded over it.
    @Test func refusedCatchUpPartAbandonsTheCatchUp() {
        let store = SimStore(node: ReplicaID("n1"), region: try! Region("EMEA"), retention: 100, wallClock: SimClock(), maxOffset: 500)
        var engine = ReplicationEngine(node: ReplicaID("n1"), peers: [ReplicaID("n0"), ReplicaID("n1")], now: 0)
        let peer = ReplicaID("n0")
        _ = engine.handle(.connected(peer), log: store)
        let positions: LogPositions = [peer: 50]
        let offer = engine.handle(.received(from: peer, .catchUpOffer(session: 7, positions: positions,
                                                                      buckets: Array(repeating: StateDigest(bytes: [UInt8](repeating: 1, count: 32)), count: CaseBucket.count))),
                                  log: store)
        #expect(offer.contains { if case .send(_, .catchUpRequest) = $0 { return true } else { return false } })
        let first = engine.handle(.received(from: peer, .catchUpCases(session: 7, part: 0, last: false, cases: [])), log: store)
        #expect(first == [.applyCases([], fastForward: [:], from: peer, session: 7)])
        _ = engine.handle(.catchUpFailed(from: peer, session: 7), log: store)
        let second = engine.handle(.received(from: peer, .catchUpCases(session: 7, part: 1, last: true, cases: [])), log: store)
        #expect(!second.contains { if case .applyCases = $0 { return true } else { return false } }, "\(second)")
        _ = engine.handle(.catchUpApplied(from: peer, session: 7), log: store)
        #expect(store.applied[peer] == nil)
        // Once both parts are durable, the last directive raises the positions.
        _ = engine.handle(.received(from: peer, .catchUpOffer(session: 8, positions: positions,
                                                              buckets: Array(repeating: StateDigest(bytes: [UInt8](repeating: 1, count: 32)), count: CaseBucket.count))),
                          log: store)
        for part in [1, 0] {
            let out = engine.handle(.received(from: peer, .catchUpCases(session: 8, part: part, last: part == 1, cases: [])), log: store)
            #expect(out == [.applyCases([], fastForward: [:], from: peer, session: 8)])
            let done = engine.handle(.catchUpApplied(from: peer, session: 8), log: store)
            #expect(done.contains(.send(to: peer, .catchUpAck(session: 8, parts: part == 1 ? 1 : 2))), "\(done)")
            let fastForward = done.contains(.applyCases([], fastForward: positions, from: peer, session: 8))
            #expect(fastForward == (part == 0), "part \(part): \(done)")
        }
    }

    /// A peer that acknowledges nothing gets at most the in-flight window,
    /// and entries are sent again after the retransmit timeout.
    @Test func unacknowledgedEntriesAreCappedAndRetransmitted() {
        var cluster = MiniCluster(nodes: 2, configuration: ReplicationConfiguration(retransmitAfter: 1_000, maxInFlightEntries: 4))
        cluster.connectAll()
        cluster.blocked = [[1, 0]]  // n1 hears n0 but its acks never arrive
        cluster.down = [1]
        for i in 0..<10 { cluster.create(at: 0, "case-\(i)") }
        func entriesSent(_ cluster: MiniCluster) -> [UInt64] {
            cluster.sent.filter { $0.from == 0 }.flatMap { item -> [UInt64] in
                if case let .entries(entries) = item.message { return entries.map(\.counter) } else { return [] }
            }
        }
        #expect(entriesSent(cluster) == [1, 2, 3, 4], "sent \(entriesSent(cluster))")
        cluster.tick(by: 500)
        #expect(entriesSent(cluster).count == 4)
        cluster.tick(by: 600)
        #expect(entriesSent(cluster) == [1, 2, 3, 4, 1, 2, 3, 4], "after the timeout the window is sent again: \(entriesSent(cluster))")
    }

    /// Messages are split at the byte cap (a single larger entry still goes, alone).
    @Test func messagesStayUnderTheByteCap() {
        var cluster = MiniCluster(nodes: 2, configuration: ReplicationConfiguration(maxMessageBytes: 600))
        cluster.connectAll()
        for i in 0..<12 { cluster.create(at: 0, "case-\(i)") }
        cluster.tick()
        let batches = cluster.sent.compactMap { item -> [LogEntry]? in
            if case let .entries(entries) = item.message { return entries } else { return nil }
        }
        #expect(batches.count > 1)
        for batch in batches where batch.count > 1 {
            #expect(batch.reduce(0) { $0 + $1.delta.count } <= 600)
        }
        #expect(cluster.stores[1].cases.count == 12)
    }

    /// Silence longer than the peer timeout makes the peer suspect (a DROP
    /// partition never closes the socket); heartbeats keep a quiet peer alive.
    @Test func silentPeerIsSuspectedAndQuietPeerIsNot() {
        var cluster = MiniCluster(nodes: 3, configuration: ReplicationConfiguration(heartbeatInterval: 100, peerTimeout: 1_000))
        cluster.connectAll()
        for _ in 0..<20 { cluster.tick(by: 100) }
        #expect(cluster.directives.allSatisfy { !$0.contains { if case .suspect = $0 { return true } else { return false } } })
        cluster.blocked = [[2, 0], [2, 1]]
        for _ in 0..<12 { cluster.tick(by: 100) }
        #expect(cluster.directives[0].contains(.suspect(ReplicaID("n2"))))
        #expect(cluster.directives[1].contains(.suspect(ReplicaID("n2"))))
        #expect(!cluster.directives[0].contains(.suspect(ReplicaID("n1"))))
        #expect(cluster.engines[0].livePeers == [ReplicaID("n1")])
    }

    /// Entries after a gap are not applied; the receiver reports where it
    /// stands instead, and duplicates are not applied twice.
    @Test func gapsAndDuplicatesAreNotApplied() {
        var store = SimStore(node: ReplicaID("n1"), region: try! Region("EMEA"), retention: 100, wallClock: SimClock(), maxOffset: 500)
        var source = SimStore(node: ReplicaID("n0"), region: try! Region("EMEA"), retention: 100, wallClock: SimClock(), maxOffset: 500)
        _ = try! source.create(try! CaseID("a"), title: "a", actor: "x")
        _ = try! source.create(try! CaseID("b"), title: "b", actor: "x")
        guard case let .entries(entries) = source.entries(of: ReplicaID("n0"), after: 0, maxBytes: 1 << 20) else {
            Issue.record("no entries")
            return
        }
        var engine = ReplicationEngine(node: ReplicaID("n1"), peers: [ReplicaID("n0"), ReplicaID("n1")], now: 0)
        _ = engine.handle(.connected(ReplicaID("n0")), log: store)
        let gap = engine.handle(.received(from: ReplicaID("n0"), .entries([entries[1]])), log: store)
        #expect(!gap.contains { if case .apply = $0 { return true } else { return false } })
        #expect(gap.contains(.send(to: ReplicaID("n0"), .applied([:]))))
        let first = engine.handle(.received(from: ReplicaID("n0"), .entries(entries)), log: store)
        #expect(first.filter { if case .apply = $0 { return true } else { return false } }.count == 2)
        // The same entries again while the applies are still pending: nothing new.
        let again = engine.handle(.received(from: ReplicaID("n0"), .entries(entries)), log: store)
        #expect(!again.contains { if case .apply = $0 { return true } else { return false } })
        for entry in entries { _ = store.apply(entry) }
        _ = engine.handle(.committed, log: store)
        #expect(store.applied[ReplicaID("n0")] == 2)
    }
}
