import Foundation
import PropertyBased
import Testing
@testable import CaseMeshDomain

/// Locale-free date arithmetic: day numbers, ISO parsing and formatting,
/// weekdays — checked against Foundation's Gregorian calendar.
@Suite struct CalendarMathTests {
    static var gregorianUTC: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }

    /// Day numbers of well-known dates.
    @Test(arguments: [(1970, 1, 1, 0), (1969, 12, 31, -1), (2000, 3, 1, 11_017), (2000, 2, 29, 11_016), (1900, 1, 1, -25_567)])
    func knownDayNumbers(year: Int64, month: Int64, day: Int64, expected: Int64) {
        #expect(CalendarMath.days(year: year, month: month, day: day) == expected)
        #expect(CalendarMath.civil(days: expected) == (year, month, day))
    }

    /// 0 = Monday … 6 = Sunday.
    @Test(arguments: [
        ("1970-01-01", 3), ("1969-12-31", 2), ("2000-01-01", 5), ("2024-02-29", 3), ("1900-01-01", 0),
        ("2026-01-09", 4), ("2026-01-11", 6), ("2026-01-12", 0), ("2026-03-29", 6),
    ])
    func weekdaysOfKnownDates(date: String, weekday: Int) throws {
        let millis = try #require(CalendarMath.parseISO(date))
        #expect(CalendarMath.weekday(days: millis / CalendarMath.millisPerDay) == weekday)
    }

    /// Any date and time of years 1600–9999 formats and parses back to the
    /// same instant, and agrees with Foundation on the calendar date and weekday.
    @Test func isoRoundTripAgreesWithFoundation() async {
        let calendar = Self.gregorianUTC
        await propertyCheck(count: 1000, input: Gen.int(in: 1600...9999), Gen.int(in: 1...12), Gen.int(in: 1...31),
                            Gen.int(in: 0...86_399)) { year, month, day, secondOfDay in
            let components = DateComponents(year: year, month: month, day: day)
            guard let date = calendar.date(from: components),
                  calendar.component(.day, from: date) == day, calendar.component(.month, from: date) == month else { return }  // e.g. 31 April does not exist
            let dayMillis = Int64((date.timeIntervalSince1970 * 1000).rounded())
            let text = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
            #expect(CalendarMath.parseISO(text) == dayMillis)
            #expect(CalendarMath.isoDate(millis: dayMillis) == text)

            let millis = dayMillis + Int64(secondOfDay) * 1000
            let withTime = text + "T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))Z"
            #expect(CalendarMath.isoDate(millis: millis) == (secondOfDay == 0 ? text : withTime))
            #expect(CalendarMath.parseISO(withTime) == millis)
            #expect(CalendarMath.parseISO(String(withTime.dropLast(4)) + "Z") == millis - Int64(secondOfDay % 60) * 1000)

            let foundationWeekday = calendar.component(.weekday, from: date)  // 1 = Sunday
            #expect(CalendarMath.weekday(days: dayMillis / CalendarMath.millisPerDay) == (foundationWeekday + 5) % 7)
        }
    }

    /// Day numbers and civil dates are inverse over a wide range, both sides of the epoch.
    @Test func civilAndDaysAreInverse() async {
        await propertyCheck(count: 1000, input: Gen.int64(in: -800_000...3_000_000)) { dayNumber in
            let (y, m, d) = CalendarMath.civil(days: dayNumber)
            #expect(CalendarMath.days(year: y, month: m, day: d) == dayNumber)
            #expect((1...12).contains(m) && (1...31).contains(d))
        }
    }

    /// Well-formed but impossible dates, and malformed text, are refused.
    @Test(arguments: [
        "2026-02-30", "2026-02-29", "1900-02-29", "2026-04-31", "2026-13-01", "2026-00-10", "2026-01-00", "2026-01-32",
        "2026/01/01", "26-01-01", "2026-1-01", "2026-01-1", "", "abcdefghij", "2026-01-01T", "2026-01-01TZ",
        "2026-01-01T24:00Z", "2026-01-01T10:60Z", "2026-01-01T10:00:60Z", "2026-01-01T10:00", "2026-01-01 10:00Z",
        "2026-01-01T10:00:00.000Z", "2026-01-01T10:00:00+01:00", "2026-01-01T1:00Z", "2026-01-01T10Z", "2026-01-01T10:00:0Z",
        "2026-01-01x", "+026-01-01", "2026-01-01T10:00:00", "２０２６-01-01",
    ])
    func malformedOrImpossibleDatesAreRefused(text: String) {
        #expect(CalendarMath.parseISO(text) == nil)
    }

    /// Leap days exist exactly in leap years.
    @Test(arguments: ["2024-02-29", "2000-02-29", "1600-02-29"])
    func leapDaysParse(text: String) {
        #expect(CalendarMath.parseISO(text) != nil)
    }

    /// Both accepted time forms, with and without seconds.
    @Test func timeForms() {
        #expect(CalendarMath.parseISO("2026-01-12T10:00Z") == utc(2026, 1, 12, 10))
        #expect(CalendarMath.parseISO("2026-01-12T10:00:30Z") == utc(2026, 1, 12, 10, 0, 30))
        #expect(CalendarMath.isoDate(millis: utc(2026, 1, 12, 10, 0, 30)) == "2026-01-12T10:00:30Z")
        #expect(CalendarMath.isoDate(millis: -1000) == "1969-12-31T23:59:59Z")
    }
}

private func pad(_ value: Int, _ width: Int) -> String {
    let digits = String(value)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}
