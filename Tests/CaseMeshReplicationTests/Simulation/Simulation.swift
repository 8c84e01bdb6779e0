import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshReplication

/// A seeded, deterministic run of 3 to 7 nodes — the real replication engine
/// and domain over a simulated network that drops, duplicates, delays and
/// reorders messages; with symmetric and one-way partitions, bridges, paused
/// nodes, crashes and restarts (memory lost, the store kept) and skewed
/// clocks; and random client writes throughout. Everything random comes from
/// one seed, so a seed replays exactly.
struct Simulation {
    struct Settings {
        var nodes: Int
        var retention: Int
        var faultPhase: UInt64
        var operations: Int
        var dropRate: Double
        var duplicateRate: Double
        var maxDelay: UInt64
        var maxClockSkew: Int64
        /// The final heal leaves n0 and n1 cut from each other (a bridge
        /// through the others), so convergence needs forwarding.
        var finalBridge: Bool
        var convergenceDeadline: UInt64 = 120_000
        var maxOffset: UInt64 = 500
    }

    enum Event {
        case tick(Int)
        case deliver(from: Int, to: Int, ReplicationMessage, incarnation: Int)
        case applied(node: Int, incarnation: Int, ReplicationDirective)
        case client
        case nemesis
        case reconnect(Int, Int)
        case restart(Int)
        case resume(Int)
    }

    struct Node {
        let id: ReplicaID
        var store: SimStore
        var engine: ReplicationEngine
        let clock: SimClock
        var up = true
        var paused = false
        var incarnation = 0
        /// When this node's last queued store apply completes (applies run in order).
        var applyQueueEnd: UInt64 = 0
        /// Messages that reached the node while it was paused.
        var held: [(from: Int, ReplicationMessage)] = []
    }

    let seed: UInt64
    let settings: Settings
    var random: SplitMix64
    var now: UInt64 = 0
    var nodes: [Node] = []
    /// Directed links that drop everything: blocked[from][to].
    var blocked: [[Bool]]
    var history = History()
    var trace: [String] = []
    let tracing: Bool
    private var queue = EventQueue()
    let replication = ReplicationConfiguration(heartbeatInterval: 100, peerTimeout: 600, retransmitAfter: 300,
                                               catchUpTimeout: 3_000, maxMessageBytes: 16 * 1024, maxInFlightEntries: 64)

    static func settings(for seed: UInt64) -> Settings {
        var r = SplitMix64(seed: seed ^ 0x5EED)
        return Settings(nodes: Int.random(in: 3...7, using: &r), retention: [8, 20, 1_000].randomElement(using: &r)!,
                        faultPhase: UInt64.random(in: 5_000...15_000, using: &r), operations: Int.random(in: 60...160, using: &r),
                        dropRate: [0, 0.05, 0.2].randomElement(using: &r)!, duplicateRate: [0, 0.05, 0.2].randomElement(using: &r)!,
                        maxDelay: [5, 50, 200].randomElement(using: &r)!, maxClockSkew: [0, 100, 400, 900].randomElement(using: &r)!,
                        finalBridge: Int.random(in: 0..<3, using: &r) == 0)
    }

    init(seed: UInt64, tracing: Bool = false) {
        self.seed = seed
        settings = Self.settings(for: seed)
        random = SplitMix64(seed: seed)
        self.tracing = tracing
        blocked = Array(repeating: Array(repeating: false, count: settings.nodes), count: settings.nodes)
        let regions = ["EMEA", "AMER", "APAC"]
        let ids = (0..<settings.nodes).map { ReplicaID("n\($0)") }
        for (index, id) in ids.enumerated() {
            let clock = SimClock()
            clock.set(now: 1_000_000)
            let region = try! Region(regions[index % regions.count])
            let store = SimStore(node: id, region: region, retention: settings.retention, wallClock: clock, maxOffset: settings.maxOffset)
            let engine = ReplicationEngine(node: id, peers: ids, configuration: replication, now: 0)
            nodes.append(Node(id: id, store: store, engine: engine, clock: clock))
        }
    }

    // MARK: - Running

    /// Runs the fault phase, heals everything and runs until every node has
    /// the same digest. Returns the virtual time that took after the heal, or
    /// nil if the deadline passed first.
    mutating func run() -> UInt64? {
        for index in nodes.indices {
            schedule(at: UInt64(index) * 7, .tick(index))
            for other in nodes.indices where other != index { feed(index, .connected(nodes[other].id)) }
        }
        let opGap = max(1, settings.faultPhase / UInt64(settings.operations))
        for op in 0..<settings.operations { schedule(at: UInt64(op) * opGap + UInt64.random(in: 0..<opGap, using: &random), .client) }
        var t: UInt64 = 500
        while t < settings.faultPhase {
            schedule(at: t, .nemesis)
            t += UInt64.random(in: 300...2_000, using: &random)
        }
        runUntil(settings.faultPhase)
        heal()
        let healedAt = now
        while now < healedAt + settings.convergenceDeadline {
            runUntil(now + 250)
            if converged() { return now - healedAt }
        }
        return nil
    }

    func converged() -> Bool {
        guard nodes.allSatisfy({ $0.up && !$0.paused }) else { return false }
        let first = nodes[0].store.digest
        return nodes.allSatisfy { $0.store.digest == first }
    }

    private mutating func runUntil(_ end: UInt64) {
        while let next = queue.peekTime, next <= end {
            let (time, event) = queue.pop()!
            now = max(now, time)
            for node in nodes { node.clock.set(now: 1_000_000 + now) }
            process(event)
        }
        now = max(now, end)
    }

    private mutating func schedule(at time: UInt64, _ event: Event) { queue.push(time, event) }

    private mutating func log(_ text: @autoclosure () -> String) {
        if tracing { trace.append("[\(now)] \(text())") }
    }

    private mutating func process(_ event: Event) {
        switch event {
        case let .tick(index):
            schedule(at: now + 50, .tick(index))
            guard nodes[index].up, !nodes[index].paused else { return }
            feed(index, .tick(now: now))
        case let .deliver(from, to, message, incarnation):
            guard nodes[to].up, nodes[to].incarnation == incarnation || incarnation < 0 else { return }
            if nodes[to].paused {
                nodes[to].held.append((from, message))
                return
            }
            feed(to, .received(from: nodes[from].id, message))
        case let .applied(index, incarnation, directive):
            guard nodes[index].up, nodes[index].incarnation == incarnation else { return }
            executeStoreDirective(index, directive)
        case .client:
            clientOperation()
        case .nemesis:
            nemesis()
        case let .reconnect(a, b):
            connect(a, b)
        case let .restart(index):
            restart(index)
        case let .resume(index):
            guard nodes[index].paused else { return }
            nodes[index].paused = false
            log("resume n\(index)")
            let held = nodes[index].held
            nodes[index].held = []
            for (from, message) in held { feed(index, .received(from: nodes[from].id, message)) }
        }
    }

    /// Hands an event to a node's engine and carries out its directives.
    private mutating func feed(_ index: Int, _ event: ReplicationEvent) {
        guard nodes[index].up else { return }
        let directives = nodes[index].engine.handle(event, log: nodes[index].store)
        for directive in directives { carryOut(index, directive) }
    }

    private mutating func carryOut(_ index: Int, _ directive: ReplicationDirective) {
        switch directive {
        case let .send(peer, message):
            let to = nodes.firstIndex { $0.id == peer }!
            transmit(from: index, to: to, message)
        case .apply, .applyCases:
            // Store writes complete a little later, in order.
            let start = max(now, nodes[index].applyQueueEnd)
            let done = start + UInt64.random(in: 0...3, using: &random)
            nodes[index].applyQueueEnd = done
            schedule(at: done, .applied(node: index, incarnation: nodes[index].incarnation, directive))
        case .recordAcknowledgement, .readFailed:
            break
        case let .suspect(peer):
            let other = nodes.firstIndex { $0.id == peer }!
            log("n\(index) suspects n\(other)")
            feed(index, .disconnected(peer))
            schedule(at: now + UInt64.random(in: 200...800, using: &random), .reconnect(index, other))
        }
    }

    private mutating func executeStoreDirective(_ index: Int, _ directive: ReplicationDirective) {
        switch directive {
        case let .apply(entry):
            switch nodes[index].store.apply(entry) {
            case .success:
                feed(index, .committed)
            case let .failure(error):
                log("n\(index) could not apply \(entry.origin):\(entry.counter): \(error)")
                feed(index, .applyFailed(origin: entry.origin, counter: entry.counter))
            }
        case let .applyCases(states, fastForward, peer, session):
            switch nodes[index].store.applyCases(states, fastForward: fastForward) {
            case .success:
                log("n\(index) applies \(states.count) caught-up cases\(fastForward.isEmpty ? "" : " and fast-forwards")")
                feed(index, .catchUpApplied(from: peer, session: session))
            case let .failure(error):
                log("n\(index) refuses a catch-up of \(states.count) cases: \(error)")
                feed(index, .catchUpFailed(from: peer, session: session))
            }
        default:
            break
        }
    }

    private mutating func transmit(from: Int, to: Int, _ message: ReplicationMessage) {
        guard !blocked[from][to], nodes[to].up else { return }
        if Double.random(in: 0..<1, using: &random) < settings.dropRate { return }
        let copies = Double.random(in: 0..<1, using: &random) < settings.duplicateRate ? 2 : 1
        for _ in 0..<copies {
            let delay = 1 + UInt64.random(in: 0...settings.maxDelay, using: &random)
            schedule(at: now + delay, .deliver(from: from, to: to, message, incarnation: nodes[to].incarnation))
        }
    }

    private mutating func connect(_ a: Int, _ b: Int) {
        guard nodes[a].up, nodes[b].up else {
            if nodes[a].up { schedule(at: now + 500, .reconnect(a, b)) }
            return
        }
        // TCP needs both directions; a refused attempt is retried.
        if blocked[a][b] || blocked[b][a] || nodes[a].paused || nodes[b].paused {
            schedule(at: now + UInt64.random(in: 300...1_000, using: &random), .reconnect(a, b))
            return
        }
        feed(a, .connected(nodes[b].id))
        feed(b, .connected(nodes[a].id))
    }

    // MARK: - Faults

    private mutating func nemesis() {
        let n = nodes.count
        switch Int.random(in: 0..<10, using: &random) {
        case 0:
            let victim = Int.random(in: 0..<n, using: &random)
            log("isolate n\(victim)")
            for other in 0..<n where other != victim { blocked[victim][other] = true; blocked[other][victim] = true }
        case 1:
            // A bridge: two nodes cut from each other, a third reaching both.
            let a = Int.random(in: 0..<n, using: &random)
            let b = (a + 1 + Int.random(in: 0..<(n - 1), using: &random)) % n
            log("cut n\(a) from n\(b)")
            blocked[a][b] = true
            blocked[b][a] = true
        case 2:
            log("one-way ring")
            for index in 0..<n { blocked[index][(index + 1) % n] = true }
        case 3:
            log("heal links")
            blocked = Array(repeating: Array(repeating: false, count: n), count: n)
        case 4:
            let victim = Int.random(in: 0..<n, using: &random)
            guard nodes[victim].up else { return }
            log("crash n\(victim)")
            nodes[victim].up = false
            nodes[victim].paused = false
            nodes[victim].held = []
            nodes[victim].incarnation += 1
            for other in 0..<n where other != victim { feed(other, .disconnected(nodes[victim].id)) }
            schedule(at: now + UInt64.random(in: 200...3_000, using: &random), .restart(victim))
        case 5:
            let victim = Int.random(in: 0..<n, using: &random)
            guard nodes[victim].up, !nodes[victim].paused else { return }
            log("pause n\(victim)")
            nodes[victim].paused = true
            schedule(at: now + UInt64.random(in: 100...2_500, using: &random), .resume(victim))
        case 6:
            let victim = Int.random(in: 0..<n, using: &random)
            let skew = settings.maxClockSkew == 0 ? 0 : Int64.random(in: -settings.maxClockSkew...settings.maxClockSkew, using: &random)
            log("skew n\(victim) by \(skew) ms")
            nodes[victim].clock.set(skew: skew)
        default:
            break
        }
    }

    private mutating func restart(_ index: Int) {
        guard !nodes[index].up else { return }
        log("restart n\(index)")
        nodes[index].up = true
        nodes[index].applyQueueEnd = now
        nodes[index].store.restartClock(nodes[index].clock, maxOffset: settings.maxOffset)
        nodes[index].engine = ReplicationEngine(node: nodes[index].id, peers: nodes.map(\.id), configuration: replication, now: now,
                                                sessionSeed: UInt64(nodes[index].incarnation))
        for other in nodes.indices where other != index { connect(index, other) }
    }

    /// Ends every fault: links, pauses, crashes and skews.
    private mutating func heal() {
        let message = settings.finalBridge ? "final heal, leaving n0 and n1 cut from each other" : "final heal"
        log(message)
        blocked = Array(repeating: Array(repeating: false, count: nodes.count), count: nodes.count)
        if settings.finalBridge {
            blocked[0][1] = true
            blocked[1][0] = true
        }
        for index in nodes.indices {
            nodes[index].clock.set(skew: 0)
            if nodes[index].paused { process(.resume(index)) }
            if !nodes[index].up { restart(index) }
        }
    }

    // MARK: - Workload

    private mutating func clientOperation() {
        let live = nodes.indices.filter { nodes[$0].up && !nodes[$0].paused }
        guard let index = live.randomElement(using: &random) else { return }
        let known = nodes[index].store.cases.cases.keys.sorted()
        let roll = Int.random(in: 0..<100, using: &random)
        if known.isEmpty || roll < 12 {
            let id = try! CaseID("case-\(history.cases.count + 1)-\(index)")
            if let state = try? nodes[index].store.create(id, title: "Case \(id.rawValue)", actor: "engineer") {
                history.created(state, at: nodes[index].id)
            }
        } else {
            let id = known.randomElement(using: &random)!
            let state = nodes[index].store.cases[id]!
            if roll < 40 {
                let field: CaseField = Bool.random(using: &random) ? .owner : .title
                let value = "\(field.rawValue)-\(history.operations)"
                let writer = nodes[index].id
                write(index, .setFields([field: .text(value)]), on: id) { history, _, time in
                    history.fieldWritten(case: id, field: field, value: value, stamp: LWWStamp(time: time, replica: writer))
                }
            } else if roll < 60 {
                let note = try! NoteID("note-\(history.operations)")
                write(index, .addNote(id: note, text: "note \(history.operations)", visibility: .internal), on: id) { history, _, _ in
                    history.noteAdded(case: id, note: note)
                }
            } else if roll < 70, let note = state.notes.map(\.id).randomElement(using: &random) {
                write(index, .removeNote(note), on: id) { history, _, _ in history.noteRemoved(case: id, note: note) }
            } else if roll < 88 {
                let attendee = try! AttendeeID("a\(Int.random(in: 1...3, using: &random))")
                let observed = Set(state.causal.store.attendees[attendee]?.dots ?? [])
                write(index, .putAttendee(id: attendee, name: "Ana", email: "ana@example.com", role: "engineer"), on: id) { history, delta, _ in
                    let dots = delta.causal.store.attendees[attendee]?.dots ?? []
                    history.attendeePut(case: id, attendee: attendee, dots: Set(dots), observed: observed)
                    history.note("n\(index) puts \(attendee) on \(id): dots \(dots.sorted()), observed \(observed.sorted())")
                }
            } else if let attendee = state.attendees.map(\.id).randomElement(using: &random) {
                let observed = Set(state.causal.store.attendees[attendee]?.dots ?? [])
                write(index, .removeAttendee(attendee), on: id) { history, delta, _ in
                    history.attendeeRemoved(case: id, attendee: attendee, observed: observed)
                    history.note("n\(index) removes \(attendee) from \(id): observed \(observed.sorted()), delta context \(delta.causal.context)")
                }
            }
        }
        feed(index, .committed)
    }

    /// Runs a command at a node; records it in the history only if acknowledged.
    private mutating func write(_ index: Int, _ command: CaseCommand, on id: CaseID,
                                record: (inout History, CaseState, HLCTimestamp) -> Void) {
        history.operations += 1
        guard let (delta, time) = try? nodes[index].store.execute(command, on: id, actor: "engineer") else { return }
        record(&history, delta, time)
    }
}

/// A priority queue of events by time, first-in first-out among equal times.
private struct EventQueue {
    private var heap: [(time: UInt64, sequence: UInt64, event: Simulation.Event)] = []
    private var sequence: UInt64 = 0

    var peekTime: UInt64? { heap.first?.time }

    private static func before(_ a: (time: UInt64, sequence: UInt64, event: Simulation.Event),
                               _ b: (time: UInt64, sequence: UInt64, event: Simulation.Event)) -> Bool {
        a.time != b.time ? a.time < b.time : a.sequence < b.sequence
    }

    mutating func push(_ time: UInt64, _ event: Simulation.Event) {
        sequence += 1
        heap.append((time, sequence, event))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.before(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (UInt64, Simulation.Event)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count && Self.before(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count && Self.before(heap[right], heap[smallest]) { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return (top.time, top.event)
    }
}
