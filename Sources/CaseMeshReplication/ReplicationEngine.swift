import CaseMeshCRDT
import CaseMeshDomain

/// Something that happened to the node, fed into the engine by its shell.
public enum ReplicationEvent: Sendable, Equatable {
    /// Time passed; `now` is in milliseconds and never goes back.
    case tick(now: UInt64)
    /// A connection to `peer` is up (after the TLS handshake and identity check).
    case connected(ReplicaID)
    /// The connection to `peer` is gone.
    case disconnected(ReplicaID)
    case received(from: ReplicaID, ReplicationMessage)
    /// A message from `peer` arrived and waits behind others to be handled:
    /// the peer is alive even while we are busy (e.g. merging a catch-up).
    case heard(ReplicaID)
    /// Entries became durable in the node's log: local writes, applied
    /// remote entries, conflict follow-ups or a catch-up.
    case committed
    /// The shell could not apply `origin`'s entry `counter` (it is kept
    /// unacknowledged and will arrive again).
    case applyFailed(origin: ReplicaID, counter: UInt64)
    /// An `applyCases` of catch-up `session` from `peer` is durable.
    case catchUpApplied(from: ReplicaID, session: UInt64)
    /// An `applyCases` of catch-up `session` from `peer` could not be done
    /// (nothing of it happened); the catch-up is abandoned and offered again.
    case catchUpFailed(from: ReplicaID, session: UInt64)
}

/// What the engine wants done. The shell executes directives in order; an
/// `apply` or `applyCases` that fails stops the ones after it.
public enum ReplicationDirective: Sendable, Equatable {
    case send(to: ReplicaID, ReplicationMessage)
    /// Apply a received entry (entries of one origin arrive in order), then
    /// report `.committed` or `.applyFailed`.
    case apply(LogEntry)
    /// Merge these full case states from part of catch-up `session` with
    /// `peer` and raise the applied positions to at least `fastForward`
    /// (empty for every part but the last directive, which carries no
    /// cases), all or nothing, then report `.catchUpApplied` or
    /// `.catchUpFailed` (e.g. a clock too far ahead; the sender offers the
    /// catch-up again after its timeout).
    case applyCases([[UInt8]], fastForward: LogPositions, from: ReplicaID, session: UInt64)
    /// Remember what `peer` has acknowledged (shown to operators, survives restarts).
    case recordAcknowledgement(peer: ReplicaID, positions: LogPositions)
    /// `peer` has been silent for the peer timeout: close its connection so
    /// the transport reconnects.
    case suspect(ReplicaID)
    /// Reading the store failed; the work is retried on a later tick. For the log.
    case readFailed(String)
}

/// Delta-interval anti-entropy between the nodes of a cluster, as a pure
/// state machine: events in, directives out, time fed in by the shell. The
/// same code runs in the node and in the deterministic simulation.
///
/// Every node ships every origin's log entries (its own and those it
/// received) to each peer, from what that peer has acknowledged, so a node
/// that reaches only one other still converges through it. Acknowledgements
/// are the receiver's applied positions, reported only for durable entries.
/// A peer that needs entries the log no longer holds is caught up by
/// comparing bucket digests, then case fingerprints in the buckets that differ,
/// and shipping only the cases that differ.
public struct ReplicationEngine: Sendable {
    public let node: ReplicaID
    public let configuration: ReplicationConfiguration
    public private(set) var now: UInt64
    private var peers: [ReplicaID: Peer]
    /// Highest counter per origin handed to the shell to apply.
    private var pending: LogPositions = [:]
    /// Since when the pending applies of each origin have made no progress,
    /// and where they stood then. Under a steady stream entries are always
    /// pending, so the clock restarts whenever applied positions advance:
    /// only applies that stopped reporting back are given up on.
    private var pendingSince: [ReplicaID: (time: UInt64, applied: UInt64)] = [:]
    private var incoming: [ReplicaID: IncomingCatchUp] = [:]
    private var nextSession: UInt64

    struct Peer: Sendable {
        var connected = false
        var alive = true
        /// Its positions arrived since the connection came up.
        var heard = false
        var lastHeard: UInt64 = 0
        /// Connected or heard from at least once since start (for views).
        var contacted = false
        var lastSent: UInt64 = 0
        var acked: LogPositions = [:]
        var recorded: LogPositions = [:]
        /// Highest counter sent per origin (acknowledged or not).
        var sent: LogPositions = [:]
        /// Last time the acknowledgements moved (or sending started afresh).
        var lastProgress: UInt64 = 0
        /// Our positions as last reported to the peer.
        var reported: LogPositions = [:]
        var outgoing: OutgoingCatchUp?

        var inFlight: UInt64 {
            sent.reduce(0) { total, item in total + (item.value > (acked[item.key] ?? 0) ? item.value - (acked[item.key] ?? 0) : 0) }
        }
    }

    /// A catch-up being given to a peer. The differing cases are listed
    /// once the peer's whole request is here, then read and sent part by
    /// part as the peer reports them merged, at most `catchUpWindow` ahead.
    struct OutgoingCatchUp: Sendable {
        var session: UInt64
        var positions: LogPositions
        var started: UInt64
        /// When the offer was last made, or the catch-up last moved on. An
        /// unanswered offer is made again, with the same session, after the
        /// retransmit timeout: answering takes a while on a large store, and
        /// a new session would replace the one being answered. An offer
        /// unanswered, or a catch-up stalled, for the catch-up timeout is dropped.
        var lastProgress: UInt64
        var answered = false
        /// The parts of the peer's request received so far.
        var requests: [Int: (buckets: [Int], have: [CaseFingerprint])] = [:]
        /// The cases to ship, in order; the first `queued` of them have been read.
        var queue: [CaseID]?
        var queued = 0
        /// States read but not yet sent (a read can run past a part's byte
        /// cap), the next one last.
        var carried: [[UInt8]] = []
        var partsSent = 0
        var partsMerged = 0
        var finished = false
    }

    /// A catch-up being received. Each part is merged as it arrives (so the
    /// sender's reading overlaps our merging); the positions move only once
    /// every part is durable, so a lost or refused part can never leave
    /// positions raised over missing cases.
    struct IncomingCatchUp: Sendable {
        var session: UInt64
        var positions: LogPositions
        var lastProgress: UInt64
        /// Our request, kept to send again if the same offer comes again
        /// before any case has arrived (the request was lost).
        var request: [ReplicationMessage]
        var requestSent: UInt64
        /// How many parts there are (known once the last one arrives).
        var partCount: Int?
        var received: Set<Int> = []
        var merged = 0
        /// The positions-only directive is out.
        var fastForwarding = false
    }

    /// `acknowledged` is what each peer had acknowledged before a restart;
    /// nothing is shipped to a peer before it reports its positions anyway.
    public init(node: ReplicaID, peers: [ReplicaID], configuration: ReplicationConfiguration = ReplicationConfiguration(),
                now: UInt64, acknowledged: [ReplicaID: LogPositions] = [:], sessionSeed: UInt64 = 0) {
        self.node = node
        self.configuration = configuration
        self.now = now
        var table: [ReplicaID: Peer] = [:]
        for peer in peers where peer != node {
            var state = Peer()
            state.acked = acknowledged[peer] ?? [:]
            state.recorded = state.acked
            table[peer] = state
        }
        self.peers = table
        // Sessions of different incarnations must not be confused: mix in the seed.
        nextSession = sessionSeed << 20
    }

    /// The positions each peer has acknowledged.
    public var acknowledged: [ReplicaID: LogPositions] { peers.mapValues(\.acked) }

    /// What the engine knows of one peer, for operators.
    public struct PeerView: Sendable, Equatable {
        public var peer: ReplicaID
        public var connected: Bool
        public var alive: Bool
        /// Engine time the peer was last heard from (nil if never since start).
        public var lastHeard: UInt64?
        public var acknowledged: LogPositions
    }

    /// Entries received out of order (after a gap) and dropped, and times
    /// entries sent to a peer went unacknowledged for the retransmit timeout
    /// and were sent again. On healthy links both stay 0.
    public private(set) var delivery = ReplicationDelivery()

    public var peerViews: [PeerView] {
        peers.keys.sorted().map { peer in
            let state = peers[peer]!
            return PeerView(peer: peer, connected: state.connected, alive: state.connected && state.alive,
                            lastHeard: state.contacted ? state.lastHeard : nil, acknowledged: state.acked)
        }
    }

    /// Peers currently considered reachable.
    public var livePeers: [ReplicaID] { peers.filter { $0.value.connected && $0.value.alive }.map(\.key).sorted() }

    public mutating func handle(_ event: ReplicationEvent, log: some ReplicaLog) -> [ReplicationDirective] {
        var out: [ReplicationDirective] = []
        switch event {
        case let .tick(time):
            now = max(now, time)
            onTick(log: log, out: &out)
        case let .connected(peer):
            guard var state = peers[peer] else { return [] }
            state.connected = true
            state.alive = true
            state.heard = false
            state.lastHeard = now
            state.sent = state.acked
            state.outgoing = nil
            peers[peer] = state
            report(to: peer, log: log, out: &out)
        case let .disconnected(peer):
            guard var state = peers[peer] else { return [] }
            state.connected = false
            state.heard = false
            state.sent = state.acked
            state.outgoing = nil
            peers[peer] = state
            incoming[peer] = nil
        case let .received(peer, message):
            guard peers[peer] != nil else { return [] }
            onReceive(message, from: peer, log: log, out: &out)
        case let .heard(peer):
            guard peers[peer] != nil else { return [] }
            markHeard(peer)
        case .committed:
            onCommitted(log: log, out: &out)
        case let .catchUpApplied(peer, session):
            if var state = incoming[peer], state.session == session {
                if state.fastForwarding {
                    incoming[peer] = nil
                } else {
                    state.merged += 1
                    state.lastProgress = now
                    incoming[peer] = state
                    send(.catchUpAck(session: session, parts: state.merged), to: peer, out: &out)
                    if state.merged == state.partCount {
                        incoming[peer]!.fastForwarding = true
                        out.append(.applyCases([], fastForward: state.positions, from: peer, session: session))
                    }
                }
            }
            onCommitted(log: log, out: &out)
        case let .catchUpFailed(peer, session):
            if incoming[peer]?.session == session { incoming[peer] = nil }
        case let .applyFailed(origin, counter):
            // Forget this and later pending entries; they will be received again.
            if let current = pending[origin], current >= counter {
                let applied = log.applied[origin] ?? 0
                if counter - 1 <= applied {
                    pending[origin] = nil
                    pendingSince[origin] = nil
                } else {
                    pending[origin] = counter - 1
                }
            }
        }
        return out
    }

    private mutating func onCommitted(log: some ReplicaLog, out: inout [ReplicationDirective]) {
        let applied = log.applied
        for (origin, counter) in pending {
            let position = applied[origin] ?? 0
            if counter <= position {
                pending[origin] = nil
                pendingSince[origin] = nil
            } else if let since = pendingSince[origin], position > since.applied {
                pendingSince[origin] = (now, position)
            }
        }
        for peer in peers.keys.sorted() { acknowledgeIfBehind(peer, applied: applied, out: &out) }
        shipAll(log: log, out: &out)
    }

    // MARK: - Receiving

    private mutating func markHeard(_ peer: ReplicaID) {
        peers[peer]!.lastHeard = now
        peers[peer]!.contacted = true
        if !peers[peer]!.alive {
            peers[peer]!.alive = true
            peers[peer]!.sent = peers[peer]!.acked
        }
    }

    private mutating func onReceive(_ message: ReplicationMessage, from peer: ReplicaID, log: some ReplicaLog,
                                    out: inout [ReplicationDirective]) {
        markHeard(peer)
        switch message {
        case let .applied(positions):
            onPositions(positions, from: peer)
            ship(to: peer, log: log, out: &out)

        case let .entries(entries):
            let applied = log.applied
            var behind = false
            for entry in entries {
                let base = max(applied[entry.origin] ?? 0, pending[entry.origin] ?? 0)
                if entry.counter == base + 1 {
                    if pending[entry.origin] == nil || pendingSince[entry.origin] == nil {
                        pendingSince[entry.origin] = (now, applied[entry.origin] ?? 0)
                    }
                    pending[entry.origin] = entry.counter
                    out.append(.apply(entry))
                } else {
                    // A duplicate or a gap: tell the sender where we stand.
                    if entry.counter > base + 1 { delivery.gaps += 1 }
                    behind = true
                }
            }
            if behind { send(.applied(applied), to: peer, out: &out) }

        case let .catchUpOffer(session, positions, buckets):
            let applied = log.applied
            if positions.allSatisfy({ (applied[$0.key] ?? 0) >= $0.value }) || buckets.count != CaseBucket.count {
                send(.applied(applied), to: peer, out: &out)
                return
            }
            if let current = incoming[peer], current.session == session {
                // The same offer again: our request is on its way, or was lost.
                if current.received.isEmpty && now - current.requestSent >= configuration.retransmitAfter {
                    incoming[peer]!.requestSent = now
                    for message in current.request { send(message, to: peer, out: &out) }
                }
                return
            }
            do {
                let mine = try log.bucketDigests()
                let differing = (0..<CaseBucket.count).filter { mine[$0] != buckets[$0] }
                var byBucket = Array(repeating: [CaseFingerprint](), count: CaseBucket.count)
                for (id, fingerprint) in try log.caseFingerprints(inBuckets: differing) { byBucket[CaseBucket.of(id)].append(fingerprint) }
                // Whole buckets per part, each part under the byte cap.
                var parts: [(buckets: [Int], have: [CaseFingerprint])] = [([], [])]
                var bytes = 0
                for bucket in differing {
                    let size = 2 + byBucket[bucket].count * 16
                    if bytes + size > configuration.maxMessageBytes && !parts[parts.count - 1].buckets.isEmpty {
                        parts.append(([], []))
                        bytes = 0
                    }
                    parts[parts.count - 1].buckets.append(bucket)
                    parts[parts.count - 1].have += byBucket[bucket]
                    bytes += size
                }
                for index in parts.indices { parts[index].have.sort() }
                let request = parts.enumerated().map { index, part in
                    ReplicationMessage.catchUpRequest(session: session, part: index, parts: parts.count, buckets: part.buckets, have: part.have)
                }
                incoming[peer] = IncomingCatchUp(session: session, positions: positions, lastProgress: now, request: request, requestSent: now)
                for message in request { send(message, to: peer, out: &out) }
            } catch {
                out.append(.readFailed("answering a catch-up offer from \(peer): \(error)"))
            }

        case let .catchUpRequest(session, part, partCount, requestBuckets, requestHave):
            guard var outgoing = peers[peer]!.outgoing, outgoing.session == session, partCount > 0, (0..<partCount).contains(part),
                  outgoing.requests[part] == nil, outgoing.queue == nil else { return }
            outgoing.answered = true
            outgoing.lastProgress = now
            outgoing.requests[part] = (requestBuckets, requestHave)
            peers[peer]!.outgoing = outgoing
            // Answered once every part of the request is here.
            guard outgoing.requests.count == partCount else { return }
            let buckets = outgoing.requests.values.flatMap(\.buckets)
            var have = Set<CaseFingerprint>(minimumCapacity: outgoing.requests.values.reduce(0) { $0 + $1.have.count })
            for request in outgoing.requests.values { have.formUnion(request.have) }
            do {
                let mine = try log.caseFingerprints(inBuckets: buckets.filter { (0..<CaseBucket.count).contains($0) })
                outgoing.queue = mine.filter { !have.contains($0.fingerprint) }.map(\.id).sorted()
                outgoing.requests = [:]
            } catch {
                // The offer is made again after the catch-up timeout.
                out.append(.readFailed("answering a catch-up request from \(peer): \(error)"))
                return
            }
            peers[peer]!.outgoing = outgoing
            shipCatchUp(to: peer, log: log, out: &out)

        case let .catchUpAck(session, parts):
            guard var outgoing = peers[peer]!.outgoing, outgoing.session == session, parts > outgoing.partsMerged else { return }
            outgoing.partsMerged = min(parts, outgoing.partsSent)
            outgoing.lastProgress = now
            peers[peer]!.outgoing = outgoing
            shipCatchUp(to: peer, log: log, out: &out)

        case let .catchUpCases(session, part, last, cases):
            guard var state = incoming[peer], state.session == session, !state.received.contains(part),
                  part < (state.partCount ?? Int.max), !last || state.received.allSatisfy({ $0 < part }) else { return }
            if last { state.partCount = part + 1 }
            state.received.insert(part)
            state.lastProgress = now
            incoming[peer] = state
            out.append(.applyCases(cases, fastForward: [:], from: peer, session: session))
        }
    }

    /// Sends the next parts of a catch-up, reading the cases as it goes,
    /// while the peer has fewer than `catchUpWindow` parts left to merge.
    private mutating func shipCatchUp(to peer: ReplicaID, log: some ReplicaLog, out: inout [ReplicationDirective]) {
        guard var outgoing = peers[peer]?.outgoing, let queue = outgoing.queue else { return }
        defer { peers[peer]!.outgoing = outgoing }
        while !outgoing.finished && outgoing.partsSent - outgoing.partsMerged < configuration.catchUpWindow {
            var cases: [[UInt8]] = []
            var bytes = 0
            while true {
                if outgoing.carried.isEmpty {
                    guard outgoing.queued < queue.count else { break }
                    let slice = Array(queue[outgoing.queued..<min(outgoing.queued + 64, queue.count)])
                    do {
                        outgoing.carried = try log.encodedCases(slice).reversed()
                    } catch {
                        // The catch-up stalls and is offered again after its timeout.
                        out.append(.readFailed("reading cases to catch up \(peer): \(error)"))
                        return
                    }
                    outgoing.queued += slice.count
                    continue
                }
                let next = outgoing.carried[outgoing.carried.count - 1]
                if !cases.isEmpty && bytes + next.count > configuration.maxMessageBytes { break }
                cases.append(outgoing.carried.removeLast())
                bytes += next.count
            }
            outgoing.finished = outgoing.carried.isEmpty && outgoing.queued >= queue.count
            send(.catchUpCases(session: outgoing.session, part: outgoing.partsSent, last: outgoing.finished, cases: cases), to: peer, out: &out)
            outgoing.partsSent += 1
        }
    }

    private mutating func onPositions(_ positions: LogPositions, from peer: ReplicaID) {
        var state = peers[peer]!
        state.heard = true
        var advanced = false
        for (origin, counter) in positions where counter > (state.acked[origin] ?? 0) {
            state.acked[origin] = counter
            advanced = true
        }
        if advanced { state.lastProgress = now }
        for (origin, counter) in state.acked where counter > (state.sent[origin] ?? 0) { state.sent[origin] = counter }
        if let outgoing = state.outgoing, outgoing.positions.allSatisfy({ (state.acked[$0.key] ?? 0) >= $0.value }) {
            state.outgoing = nil
        }
        peers[peer] = state
    }

    // MARK: - Sending

    private mutating func send(_ message: ReplicationMessage, to peer: ReplicaID, out: inout [ReplicationDirective]) {
        peers[peer]!.lastSent = now
        if case let .applied(positions) = message { peers[peer]!.reported = positions }
        out.append(.send(to: peer, message))
    }

    private mutating func report(to peer: ReplicaID, log: some ReplicaLog, out: inout [ReplicationDirective]) {
        send(.applied(log.applied), to: peer, out: &out)
    }

    /// Tells a connected peer our positions when entries from others became
    /// durable since we last did (our own writes reach it as entries).
    private mutating func acknowledgeIfBehind(_ peer: ReplicaID, applied: LogPositions, out: inout [ReplicationDirective]) {
        guard let state = peers[peer], state.connected, state.alive else { return }
        let changed = applied.contains { origin, counter in origin != node && counter != (state.reported[origin] ?? 0) }
        if changed { send(.applied(applied), to: peer, out: &out) }
    }

    private mutating func shipAll(log: some ReplicaLog, out: inout [ReplicationDirective]) {
        for peer in peers.keys.sorted() { ship(to: peer, log: log, out: &out) }
    }

    /// Sends `peer` the entries it lacks, within the in-flight window.
    private mutating func ship(to peer: ReplicaID, log: some ReplicaLog, out: inout [ReplicationDirective]) {
        guard var state = peers[peer], state.connected, state.alive, state.heard else { return }
        let applied = log.applied
        var inFlight = state.inFlight
        let wasIdle = inFlight == 0
        let window = UInt64(configuration.maxInFlightEntries)
        var batch: [LogEntry] = []
        var bytes = 0
        var sentAny = false
        func flush(_ out: inout [ReplicationDirective]) {
            guard !batch.isEmpty else { return }
            out.append(.send(to: peer, .entries(batch)))
            batch = []
            bytes = 0
            sentAny = true
        }
        originLoop: for origin in applied.keys.sorted() where origin != peer {
            let head = applied[origin] ?? 0
            var from = max(state.sent[origin] ?? 0, state.acked[origin] ?? 0)
            readLoop: while from < head && inFlight < window {
                if bytes >= configuration.maxMessageBytes { flush(&out) }
                let read: LogRead
                do {
                    read = try log.entries(of: origin, after: from, maxBytes: max(configuration.maxMessageBytes - bytes, 1))
                } catch {
                    out.append(.readFailed("reading \(origin)'s log for \(peer): \(error)"))
                    state.sent[origin] = from
                    break originLoop
                }
                switch read {
                case let .entries(entries):
                    var progressed = false
                    for entry in entries {
                        guard entry.counter == from + 1, inFlight < window else { break }
                        batch.append(entry)
                        bytes += entry.wireSize
                        from = entry.counter
                        inFlight += 1
                        progressed = true
                    }
                    if !progressed { break readLoop }
                case .trimmed:
                    if state.outgoing == nil {
                        flush(&out)
                        let offer = startCatchUp(log: log)
                        do {
                            let buckets = try log.bucketDigests()
                            state.outgoing = offer
                            out.append(.send(to: peer, .catchUpOffer(session: offer.session, positions: offer.positions, buckets: buckets)))
                            sentAny = true
                        } catch {
                            out.append(.readFailed("reading bucket digests for \(peer): \(error)"))
                        }
                    }
                    continue originLoop
                }
            }
            state.sent[origin] = from
        }
        flush(&out)
        if sentAny {
            if wasIdle { state.lastProgress = now }
            state.lastSent = now
        }
        peers[peer] = state
    }

    private mutating func startCatchUp(log: some ReplicaLog) -> OutgoingCatchUp {
        nextSession += 1
        // Positions first: the digests read after them cover at least these entries.
        return OutgoingCatchUp(session: nextSession, positions: log.applied, started: now, lastProgress: now)
    }

    // MARK: - Time

    private mutating func onTick(log: some ReplicaLog, out: inout [ReplicationDirective]) {
        let applied = log.applied
        for origin in pending.keys.sorted() {
            guard let since = pendingSince[origin] else { continue }
            if (applied[origin] ?? 0) >= (pending[origin] ?? 0) {
                pending[origin] = nil
                pendingSince[origin] = nil
            } else if now - since.time > configuration.retransmitAfter {
                // Applies that never reported back: accept those entries again.
                pending[origin] = nil
                pendingSince[origin] = nil
            }
        }
        for (peer, state) in incoming where now - state.lastProgress > configuration.catchUpTimeout {
            incoming[peer] = nil
        }
        for peer in peers.keys.sorted() {
            var state = peers[peer]!
            guard state.connected else { continue }
            if state.alive && now - state.lastHeard > configuration.peerTimeout {
                state.alive = false
                state.sent = state.acked
                state.outgoing = nil
                peers[peer] = state
                out.append(.suspect(peer))
                continue
            }
            var offerAgain = false
            if let outgoing = state.outgoing {
                if now - (outgoing.answered ? outgoing.lastProgress : outgoing.started) > configuration.catchUpTimeout {
                    state.outgoing = nil
                } else if !outgoing.answered && now - outgoing.lastProgress > configuration.retransmitAfter {
                    offerAgain = true
                }
            }
            if state.inFlight > 0 && now - state.lastProgress > configuration.retransmitAfter {
                delivery.retransmissions += 1
                state.sent = state.acked
                state.lastProgress = now
            }
            if state.acked != state.recorded && state.heard {
                out.append(.recordAcknowledgement(peer: peer, positions: state.acked))
                state.recorded = state.acked
            }
            peers[peer] = state
            if offerAgain, let outgoing = state.outgoing {
                do {
                    let buckets = try log.bucketDigests()
                    peers[peer]!.outgoing!.lastProgress = now
                    send(.catchUpOffer(session: outgoing.session, positions: outgoing.positions, buckets: buckets), to: peer, out: &out)
                } catch {
                    out.append(.readFailed("reading bucket digests for \(peer): \(error)"))
                }
            }
            if now - peers[peer]!.lastSent >= configuration.heartbeatInterval { report(to: peer, log: log, out: &out) }
            ship(to: peer, log: log, out: &out)
        }
    }
}
