import Foundation
import GRDB
import Logging
import Synchronization

/// Copies committed pages from the write-ahead log into the database file on
/// a connection and thread of its own.
///
/// Left to SQLite, the writer does this itself every thousand pages, inside
/// the commit of whichever batch crosses the mark: a random write of each
/// page into the database file and an fsync of it, which about doubled that
/// batch's writes while every waiting write waited for it. Here a passive
/// checkpoint runs after commits, beside the writer (it never blocks it or a
/// reader). The writer keeps SQLite's own checkpoint as a bound on the log
/// (`walPages`): by the time it is reached most pages are already copied, so
/// the writer copies only the rest and starts the log over.
final class Checkpointer: Sendable {
    /// The log size at which the writer checkpoints itself: 16,000 frames
    /// of 4 KiB fit in the 64 MiB the log file is cut back to.
    static let walPages = 16_000
    /// Shortest time between two passive checkpoints: commits in between
    /// are copied together, a page many of them changed once. At 20 ms
    /// the database file was synced about 40 times a second, and each
    /// sync's random writes queued ahead of the log's next sync (twice as
    /// many commits of 10 ms or more).
    static let pause: TimeInterval = 0.25

    private let connection: DatabaseQueue
    private let logger: Logger
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let stopped = DispatchSemaphore(value: 0)

    private struct State {
        var pending = false
        var stopping = false
        var checkpoints = 0
        var failures = 0
    }

    init(path: String, durability: Durability, logger: Logger) throws {
        var configuration = Configuration()
        configuration.label = "casemesh-checkpointer"
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // The checkpoint's fsyncs follow the store's durability.
            try db.execute(sql: "PRAGMA synchronous = \(durability.pragma)")
        }
        connection = try DatabaseQueue(path: path, configuration: configuration)
        self.logger = logger
        let thread = Thread { [self] in run() }
        thread.name = "casemesh-checkpointer"
        thread.start()
    }

    /// Passive checkpoints run so far, and how many failed.
    var counts: (checkpoints: Int, failures: Int) { state.withLock { ($0.checkpoints, $0.failures) } }

    /// A batch committed: copy its pages soon.
    func committed() {
        let signal = state.withLock { state -> Bool in
            defer { state.pending = true }
            return !state.pending
        }
        if signal { wake.signal() }
    }

    /// Stops the thread (after a checkpoint in progress) and closes the
    /// connection. Only the first call does anything.
    func stop() {
        let already = state.withLock { state -> Bool in
            defer { state.stopping = true }
            return state.stopping
        }
        if already { return }
        wake.signal()
        stopped.wait()
        try? connection.close()
    }

    private func run() {
        while true {
            wake.wait()
            if state.withLock({ $0.stopping }) { break }
            state.withLock { $0.pending = false }
            do {
                try connection.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(PASSIVE)") }
                state.withLock { $0.checkpoints += 1 }
            } catch {
                // The writer's own commits and checkpoints report real
                // trouble (a full or failing disk) to writers; here it only
                // means the pages are copied later.
                let first = state.withLock { state -> Bool in
                    state.failures += 1
                    return state.failures == 1
                }
                if first { logger.warning("background checkpoint failed; the writer will copy the log itself", metadata: ["reason": "\(NodeStore.describe(error))"]) }
            }
            Thread.sleep(forTimeInterval: Self.pause)
        }
        stopped.signal()
    }
}
