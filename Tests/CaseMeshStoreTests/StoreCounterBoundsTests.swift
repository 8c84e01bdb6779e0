import Foundation
import Testing
import CaseMeshCRDT
import CaseMeshDomain
@testable import CaseMeshStore

/// Log counters arrive from peers over the network as unsigned 64-bit
/// numbers. Whatever their value, the store must answer or refuse — never
/// stop the process on an arithmetic overflow or a failed conversion to
/// SQLite's signed integers. The ones that could stop the process run in a
/// child process (an exit test), so a failure is reported instead of
/// taking the whole test run down; the parent owns the data directory, so
/// it is removed even when the child stops abruptly.
@Suite struct StoreCounterBoundsTests {
    /// Asking for the deltas after Int64.max (beyond anything logged) yields no deltas.
    @Test func deltasAfterInt64MaxAreEmpty() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock())
            _ = try await store.create(draft(), actor: actor)
            #expect(try logEntries(store, of: .emea, after: UInt64(Int64.max)).isEmpty)
            await store.close()
        }
    }

    /// Asking for the deltas after a counter above Int64.max yields no
    /// deltas (the counter does not fit SQLite's signed integers).
    @Test func deltasAfterCountersAboveInt64MaxAreEmpty() async throws {
        try await withTemporaryDirectory { dir in
            await #expect(processExitsWith: .success) { [dir = dir as String] in
                let store = try openStore(dir, clock: ManualClock())
                _ = try await store.create(draft(), actor: actor)
                guard case let .deltas(entries) = try store.deltas(of: .emea, after: UInt64(Int64.max) + 1, limit: 10), entries.isEmpty else {
                    exit(2)
                }
                await store.close()
            }
        }
    }

    /// Asking for the deltas after UInt64.max yields no deltas (`after + 1`
    /// does not fit a UInt64).
    @Test func deltasAfterTheLargestCounterAreEmpty() async throws {
        try await withTemporaryDirectory { dir in
            await #expect(processExitsWith: .success) { [dir = dir as String] in
                let store = try openStore(dir, clock: ManualClock())
                _ = try await store.create(draft(), actor: actor)
                guard case let .deltas(entries) = try store.deltas(of: .emea, after: .max, limit: 10), entries.isEmpty else {
                    exit(2)
                }
                await store.close()
            }
        }
    }

    /// An acknowledgement with a counter above Int64.max is stored or
    /// refused with a StoreError, and the store keeps working.
    @Test func ackWithHugeCounterDoesNotStopTheProcess() async throws {
        try await withTemporaryDirectory { dir in
            await #expect(processExitsWith: .success) { [dir = dir as String] in
                let store = try openStore(dir, clock: ManualClock())
                do {
                    try await store.recordAck(peer: .amer, origin: .emea, counter: UInt64(Int64.max) + 1)
                } catch {
                    // A refusal is fine; stopping the process is not.
                }
                _ = try await store.create(draft(), actor: actor)
                await store.close()
            }
        }
    }

    /// A remote delta numbered far beyond the applied position is a gap,
    /// refused with `.outOfOrder`, and nothing is stored.
    @Test func hugeRemoteCounterIsAGap() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock()
            let emea = try openStore(dir + "/emea", clock: clock)
            let amer = try openStore(dir + "/amer", replica: .amer, region: "AMER", clock: clock)
            let created = try await emea.create(draft(), actor: actor)
            for counter in [UInt64(Int64.max), UInt64(Int64.max) + 1, UInt64.max] {
                let error = await storeError { try await amer.applyRemote(origin: .emea, counter: counter, delta: created.state) }
                guard case let .outOfOrder(_, expected, got)? = error else {
                    Issue.record("counter \(counter): expected .outOfOrder, got \(String(describing: error))")
                    continue
                }
                #expect(expected == 1 && got == counter)
            }
            #expect(amer.digest.cases == 0)
            #expect(amer.appliedPositions.isEmpty)
            await amer.close()
            await emea.close()
        }
    }
}
