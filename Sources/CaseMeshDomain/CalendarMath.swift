/// Calendar arithmetic on Unix milliseconds without locale or formatter
/// state, so results are identical on every node.
public enum CalendarMath {
    public static let millisPerMinute: Int64 = 60_000
    public static let millisPerDay: Int64 = 86_400_000

    /// Days since 1970-01-01 of a civil date (proleptic Gregorian), after
    /// Howard Hinnant's `days_from_civil`.
    public static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The civil date of a day number.
    public static func civil(days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// 0 = Monday … 6 = Sunday.
    public static func weekday(days: Int64) -> Int {
        Int(((days % 7) + 7 + 3) % 7)
    }

    /// Parses `YYYY-MM-DD` (a whole day) or `YYYY-MM-DDTHH:MM[:SS]Z` (UTC).
    public static func parseISO(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int64? {
            guard range.upperBound <= bytes.count else { return nil }
            var value: Int64 = 0
            for i in range {
                guard bytes[i] >= 0x30 && bytes[i] <= 0x39 else { return nil }
                value = value * 10 + Int64(bytes[i] - 0x30)
            }
            return value
        }
        guard bytes.count >= 10, bytes[4] == 0x2D, bytes[7] == 0x2D,
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              (1...12).contains(month), (1...31).contains(day) else { return nil }
        let dayNumber = days(year: year, month: month, day: day)
        guard civil(days: dayNumber) == (year, month, day) else { return nil }  // e.g. 2026-02-30
        var millis = dayNumber * millisPerDay
        if bytes.count == 10 { return millis }
        guard bytes[10] == 0x54, bytes.last == 0x5A, let hour = number(11..<13), bytes.count > 13, bytes[13] == 0x3A,
              let minute = number(14..<16), hour < 24, minute < 60 else { return nil }
        var second: Int64 = 0
        if bytes.count == 20 {
            guard bytes[16] == 0x3A, let s = number(17..<19), s < 60 else { return nil }
            second = s
        } else if bytes.count != 17 {
            return nil
        }
        millis += ((hour * 60 + minute) * 60 + second) * 1000
        return millis
    }

    /// `YYYY-MM-DD` when the time is midnight UTC, else `YYYY-MM-DDTHH:MM:SSZ`.
    public static func isoDate(millis: Int64) -> String {
        let dayNumber = floorDiv(millis, millisPerDay)
        let (y, m, d) = civil(days: dayNumber)
        let date = "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))"
        let rest = millis - dayNumber * millisPerDay
        if rest == 0 { return date }
        let seconds = rest / 1000
        return "\(date)T\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):\(pad(seconds % 60, 2))Z"
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
