import CaseMeshCRDT

extension CaseState {
    /// Joins a delta received from another replica and surfaces conflicts.
    ///
    /// When the join leaves a field with concurrent writes, every losing write
    /// gets a `conflict` timeline event naming the losing value. The event's
    /// key is derived from the two writes, so replicas that detect the same
    /// conflict record the same event; the returned follow-up delta (nil if
    /// nothing new was detected) must be persisted and shipped like a local
    /// write, so replicas that never held both writes at once learn of it.
    @discardableResult
    public mutating func merge(_ delta: CaseState) -> CaseState? {
        join(delta)
        var followUp: CaseState?
        for field in delta.causal.store.fields.keys {
            guard let register = causal.store.fields[field], register.entries.count > 1, let winner = register.winner else { continue }
            for loser in register.conflictingLosers {
                let key = EventKey(time: winner.time, replica: winner.dot.replica,
                                   discriminator: "conflict:\(field.rawValue):\(loser.dot)")
                guard timeline[key] == nil else { continue }
                let event = TimelineEvent(
                    kind: .conflict, actor: "casemesh", field: field.rawValue,
                    from: loser.value.value.description, to: winner.value.value.description,
                    reason: "concurrent writes: \(loser.dot.replica)'s value lost to \(winner.dot.replica)'s, the later by hybrid time (\(loser.time.wallMillis) ms vs \(winner.time.wallMillis) ms)",
                    ref: loser.dot.replica.rawValue)
                timeline.insert(event, for: key)
                if followUp == nil { followUp = CaseState(header: header) }
                followUp!.timeline.insert(event, for: key)
            }
        }
        return followUp
    }

    /// Conflict events recorded in the timeline, oldest first.
    public var conflictEvents: [TimelineEvent] {
        events.map { $0.event }.filter { $0.kind == .conflict }
    }
}
