import Foundation
import Testing
import CaseMeshCRDT
import CaseMeshDomain
@testable import CaseMeshStore

/// Per-peer acknowledgements: what each peer has confirmed of each
/// origin's deltas, which replication uses to ship only what a peer lacks.
@Suite struct StorePeerAckTests {
    /// An acknowledgement only moves forward (a late, lower one is
    /// ignored), is kept per peer and origin, and survives a reopen.
    @Test func recordAckKeepsTheMaximumAndSurvivesReopen() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock()
            let store = try openStore(dir, clock: clock, durability: .normal)
            #expect(try store.peerAcks().isEmpty)

            try await store.recordAck(peer: .amer, origin: .emea, counter: 5)
            try await store.recordAck(peer: .amer, origin: .emea, counter: 3)
            #expect(try store.peerAcks() == [.amer: [.emea: 5]])
            try await store.recordAck(peer: .amer, origin: .emea, counter: 9)
            try await store.recordAck(peer: .amer, origin: .apac, counter: 2)
            try await store.recordAck(peer: .apac, origin: .emea, counter: 7)
            try await store.recordAck(peer: .apac, origin: .emea, counter: 0)
            let expected: [ReplicaID: [ReplicaID: UInt64]] = [.amer: [.emea: 9, .apac: 2], .apac: [.emea: 7]]
            #expect(try store.peerAcks() == expected)
            await store.close()

            let reopened = try openStore(dir, clock: clock, durability: .normal)
            #expect(try reopened.peerAcks() == expected)
            try await reopened.recordAck(peer: .amer, origin: .emea, counter: 8)
            #expect(try reopened.peerAcks()[.amer]?[.emea] == 9)
            await reopened.close()
        }
    }

    /// Concurrent acknowledgements from many tasks end at the highest one.
    @Test func concurrentAcksEndAtTheHighest() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock())
            try await withThrowingTaskGroup(of: Void.self) { group in
                for counter in (1...50).shuffled() {
                    group.addTask { try await store.recordAck(peer: .amer, origin: .emea, counter: UInt64(counter)) }
                }
                try await group.waitForAll()
            }
            #expect(try store.peerAcks() == [.amer: [.emea: 50]])
            await store.close()
        }
    }
}
