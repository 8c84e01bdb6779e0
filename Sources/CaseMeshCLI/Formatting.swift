import Foundation

/// Times and durations the way people read them at a glance.
public enum Formatting {
    /// "3h 20m", "2d 4h", "45s" — the two largest units.
    public static func duration(millis: Int64) -> String {
        var seconds = abs(millis) / 1000
        let days = seconds / 86_400
        seconds %= 86_400
        let hours = seconds / 3600
        seconds %= 3600
        let minutes = seconds / 60
        seconds %= 60
        if days > 0 { return hours > 0 ? "\(days)d \(hours)h" : "\(days)d" }
        if hours > 0 { return minutes > 0 ? "\(hours)h \(minutes)m" : "\(hours)h" }
        if minutes > 0 { return "\(minutes)m" }
        return "\(seconds)s"
    }

    /// "5m ago" / "in 2h".
    public static func relative(_ millis: Int64, now: Int64) -> String {
        millis <= now ? "\(duration(millis: now - millis)) ago" : "in \(duration(millis: millis - now))"
    }

    /// "2026-12-03 09:00Z".
    public static func timestamp(_ millis: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm'Z'"
        return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }

    /// The SLA column: "BREACHED 2h", "due 40m", or "-" with no clock running.
    public static func sla(dueAt: Int64?, now: Int64) -> String {
        guard let dueAt else { return "-" }
        return dueAt < now ? "BREACHED \(duration(millis: now - dueAt))" : "due \(duration(millis: dueAt - now))"
    }

    /// "Sev1" for "sev1".
    public static func severity(_ raw: String?) -> String {
        guard let raw, raw.hasPrefix("sev") else { return raw ?? "-" }
        return "Sev" + raw.dropFirst(3)
    }
}
