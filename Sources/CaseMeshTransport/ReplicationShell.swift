import CaseMeshCRDT
import CaseMeshReplication
import Logging

/// The I/O shell around the pure `ReplicationEngine`: feeds it time,
/// connections, messages and commits; carries out its directives against the
/// store and the peer sessions. All engine calls are serialised by the actor.
public actor ReplicationShell {
    private var engine: ReplicationEngine
    private let store: any ReplicaStore
    private let logger: Logger
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant
    private var sessions: [ReplicaID: Attached] = [:]
    private var nextAttachment = 0
    /// Commit signals from `notifyCommitted`; holding at most one pending
    /// signal coalesces a burst of commits into one shipping round.
    private let commitSignals: AsyncStream<Void>
    private let commitSignal: AsyncStream<Void>.Continuation
    /// Remote entries the engine accepted and the store has not applied yet,
    /// in the engine's order; one task applies them, taking all that queued
    /// up during the previous commit in one go. Receiving never waits for a
    /// commit, so a busy link's many small messages share commits instead of
    /// each paying for one (which capped a peer at one message per fsync).
    private var applyQueue: [LogEntry] = []
    private var applying = false

    /// Cases merged per transaction when applying a catch-up.
    static let catchUpChunk = 1_000

    private struct Attached {
        var id: Int
        var session: PeerSession
        var close: AsyncStream<Void>.Continuation
        /// Messages for the peer, in the order the engine produced them; one
        /// task writes them. (Writing from each handler instead let a later
        /// message overtake an earlier one while the actor was reentered: the
        /// peer saw a gap, dropped the later entries and waited a second for
        /// the retransmission.)
        var outbox: AsyncStream<ReplicationMessage>.Continuation
    }

    public init(node: ReplicaID, peers: [ReplicaID], store: any ReplicaStore,
                configuration: ReplicationConfiguration = ReplicationConfiguration(), logger: Logger) {
        started = clock.now
        engine = ReplicationEngine(node: node, peers: peers, configuration: configuration, now: 0,
                                   sessionSeed: UInt64.random(in: 0..<(1 << 40)))
        self.store = store
        self.logger = logger
        (commitSignals, commitSignal) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    private var now: UInt64 {
        let elapsed = clock.now - started
        return UInt64(elapsed.components.seconds) * 1_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000_000_000)
    }

    /// Ticks the engine until cancelled.
    public func runTicks(every interval: Duration = .milliseconds(50)) async {
        while !Task.isCancelled {
            await handle(.tick(now: now))
            try? await Task.sleep(for: interval)
        }
    }

    /// Each peer as the engine sees it, with the time since it was last heard in milliseconds.
    public func peerStatus() -> [(view: ReplicationEngine.PeerView, millisSinceHeard: UInt64?)] {
        let current = now
        return engine.peerViews.map { view in (view, view.lastHeard.map { current >= $0 ? current - $0 : 0 }) }
    }

    /// Entries dropped for arriving after a gap, and retransmission rounds:
    /// both stay 0 on a healthy link.
    public func delivery() -> ReplicationDelivery {
        engine.delivery
    }

    /// Tell the engine that local writes committed (ships them to peers).
    public func committed() async {
        await handle(.committed)
    }

    /// Signals that local writes committed, without waiting: a write's
    /// answer must not wait for replication, which ships asynchronously.
    /// `runCommitSignals` turns the signals into shipping rounds.
    public nonisolated func notifyCommitted() {
        commitSignal.yield()
    }

    /// Ships after each (coalesced) commit signal, until cancelled.
    public func runCommitSignals() async {
        for await _ in commitSignals {
            if Task.isCancelled { break }
            await handle(.committed)
        }
    }

    /// Runs one authenticated connection: hands its messages to the engine
    /// until it ends or the engine suspects the peer.
    public func attach(_ session: PeerSession, messages: AsyncThrowingStream<ReplicationMessage, any Error>) async throws {
        let peer = session.peer
        nextAttachment += 1
        let id = nextAttachment
        let (closeSignal, close) = AsyncStream<Void>.makeStream()
        let (outgoing, outbox) = AsyncStream<ReplicationMessage>.makeStream()
        sessions[peer]?.close.finish()
        sessions[peer] = Attached(id: id, session: session, close: close, outbox: outbox)
        await handle(.connected(peer))
        defer {
            Task { await self.detach(peer, id: id) }
        }
        // Frames are read as they arrive and handled in order behind them:
        // while a large catch-up part is being merged, the peer's heartbeats
        // still count, so a busy node does not suspect a live peer.
        let (inbox, queue) = AsyncStream<ReplicationMessage>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { queue.finish() }
                for try await message in messages {
                    queue.yield(message)
                    await self.handle(.heard(peer))
                }
            }
            group.addTask {
                for await message in inbox { await self.handle(.received(from: peer, message)) }
            }
            group.addTask {
                for await _ in closeSignal {}
            }
            group.addTask {
                do {
                    for await message in outgoing { try await session.send(message) }
                } catch {
                    self.logger.info("sending to a peer failed", metadata: ["peer": "\(peer)", "reason": "\(error)"])
                }
            }
            try await group.next()
            outbox.finish()
            group.cancelAll()
        }
    }

    private func detach(_ peer: ReplicaID, id: Int) async {
        guard sessions[peer]?.id == id else { return }
        sessions[peer] = nil
        await handle(.disconnected(peer))
    }

    private func handle(_ event: ReplicationEvent) async {
        let directives = engine.handle(event, log: store)
        // Sends and applies are queued at once, before anything awaits, so
        // they keep the engine's order across reentrant calls.
        var rest: [ReplicationDirective] = []
        for directive in directives {
            switch directive {
            case let .send(peer, message): sessions[peer]?.outbox.yield(message)
            case let .apply(entry): enqueue(entry)
            default: rest.append(directive)
            }
        }
        for directive in rest { await carryOut(directive) }
    }

    private func enqueue(_ entry: LogEntry) {
        applyQueue.append(entry)
        guard !applying else { return }
        applying = true
        Task { await self.drainApplies() }
    }

    /// Applies what is queued, again and again, until nothing is.
    private func drainApplies() async {
        while !applyQueue.isEmpty {
            let batch = applyQueue
            applyQueue = []
            await apply(batch)
        }
        applying = false
    }

    private func apply(_ entries: [LogEntry]) async {
        guard !entries.isEmpty else { return }
        let errors = await store.applyEntries(entries)
        var failed: Set<ReplicaID> = []
        for (entry, error) in zip(entries, errors) {
            guard let error, !failed.contains(entry.origin) else { continue }
            failed.insert(entry.origin)
            // Later entries of that origin cannot apply either; the engine asks for them again.
            applyQueue.removeAll { $0.origin == entry.origin && $0.counter >= entry.counter }
            logger.warning("could not apply a remote delta", metadata: ["origin": "\(entry.origin)", "counter": "\(entry.counter)", "reason": "\(error)"])
            await handle(.applyFailed(origin: entry.origin, counter: entry.counter))
        }
        if errors.contains(where: { $0 == nil }) { await handle(.committed) }
    }

    private func carryOut(_ directive: ReplicationDirective) async {
        switch directive {
        case let .send(peer, message):
            sessions[peer]?.outbox.yield(message)
        case let .apply(entry):
            enqueue(entry)
        case let .applyCases(states, positions, peer, session):
            // Merging states is always safe, so a large part is merged in
            // transactions of a bounded size.
            do {
                var start = 0
                while start < states.count - Self.catchUpChunk {
                    try await store.applyCatchUp(Array(states[start..<(start + Self.catchUpChunk)]), positions: [:])
                    start += Self.catchUpChunk
                }
                try await store.applyCatchUp(Array(states[start...]), positions: positions)
                if !positions.isEmpty { logger.info("caught up from a peer", metadata: ["peer": "\(peer)"]) }
                await handle(.catchUpApplied(from: peer, session: session))
            } catch {
                logger.warning("could not apply a catch-up; it will be offered again",
                               metadata: ["peer": "\(peer)", "cases": "\(states.count)", "reason": "\(error)"])
                await handle(.catchUpFailed(from: peer, session: session))
            }
        case let .recordAcknowledgement(peer, positions):
            do {
                try await store.recordAcknowledgement(peer: peer, positions: positions)
            } catch {
                logger.warning("could not record a peer's acknowledgement", metadata: ["peer": "\(peer)", "reason": "\(error)"])
            }
        case let .suspect(peer):
            logger.warning("peer silent for too long; dropping its connection", metadata: ["peer": "\(peer)"])
            sessions[peer]?.close.finish()
        case let .readFailed(reason):
            logger.error("reading the store for replication failed", metadata: ["reason": "\(reason)"])
        }
    }
}
