// Replay a failure with the `.fixedSeed(...)` trait PropertyBased prints; see Generators.swift.

import PropertyBased
import Testing
@testable import CaseMeshCRDT

/// One thing that happens to a node's clock.
enum ClockStep: Sendable, CustomStringConvertible {
    case now
    /// A remote timestamp `aheadMillis` from our physical clock (negative: behind).
    case receive(aheadMillis: Int64, logical: UInt32)
    /// A remote timestamp within a millisecond of our last reading — e.g. a
    /// peer that just received from us — so equal walls with either logical
    /// counter ahead are common.
    case receiveNearLast(deltaMillis: Int64, logical: UInt32)
    /// The physical clock jumps (0: stands still; negative: goes back, e.g. NTP).
    case wall(millis: Int64)
    /// The node restarts from its persisted bound, its wall clock set back.
    case restart(wallBackMillis: Int64)

    var description: String {
        switch self {
        case .now: return "now"
        case let .receive(ahead, logical): return "receive(physical+\(ahead)ms.\(logical))"
        case let .receiveNearLast(delta, logical): return "receive(last+\(delta)ms.\(logical))"
        case let .wall(millis): return "wall(\(millis))"
        case let .restart(back): return "restart(wall -\(back))"
        }
    }

    static let logicals: [UInt32] = [0, 1, 2, .max - 1, .max]

    static let gen = zip(
        Gen.int(in: 0...99), Gen.int(in: -1200...1200), Gen.int(in: 0...4), Gen.int(in: -300...300), Gen.int(in: 0...3_600_000)
    ).map { raw -> ClockStep in
        switch raw.0 {
        case 0..<40: return .now
        case 40..<55: return .receive(aheadMillis: Int64(raw.1), logical: logicals[raw.2])
        case 55..<65: return .receiveNearLast(deltaMillis: Int64(raw.3 % 2), logical: logicals[raw.2])
        case 65..<72: return .wall(millis: 0)
        case 72..<94: return .wall(millis: Int64(raw.3))
        default: return .restart(wallBackMillis: Int64(raw.4))
        }
    }
}

/// Persist windows: often 0–2 ms, so readings land exactly on a persisted
/// bound (the edge a restart must step over), otherwise up to 20 s.
let persistWindowGen = zip(Gen.bool, Gen.uint64(in: 0...2), Gen.uint64(in: 3...20_000))
    .map { $0.0 ? $0.1 : $0.2 }

/// Strictly after, by (wall, logical) — written out so the checks do not rely
/// on the `<` under test.
func isAfter(_ a: HLCTimestamp, _ b: HLCTimestamp) -> Bool {
    (a.wallMillis, a.logical) > (b.wallMillis, b.logical)
}

/// The hybrid logical clock orders every write in the system; if it ever
/// repeats or goes back, LWW picks the wrong winner and a restart could
/// reissue a stamp. These properties drive it with a wall clock that jumps
/// back and stands still, remotes ahead and behind, and restarts.
@Suite struct HLCPropertyTests {
    /// Runs random clock histories and checks, at every step: readings
    /// strictly increase across the whole history (restarts included); a
    /// reading is never below physical time; a receive is above the remote and
    /// the previous reading; a remote more than maxOffsetMillis ahead is
    /// rejected with the exact error and leaves the clock unchanged; and every
    /// reading is at or below the bound persisted before it was used.
    @Test func readingsStrictlyIncreaseThroughSkewRejectionsAndRestarts() async {
        let config = zip(Gen.uint64(in: 0...1000), persistWindowGen, Gen.uint64(in: 0...(1 << 42)))
        await propertyCheck(count: 1000, input: config, ClockStep.gen.array(of: 1...40)) { config, steps in
            let (maxOffset, window, start) = config
            let wall = ManualWallClock(start)
            var clock = HybridLogicalClock(wallClock: wall.wallClock, maxOffsetMillis: maxOffset, persistWindowMillis: window)
            var persisted: UInt64 = 0
            var highest: HLCTimestamp?

            func use(_ reading: HLCReading, physical: UInt64, _ what: String) {
                if let bound = reading.upperBoundToPersist {
                    #expect(bound >= persisted, "\(what): persisted bound went down from \(persisted) to \(bound)")
                    persisted = bound
                }
                #expect(reading.timestamp.wallMillis <= persisted, "\(what): \(reading.timestamp) is above the persisted bound \(persisted)")
                #expect(reading.timestamp.wallMillis >= physical, "\(what): \(reading.timestamp) is below physical time \(physical)")
                if let highest {
                    #expect(isAfter(reading.timestamp, highest), "\(what): \(reading.timestamp) does not follow \(highest)")
                }
                highest = reading.timestamp
            }

            for (index, step) in steps.enumerated() {
                let what = "step \(index) \(step)"
                switch step {
                case .now:
                    let physical = wall.read()
                    use(clock.now(), physical: physical, what)
                case .receive, .receiveNearLast:
                    let physical = wall.read()
                    let remote: HLCTimestamp
                    if case let .receive(ahead, logical) = step {
                        remote = HLCTimestamp(wallMillis: UInt64(max(0, Int64(physical) + ahead)), logical: logical)
                    } else if case let .receiveNearLast(delta, logical) = step {
                        remote = HLCTimestamp(wallMillis: UInt64(max(0, Int64(clock.last.wallMillis) + delta)), logical: logical)
                    } else {
                        continue
                    }
                    let before = clock
                    switch Result(catching: { () throws(HLCError) -> HLCReading in try clock.receive(remote) }) {
                    case let .success(reading):
                        #expect(remote.wallMillis <= physical + maxOffset, "\(what): accepted \(remote), physical \(physical)")
                        #expect(isAfter(reading.timestamp, remote), "\(what): \(reading.timestamp) is not after the remote")
                        use(reading, physical: physical, what)
                    case let .failure(error):
                        #expect(remote.wallMillis > physical + maxOffset, "\(what): rejected \(remote) within the offset")
                        #expect(error == .remoteTooFarAhead(remote: remote, localPhysicalMillis: physical, maxOffsetMillis: maxOffset))
                        #expect(clock.last == before.last && clock.upperBound == before.upperBound, "\(what): rejection changed the clock")
                        // Unchanged also in behaviour: the next reading is the one
                        // a clock that never saw the remote would give.
                        var untouched = before
                        let reading = clock.now()
                        let unaffected = untouched.now()
                        #expect(reading == unaffected, "\(what): the rejected remote still influenced the clock")
                        use(reading, physical: physical, what + " (then now)")
                    }
                case let .wall(millis):
                    wall.move(by: millis)
                case let .restart(back):
                    wall.move(by: -back)
                    clock = HybridLogicalClock(
                        wallClock: wall.wallClock, maxOffsetMillis: maxOffset, persistWindowMillis: window,
                        restoredUpperBound: persisted)
                }
            }
        }
    }

    /// The offset limit is inclusive: a remote exactly maxOffsetMillis ahead is
    /// accepted (and the clock follows it), one millisecond more is rejected.
    @Test func maxOffsetBoundaryIsInclusive() async {
        await propertyCheck(count: 1000, input: Gen.uint64(in: 0...5000), Gen.uint64(in: 0...(1 << 42)), Gen<UInt32>.value(in: 0...1000)) {
            maxOffset, physical, logical in
            let wall = ManualWallClock(physical)
            var clock = HybridLogicalClock(wallClock: wall.wallClock, maxOffsetMillis: maxOffset)
            let tooFar = HLCTimestamp(wallMillis: physical + maxOffset + 1, logical: logical)
            #expect(throws: HLCError.remoteTooFarAhead(remote: tooFar, localPhysicalMillis: physical, maxOffsetMillis: maxOffset)) {
                try clock.receive(tooFar)
            }
            let atLimit = HLCTimestamp(wallMillis: physical + maxOffset, logical: logical)
            let reading = try clock.receive(atLimit)
            #expect(isAfter(reading.timestamp, atLimit))
            let next = clock.now().timestamp
            #expect(isAfter(next, reading.timestamp))
        }
    }

    /// A node that crashes and restarts with its last persisted bound — after
    /// its wall clock was set back by up to an hour — never issues a timestamp
    /// at or below any timestamp issued before the crash, even one it issued
    /// in the same millisecond with a high logical counter.
    @Test func restartNeverReissuesOrPrecedesEarlierReadings() async {
        await propertyCheck(
            count: 1000, input: persistWindowGen, Gen.int(in: 1...50), Gen.int(in: 0...3_600_000),
            zip(Gen.int(in: 0...400), Gen.bool)
        ) { window, readingsBefore, wallBack, receive in
            let wall = ManualWallClock(simulationEpochMillis)
            var clock = HybridLogicalClock(wallClock: wall.wallClock, persistWindowMillis: window)
            var persisted: UInt64 = 0
            var issued: [HLCTimestamp] = []
            for i in 0..<readingsBefore {
                if i % 7 == 3 { wall.move(by: 1) }
                let reading = receive.1 && i == 0
                    ? try clock.receive(HLCTimestamp(wallMillis: wall.read() + UInt64(receive.0), logical: .max))
                    : clock.now()
                if let bound = reading.upperBoundToPersist { persisted = bound }
                issued.append(reading.timestamp)
            }
            let latest = issued.max { isAfter($1, $0) }!

            wall.move(by: -Int64(wallBack))
            var restarted = HybridLogicalClock(wallClock: wall.wallClock, persistWindowMillis: window, restoredUpperBound: persisted)
            var previous = latest
            for _ in 0..<5 {
                let next = restarted.now().timestamp
                #expect(isAfter(next, previous), "after restart: \(next) does not follow \(previous)")
                previous = next
            }
            let received = try restarted.receive(HLCTimestamp(wallMillis: wall.read(), logical: 0)).timestamp
            #expect(isAfter(received, previous))
        }
    }
}
