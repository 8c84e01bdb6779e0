import CaseMeshCRDT
import CaseMeshDomain
import Foundation
import Glibc
import Testing

/// Seeded simulations of whole clusters (see `Simulation`). Each seed picks
/// the cluster size, log retention, fault rates and a random schedule of
/// partitions, crashes, pauses and clock skews with client writes throughout;
/// after the final heal every node must reach the same digest within the
/// deadline, and the converged state must hold every acknowledged write.
///
/// A failing seed is printed; `SIM_SEED=<n> swift test --filter SimulationTests`
/// replays exactly that seed and prints its trace.
@Suite struct SimulationTests {
    static let seedCount = 2_000
    static let chunks = 40

    /// Runs one seed; returns what went wrong (empty when it passed).
    static func check(seed: UInt64, tracing: Bool = false) -> (problems: [String], simulation: Simulation) {
        var simulation = Simulation(seed: seed, tracing: tracing)
        guard let convergence = simulation.run() else {
            let digests = simulation.nodes.map { "\($0.id)=\($0.store.cases.digest.description.prefix(12)) applied \($0.store.applied.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" })" }
            return (["no convergence within \(simulation.settings.convergenceDeadline) ms after the final heal: \(digests)"], simulation)
        }
        _ = convergence
        // The maintained digests must be what the states hash to.
        if let wrong = simulation.nodes.first(where: { $0.store.digest != $0.store.cases.digest }) {
            return (["\(wrong.id)'s running digest differs from its recomputed digest"], simulation)
        }
        return (simulation.history.problems(in: simulation.nodes[0].store.cases), simulation)
    }

    /// The simulation is pure CPU work: it runs on its own threads, not on
    /// the cooperative pool that the socket and store tests need to make
    /// progress. At most one chunk per core runs at a time, at a low
    /// priority (nice 10): the chunks start together, and forty busy
    /// threads on two cores once held back a one-second request timeout in
    /// another suite for nearly two minutes.
    @Test(arguments: 0..<chunks)
    func seedsConvergeAndKeepEveryAcknowledgedWrite(chunk: Int) async {
        let issues: [String] = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                Self.running.wait()
                defer { Self.running.signal() }
                // On Linux the nice value belongs to the calling thread.
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
                continuation.resume(returning: Self.runChunk(chunk))
            }
        }
        for issue in issues { Issue.record(Comment(rawValue: issue)) }
    }

    private static let running = DispatchSemaphore(value: ProcessInfo.processInfo.activeProcessorCount)

    /// Runs one chunk of seeds (or the replay or survey the environment asks
    /// for); returns what failed.
    static func runChunk(_ chunk: Int) -> [String] {
        var failures: [String] = []
        if let range = ProcessInfo.processInfo.environment["SIM_SEEDS"] {
            // A survey: every seed of `first-last`, with its time and outcome.
            guard chunk == 0 else { return [] }
            let bounds = range.split(separator: "-").compactMap { UInt64($0) }
            for seed in bounds[0]...bounds[bounds.count - 1] {
                let clock = ContinuousClock()
                let start = clock.now
                let (problems, simulation) = Self.check(seed: seed)
                print("seed \(seed): \(problems.isEmpty ? "ok" : "FAILED") in \(clock.now - start), \(simulation.settings.nodes) nodes, retention \(simulation.settings.retention) \(problems.first ?? "")")
            }
            return []
        }
        if let replay = ProcessInfo.processInfo.environment["SIM_SEED"] {
            guard chunk == 0, let seed = UInt64(replay) else { return [] }
            let (problems, simulation) = Self.check(seed: seed, tracing: true)
            print(simulation.trace.joined(separator: "\n"))
            print(simulation.history.notes.joined(separator: "\n"))
            print("SIM_SEED=\(seed): \(simulation.settings), \(simulation.history.acknowledged) acknowledged writes")
            if !problems.isEmpty { failures.append("SIM_SEED=\(seed):\n" + problems.joined(separator: "\n")) }
            return failures
        }
        let perChunk = Self.seedCount / Self.chunks
        for seed in UInt64(chunk * perChunk)..<UInt64((chunk + 1) * perChunk) {
            let (problems, simulation) = Self.check(seed: seed)
            if !problems.isEmpty {
                failures.append("""
                    simulation failed: replay with SIM_SEED=\(seed) swift test --filter SimulationTests
                    settings: \(simulation.settings)
                    \(problems.prefix(10).joined(separator: "\n"))
                    """)
                return failures
            }
        }
        return failures
    }
}
