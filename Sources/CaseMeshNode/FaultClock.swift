import CaseMeshCRDT
import Synchronization

/// The node's wall clock when fault injection is switched on: the real clock
/// plus an offset the chaos harness can move (a clock bump), and optionally
/// a strobe that adds `strobeMillis` during every other `strobePeriodMillis`
/// of real time, so the clock jumps back and forth many times a second.
///
/// Clock skew is one of the faults the replication protocol must survive
/// (peers refuse timestamps too far ahead; the hybrid clock never runs
/// backwards), and on one machine the only way to skew a node is through the
/// clock it reads. A node without `--fault-injection` reads the system clock
/// directly and this type is not used.
public final class FaultClock: WallClock {
    public struct Setting: Sendable, Equatable {
        public var offsetMillis: Int64 = 0
        public var strobeMillis: Int64 = 0
        public var strobePeriodMillis: Int64 = 0
        public init(offsetMillis: Int64 = 0, strobeMillis: Int64 = 0, strobePeriodMillis: Int64 = 0) {
            self.offsetMillis = offsetMillis
            self.strobeMillis = strobeMillis
            self.strobePeriodMillis = strobePeriodMillis
        }
    }

    /// Largest offset or strobe accepted: a day either way.
    public static let limitMillis: Int64 = 86_400_000

    private let base: any WallClock
    private let setting = Mutex(Setting())

    public init(base: any WallClock = SystemWallClock()) { self.base = base }

    public var current: Setting { setting.withLock { $0 } }

    public func set(_ new: Setting) { setting.withLock { $0 = new } }

    public func nowMillis() -> UInt64 {
        let real = base.nowMillis()
        let now = setting.withLock { $0 }
        var shift = now.offsetMillis
        if now.strobeMillis != 0, now.strobePeriodMillis > 0, (Int64(clamping: real) / now.strobePeriodMillis) % 2 == 1 {
            shift += now.strobeMillis
        }
        return UInt64(clamping: max(0, Int64(clamping: real) + shift))
    }
}
