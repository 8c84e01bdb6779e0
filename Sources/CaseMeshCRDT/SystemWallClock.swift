#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The real clock (CLOCK_REALTIME). Only composition roots should create it;
/// everything else takes a `WallClock` so tests can control time.
public struct SystemWallClock: WallClock {
    public init() {}
    public func nowMillis() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }
}
