import Foundation
import Synchronization

/// A region's working hours: a time zone, working weekdays, opening hours
/// and holidays. SLA clocks on business time only run inside these hours.
public struct BusinessCalendar: Sendable, Equatable {
    public var timeZoneIdentifier: String
    /// 0 = Monday … 6 = Sunday.
    public var workdays: Set<Int>
    /// Minutes after local midnight.
    public var opensAt: Int
    public var closesAt: Int
    /// Local dates (`YYYY-MM-DD`) with no business hours.
    public var holidays: Set<String>

    public init(timeZoneIdentifier: String, workdays: Set<Int> = [0, 1, 2, 3, 4], opensAt: Int = 9 * 60, closesAt: Int = 17 * 60, holidays: Set<String> = []) {
        self.timeZoneIdentifier = timeZoneIdentifier
        self.workdays = workdays
        self.opensAt = opensAt
        self.closesAt = closesAt
        self.holidays = holidays
    }

    /// Round-the-clock: every minute counts (Sev1/Sev2 clocks).
    public static let continuous = BusinessCalendar(timeZoneIdentifier: "UTC", workdays: Set(0...6), opensAt: 0, closesAt: 24 * 60)

    /// Office hours of the regions CaseMesh ships with; other regions use UTC office hours.
    public static func standard(for region: String) -> BusinessCalendar {
        switch region {
        case "EMEA": return emea
        case "AMER": return amer
        case "APAC": return apac
        default: return utc
        }
    }

    // Built once: every write works out its case's SLA deadline.
    private static let emea = BusinessCalendar(timeZoneIdentifier: "Europe/London")
    private static let amer = BusinessCalendar(timeZoneIdentifier: "America/New_York")
    private static let apac = BusinessCalendar(timeZoneIdentifier: "Asia/Singapore")
    private static let utc = BusinessCalendar(timeZoneIdentifier: "UTC")

    /// Resolving a zone by name reads the zone database; do it once per name.
    private static let zones = Mutex<[String: TimeZone]>([:])

    private var timeZone: TimeZone {
        let identifier = timeZoneIdentifier
        return Self.zones.withLock { zones in
            if let zone = zones[identifier] { return zone }
            let zone = TimeZone(identifier: identifier) ?? TimeZone(secondsFromGMT: 0)!
            zones[identifier] = zone
            return zone
        }
    }

    /// The instant `minutes` business minutes after `start` (Unix ms).
    public func adding(minutes: Int64, to start: Int64) -> Int64 {
        precondition(minutes >= 0, "business minutes must not be negative")
        guard opensAt < closesAt, !workdays.isEmpty else { return Int64.max }
        if self == .continuous { return start + minutes * CalendarMath.millisPerMinute }
        let zone = timeZone
        var remaining = minutes * CalendarMath.millisPerMinute
        var cursor = start
        var day = CalendarMath.floorDiv(start + offset(zone, at: start), CalendarMath.millisPerDay)
        // A year of days is far more than any SLA needs; stop rather than loop.
        for _ in 0..<(366 * 2) {
            if isWorkingDay(day) {
                // The offset at local noon covers DST switches, which happen at night.
                let dayStartLocal = day * CalendarMath.millisPerDay
                let zoneOffset = dayOffset(zone, at: dayStartLocal + 12 * 3_600_000)
                let open = dayStartLocal + Int64(opensAt) * CalendarMath.millisPerMinute - zoneOffset
                let close = dayStartLocal + Int64(closesAt) * CalendarMath.millisPerMinute - zoneOffset
                let from = max(cursor, open)
                if from < close {
                    if remaining <= close - from { return from + remaining }
                    remaining -= close - from
                }
            }
            day += 1
            cursor = max(cursor, day * CalendarMath.millisPerDay - dayOffset(zone, at: day * CalendarMath.millisPerDay))
        }
        return Int64.max
    }

    public func isWorkingDay(_ day: Int64) -> Bool {
        guard workdays.contains(CalendarMath.weekday(days: day)) else { return false }
        if holidays.isEmpty { return true }
        return !holidays.contains(String(CalendarMath.isoDate(millis: day * CalendarMath.millisPerDay).prefix(10)))
    }

    private func offset(_ zone: TimeZone, at millis: Int64) -> Int64 {
        Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(millis) / 1000))) * 1000
    }

    /// The zone's offset at one of the fixed instants `adding` asks about
    /// for each day it walks (local noon, UTC midnight), remembered: every
    /// write works out its case's SLA deadline, walking a week or two of
    /// days, and asking the zone database costs more than the rest. Exact
    /// instants are the keys, so nothing is rounded.
    private func dayOffset(_ zone: TimeZone, at millis: Int64) -> Int64 {
        let key = ZoneInstant(zone: timeZoneIdentifier, millis: millis)
        if let known = Self.dayOffsets.withLock({ $0[key] }) { return known }
        let computed = offset(zone, at: millis)
        Self.dayOffsets.withLock { offsets in
            if offsets.count >= Self.dayOffsetLimit { offsets.removeAll(keepingCapacity: true) }
            offsets[key] = computed
        }
        return computed
    }

    private struct ZoneInstant: Hashable {
        var zone: String
        var millis: Int64
    }

    private static let dayOffsets = Mutex<[ZoneInstant: Int64]>([:])
    /// Two instants a day for a few zones over a few years; beyond this the memory starts over.
    private static let dayOffsetLimit = 16_384
}
