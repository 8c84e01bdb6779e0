/// Targets per severity. Sev1 and Sev2 run on the clock; Sev3 and Sev4 on the
/// owning region's business hours.
public struct SLAPolicy: Sendable, Equatable {
    public struct Target: Sendable, Equatable {
        public var firstResponseMinutes: Int64
        public var resolutionMinutes: Int64
        public var businessHours: Bool
        public init(firstResponseMinutes: Int64, resolutionMinutes: Int64, businessHours: Bool) {
            self.firstResponseMinutes = firstResponseMinutes
            self.resolutionMinutes = resolutionMinutes
            self.businessHours = businessHours
        }
    }

    public var targets: [Severity: Target]
    /// The Solutions team contacts the customer within this many business minutes (2 working days).
    public var solutionsContactMinutes: Int64
    public var calendars: [String: BusinessCalendar]

    public init(targets: [Severity: Target], solutionsContactMinutes: Int64 = 2 * 8 * 60, calendars: [String: BusinessCalendar] = [:]) {
        self.targets = targets
        self.solutionsContactMinutes = solutionsContactMinutes
        self.calendars = calendars
    }

    public static let standard = SLAPolicy(targets: [
        .sev1: Target(firstResponseMinutes: 60, resolutionMinutes: 24 * 60, businessHours: false),
        .sev2: Target(firstResponseMinutes: 4 * 60, resolutionMinutes: 72 * 60, businessHours: false),
        .sev3: Target(firstResponseMinutes: 8 * 60, resolutionMinutes: 5 * 8 * 60, businessHours: true),
        .sev4: Target(firstResponseMinutes: 2 * 8 * 60, resolutionMinutes: 10 * 8 * 60, businessHours: true),
    ])

    public func calendar(for region: Region) -> BusinessCalendar {
        calendars[region.rawValue] ?? BusinessCalendar.standard(for: region.rawValue)
    }
}

/// One SLA clock of a case.
public struct SLAClock: Sendable, Equatable {
    public enum State: String, Sendable {
        /// Done before the deadline.
        case met
        /// Done, but after the deadline.
        case missed
        /// Not done, deadline ahead.
        case pending
        /// Not done, deadline passed.
        case breached
    }

    public var dueAt: Int64
    public var completedAt: Int64?
    public var state: State

    init(dueAt: Int64, completedAt: Int64?, now: Int64) {
        self.dueAt = dueAt
        self.completedAt = completedAt
        if let completedAt {
            state = completedAt <= dueAt ? .met : .missed
        } else {
            state = now <= dueAt ? .pending : .breached
        }
    }

    public var isBreached: Bool { state == .breached || state == .missed }
}

/// The SLA view of a case, computed from its merged state and `now` — never
/// stored, so when a partition heals the view corrects itself.
public struct SLAState: Sendable, Equatable {
    public var firstResponse: SLAClock
    /// From the communication plan's frequency; nil without a plan or once resolved.
    public var nextUpdate: SLAClock?
    public var resolution: SLAClock
    /// Only while the case is with the Solutions team.
    public var solutionsContact: SLAClock?

    public var isBreached: Bool {
        firstResponse.isBreached || resolution.isBreached || (nextUpdate?.isBreached ?? false) || (solutionsContact?.isBreached ?? false)
    }

    /// The earliest deadline still running, for "SLA due" ordering.
    public var nextDueAt: Int64? {
        [firstResponse, resolution, nextUpdate, solutionsContact].compactMap { $0 }
            .filter { $0.completedAt == nil }.map { $0.dueAt }.min()
    }
}

extension CaseState {
    /// Computes the SLA clocks at `now` (Unix ms) under `policy`.
    public func sla(now: Int64, policy: SLAPolicy = .standard) -> SLAState {
        let severity = self.severity ?? .sev4
        let target = policy.targets[severity] ?? SLAPolicy.standard.targets[.sev4]!
        let businessCalendar = policy.calendar(for: owningRegion)
        let calendar = target.businessHours ? businessCalendar : .continuous
        // The clocks start when the customer reported the problem, if that
        // was before the case was opened here.
        let created = min(Int64(clamping: header.createdAt.wallMillis), reportedAt ?? .max)

        let customerUpdates = notes.filter { $0.visibility == .customer }.map { $0.createdAt }.sorted()
        let firstResponse = SLAClock(dueAt: calendar.adding(minutes: target.firstResponseMinutes, to: created),
                                     completedAt: customerUpdates.first, now: now)

        let resolvedAt: Int64? = status.isOpen ? nil : events.last { $0.event.kind == .resolved }.map { Int64(clamping: $0.key.time.wallMillis) }
        let resolution = SLAClock(dueAt: calendar.adding(minutes: target.resolutionMinutes, to: created),
                                  completedAt: resolvedAt ?? (status.isOpen ? nil : Int64(clamping: updatedAt.wallMillis)), now: now)

        var nextUpdate: SLAClock?
        if status.isOpen, let frequency = communicationFrequencyMinutes {
            let anchor = customerUpdates.last ?? created
            nextUpdate = SLAClock(dueAt: calendar.adding(minutes: frequency, to: anchor), completedAt: nil, now: now)
        }

        var solutionsContact: SLAClock?
        if escalationLevel == .solutionsTeam, status.isOpen,
           let escalatedAt = events.last(where: { $0.event.kind == .escalated && $0.event.to == EscalationLevel.solutionsTeam.rawValue }) {
            let start = Int64(clamping: escalatedAt.key.time.wallMillis)
            let contacted = customerUpdates.first { $0 >= start }
            solutionsContact = SLAClock(dueAt: businessCalendar.adding(minutes: policy.solutionsContactMinutes, to: start),
                                        completedAt: contacted, now: now)
        }
        return SLAState(firstResponse: firstResponse, nextUpdate: nextUpdate, resolution: resolution, solutionsContact: solutionsContact)
    }
}
