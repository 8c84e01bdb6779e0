import Testing
import CaseMeshCRDT
@testable import CaseMeshDomain

/// Business-minute arithmetic on its own, with instants worked out by hand.
@Suite struct BusinessCalendarTests {
    let london = BusinessCalendar(timeZoneIdentifier: "Europe/London")

    /// Inside office hours minutes simply add up.
    @Test func insideOfficeHours() {
        #expect(london.adding(minutes: 0, to: base) == base)
        #expect(london.adding(minutes: 90, to: base) == base + 90 * minute)
        // Monday 10:00 + 7 h lands exactly on closing time.
        #expect(london.adding(minutes: 7 * 60, to: base) == utc(2026, 1, 12, 17))
        // One minute more spills into Tuesday 09:01.
        #expect(london.adding(minutes: 7 * 60 + 1, to: base) == utc(2026, 1, 13, 9, 1))
    }

    /// Outside office hours the clock waits for the next opening.
    @Test(arguments: [
        (utc(2026, 1, 10, 12), utc(2026, 1, 12, 10)),     // Saturday noon → Monday 09:00 + 1 h
        (utc(2026, 1, 12, 7), utc(2026, 1, 12, 10)),      // Monday 07:00 → 09:00 + 1 h
        (utc(2026, 1, 12, 17), utc(2026, 1, 13, 10)),     // Monday at closing → Tuesday 10:00
        (utc(2026, 1, 16, 23, 59), utc(2026, 1, 19, 10)), // Friday night → Monday 10:00
    ])
    func outsideOfficeHoursWaitsForOpening(start: Int64, expected: Int64) {
        #expect(london.adding(minutes: 60, to: start) == expected)
    }

    /// Custom weeks: a Sunday–Thursday office 08:00–16:00 in UTC.
    @Test func customWorkweek() {
        let calendar = BusinessCalendar(timeZoneIdentifier: "UTC", workdays: [6, 0, 1, 2, 3], opensAt: 8 * 60, closesAt: 16 * 60)
        // Thursday 2026-01-15 15:00 + 2 h: 1 h Thursday, Friday and Saturday off, Sunday 08:00 + 1 h.
        #expect(calendar.adding(minutes: 120, to: utc(2026, 1, 15, 15)) == utc(2026, 1, 18, 9))
    }

    /// Office hours follow the zone's summer time: London opens at 09:00
    /// GMT (09:00 UTC) before 2026-03-29 and at 09:00 BST (08:00 UTC) after,
    /// and back in October; New York moves on 2026-03-08. Each is asked
    /// twice: the second answer comes from the remembered offsets.
    @Test(arguments: [
        ("Europe/London", utc(2026, 3, 27, 16), utc(2026, 3, 30, 9)),      // Fri 16:00 GMT + 2 h → Mon 10:00 BST
        ("Europe/London", utc(2026, 10, 23, 15), utc(2026, 10, 26, 10)),   // Fri 16:00 BST + 2 h → Mon 10:00 GMT
        ("America/New_York", utc(2026, 3, 6, 21), utc(2026, 3, 9, 14)),    // Fri 16:00 EST + 2 h → Mon 10:00 EDT
    ])
    func summerTimeMovesOfficeHours(zone: String, start: Int64, expected: Int64) {
        let calendar = BusinessCalendar(timeZoneIdentifier: zone)
        #expect(calendar.adding(minutes: 120, to: start) == expected)
        #expect(calendar.adding(minutes: 120, to: start) == expected)
    }

    /// A calendar with no working time never reaches a deadline.
    @Test func calendarWithoutWorkingTime() {
        #expect(BusinessCalendar(timeZoneIdentifier: "UTC", workdays: []).adding(minutes: 1, to: base) == .max)
        #expect(BusinessCalendar(timeZoneIdentifier: "UTC", opensAt: 600, closesAt: 600).adding(minutes: 1, to: base) == .max)
    }

    /// The continuous calendar counts every minute, weekends included.
    @Test func continuousCalendar() {
        let saturday = utc(2026, 1, 10, 23)
        #expect(BusinessCalendar.continuous.adding(minutes: 180, to: saturday) == utc(2026, 1, 11, 2))
    }

    /// Working days are Monday–Friday minus holidays (local dates).
    @Test func workingDays() {
        let calendar = BusinessCalendar(timeZoneIdentifier: "Europe/London", holidays: ["2026-12-25"])
        func day(_ y: Int, _ m: Int, _ d: Int) -> Int64 { utc(y, m, d) / 86_400_000 }
        #expect(calendar.isWorkingDay(day(2026, 12, 24)))   // Thursday
        #expect(!calendar.isWorkingDay(day(2026, 12, 25)))  // Friday, holiday
        #expect(!calendar.isWorkingDay(day(2026, 12, 26)))  // Saturday
        #expect(!calendar.isWorkingDay(day(2026, 12, 27)))  // Sunday
        #expect(calendar.isWorkingDay(day(2026, 12, 28)))   // Monday
    }

    /// The regions CaseMesh ships with map to their time zones; others use UTC.
    @Test func standardCalendars() {
        #expect(BusinessCalendar.standard(for: "EMEA").timeZoneIdentifier == "Europe/London")
        #expect(BusinessCalendar.standard(for: "AMER").timeZoneIdentifier == "America/New_York")
        #expect(BusinessCalendar.standard(for: "APAC").timeZoneIdentifier == "Asia/Singapore")
        #expect(BusinessCalendar.standard(for: "LATAM").timeZoneIdentifier == "UTC")
    }
}
