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

    /// Cases merged per transaction when applying a catch-up.
    static let catchUpChunk = 1_000

    private struct Attached {
        var id: Int
        var session: PeerSession
        var close: AsyncStream<Void>.Continuation
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
        sessions[peer]?.close.finish()
        sessions[peer] = Attached(id: id, session: session, close: close)
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
            try await group.next()
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
        // Consecutive applies go to the store together, so they share commits.
        var applies: [LogEntry] = []
        for directive in directives {
            if case let .apply(entry) = directive {
                applies.append(entry)
                continue
            }
            await apply(applies)
            applies = []
            await carryOut(directive)
        }
        await apply(applies)
    }

    private func apply(_ entries: [LogEntry]) async {
        guard !entries.isEmpty else { return }
        let errors = await store.applyEntries(entries)
        var failed: Set<ReplicaID> = []
        for (entry, error) in zip(entries, errors) {
            guard let error, !failed.contains(entry.origin) else { continue }
            failed.insert(entry.origin)
            logger.warning("could not apply a remote delta", metadata: ["origin": "\(entry.origin)", "counter": "\(entry.counter)", "reason": "\(error)"])
            await handle(.applyFailed(origin: entry.origin, counter: entry.counter))
        }
        if errors.contains(where: { $0 == nil }) { await handle(.committed) }
    }

    private func carryOut(_ directive: ReplicationDirective) async {
        switch directive {
        case let .send(peer, message):
            guard let attached = sessions[peer] else { return }
            do {
                try await attached.session.send(message)
            } catch {
                logger.info("sending to a peer failed", metadata: ["peer": "\(peer)", "reason": "\(error)"])
                attached.close.finish()
            }
        case let .apply(entry):
            await apply([entry])
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
