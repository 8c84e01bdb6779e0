import Testing
@testable import CaseMeshCRDT

/// A restarted node starts its clock above the persisted bound; with the
/// default settings that jump must stay within what peers accept, or the
/// node's writes would be rejected as clock skew right after a restart.
@Suite struct HLCRestartTests {
    final class Wall: @unchecked Sendable {
        var now: UInt64
        init(_ now: UInt64) { self.now = now }
    }

    @Test(arguments: [UInt64(10), 100, 500, 2_000])
    func restartedTimestampsAreAcceptedByPeersWithTheSameDefaults(maxOffset: UInt64) throws {
        let wall = Wall(1_700_000_000_000)
        let wallClock = FunctionWallClock { wall.now }
        var node = HybridLogicalClock(wallClock: wallClock, maxOffsetMillis: maxOffset)
        #expect(node.persistWindowMillis * 2 <= maxOffset)
        var persisted: UInt64 = 0
        var last = HLCTimestamp.zero
        for _ in 0..<50 {
            let reading = node.now()
            if let bound = reading.upperBoundToPersist { persisted = bound }
            last = reading.timestamp
        }
        // Restart at the same wall time: the first reading jumps above the bound.
        var restarted = HybridLogicalClock(wallClock: wallClock, maxOffsetMillis: maxOffset, restoredUpperBound: persisted)
        let first = restarted.now().timestamp
        #expect(first > last)
        var peer = HybridLogicalClock(wallClock: wallClock, maxOffsetMillis: maxOffset)
        #expect(throws: Never.self) { _ = try peer.receive(first) }
    }

    /// A peer cannot make our next dot overflow: counters beyond Int64 are refused when decoded.
    @Test func hugeDotCountersAreRefused() {
        var writer = ByteWriter()
        Dot(ReplicaID("a"), UInt64.max).encode(to: &writer)
        #expect(throws: CodecError.self) { _ = try Dot(decoding: writer.finish()) }
    }
}
