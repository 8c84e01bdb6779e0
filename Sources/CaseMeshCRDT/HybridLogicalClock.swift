/// A source of physical time in milliseconds since the Unix epoch. Injected so
/// tests, simulations and fault injection can skew or freeze time.
public protocol WallClock: Sendable {
    func nowMillis() -> UInt64
}

/// A wall clock whose reading is a closure, for tests and simulations.
public struct FunctionWallClock: WallClock {
    let read: @Sendable () -> UInt64
    public init(_ read: @escaping @Sendable () -> UInt64) { self.read = read }
    public func nowMillis() -> UInt64 { read() }
}

/// What the clock hands out: the timestamp, and — when the timestamp moved past
/// the persisted upper bound — the new bound that must be durable *before* the
/// timestamp is used. This keeps the clock pure: the I/O shell persists.
public struct HLCReading: Sendable, Equatable {
    public let timestamp: HLCTimestamp
    public let upperBoundToPersist: UInt64?
}

public enum HLCError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A remote timestamp was further ahead of our physical clock than allowed.
    case remoteTooFarAhead(remote: HLCTimestamp, localPhysicalMillis: UInt64, maxOffsetMillis: UInt64)

    public var description: String {
        switch self {
        case let .remoteTooFarAhead(remote, local, maxOffset):
            return "remote timestamp \(remote) is \(remote.wallMillis - local) ms ahead of the local clock (\(local)); the maximum allowed offset is \(maxOffset) ms"
        }
    }
}

/// A hybrid logical clock in the style of CockroachDB's `hlc` package.
///
/// - Readings never go backwards, even when the wall clock does.
/// - Remote timestamps more than `maxOffsetMillis` ahead of the local physical
///   clock are rejected with a typed error instead of dragging our clock along.
/// - Every issued timestamp has a wall component at or below a persisted upper
///   bound. After a restart the clock is created with that bound and starts
///   strictly above it, so a restart never reissues or precedes an old reading.
public struct HybridLogicalClock: Sendable {
    public let maxOffsetMillis: UInt64
    /// How far ahead of the current reading a newly persisted bound reaches.
    /// Larger means fewer writes of the bound, at the price of a jump forward
    /// of up to this much after a restart — so it stays below half the max
    /// offset, or peers would reject a restarted node's timestamps.
    public let persistWindowMillis: UInt64
    public private(set) var last: HLCTimestamp
    public private(set) var upperBound: UInt64
    private let wallClock: any WallClock

    public init(
        wallClock: any WallClock,
        maxOffsetMillis: UInt64 = 500,
        persistWindowMillis: UInt64? = nil,
        restoredUpperBound: UInt64 = 0
    ) {
        self.wallClock = wallClock
        self.maxOffsetMillis = maxOffsetMillis
        self.persistWindowMillis = persistWindowMillis ?? max(1, maxOffsetMillis / 2)
        self.upperBound = restoredUpperBound
        // Every pre-restart reading had wallMillis <= restoredUpperBound.
        self.last = restoredUpperBound == 0 ? .zero : HLCTimestamp(wallMillis: restoredUpperBound + 1, logical: 0)
    }

    /// A timestamp for a local event.
    public mutating func now() -> HLCReading {
        let physical = wallClock.nowMillis()
        if physical > last.wallMillis {
            last = HLCTimestamp(wallMillis: physical, logical: 0)
        } else {
            last = Self.successor(of: last)
        }
        return reading()
    }

    /// Folds a timestamp received from another replica into the clock and
    /// returns a timestamp for the receive event, which is above both.
    public mutating func receive(_ remote: HLCTimestamp) throws(HLCError) -> HLCReading {
        let physical = wallClock.nowMillis()
        if remote.wallMillis > physical &+ maxOffsetMillis {
            throw .remoteTooFarAhead(remote: remote, localPhysicalMillis: physical, maxOffsetMillis: maxOffsetMillis)
        }
        if physical > last.wallMillis && physical > remote.wallMillis {
            last = HLCTimestamp(wallMillis: physical, logical: 0)
        } else if last.wallMillis == remote.wallMillis {
            last = Self.successor(of: HLCTimestamp(wallMillis: last.wallMillis, logical: max(last.logical, remote.logical)))
        } else if last.wallMillis > remote.wallMillis {
            last = Self.successor(of: last)
        } else {
            last = Self.successor(of: remote)
        }
        return reading()
    }

    private mutating func reading() -> HLCReading {
        if last.wallMillis > upperBound {
            upperBound = last.wallMillis + persistWindowMillis
            return HLCReading(timestamp: last, upperBoundToPersist: upperBound)
        }
        return HLCReading(timestamp: last, upperBoundToPersist: nil)
    }

    private static func successor(of t: HLCTimestamp) -> HLCTimestamp {
        if t.logical == .max { return HLCTimestamp(wallMillis: t.wallMillis + 1, logical: 0) }
        return HLCTimestamp(wallMillis: t.wallMillis, logical: t.logical + 1)
    }
}
