import CaseMeshCRDT

/// Typed, read-only accessors over the merged state: what a person sees.
extension CaseState {
    public func field(_ field: CaseField) -> FieldValue? { causal.store.fields[field]?.value?.value }

    public func text(_ field: CaseField) -> String? { self.field(field)?.text }
    public func flag(_ field: CaseField) -> Bool { self.field(field)?.flag ?? false }

    public var title: String? { text(.title) }
    public var customer: String? { text(.customer) }
    public var product: String? { text(.product) }
    public var owner: String? { text(.owner) }
    public var severity: Severity? { text(.severity).flatMap(Severity.init(rawValue:)) }
    public var status: CaseStatus { text(.status).flatMap(CaseStatus.init(rawValue:)) ?? .new }
    public var escalationLevel: EscalationLevel { text(.escalationLevel).flatMap(EscalationLevel.init(rawValue:)) ?? .l1 }
    public var workaround: Workaround? { text(.workaround).flatMap(Workaround.init(rawValue:)) }
    public var rcaStatus: RCAStatus? { text(.rcaStatus).flatMap(RCAStatus.init(rawValue:)) }
    public var communicationMode: CommunicationMode? { text(.communicationMode).flatMap(CommunicationMode.init(rawValue:)) }
    public var communicationFrequencyMinutes: Int64? { field(.communicationFrequencyMinutes)?.number }
    public var owningRegion: Region { text(.owningRegion).flatMap { try? Region($0) } ?? header.originRegion }
    public var criticalMilestone: Int64? { field(.criticalMilestone)?.time }
    public var reportedAt: Int64? { field(.reportedAt)?.time }

    /// The last write to any part of the case (hybrid time), for "updated at".
    public var updatedAt: HLCTimestamp {
        // Timeline keys order by time first: the last event is the latest.
        guard let latest = timeline.last?.key.time, latest > header.createdAt else { return header.createdAt }
        return latest
    }

    public var notes: [Note] {
        causal.store.notes.stores.compactMap { $0.value }.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    public var attendees: [Attendee] {
        causal.store.attendees.stores.compactMap { $0.value }.sorted { $0.id < $1.id }
    }

    public var troubleshootingSteps: [TroubleshootingStep] {
        causal.store.troubleshooting.stores.compactMap { $0.value }.sorted { ($0.recordedAt, $0.id) < ($1.recordedAt, $1.id) }
    }

    public var approvals: [Approval] {
        causal.store.approvals.stores.compactMap { $0.value }.sorted { ($0.recordedAt, $0.id) < ($1.recordedAt, $1.id) }
    }

    public var tags: [String] { causal.store.tags.elements.sorted() }
    public var linkedCases: [CaseID] { causal.store.linkedCases.elements.sorted() }
    public var articles: [String] { causal.store.articles.elements.sorted() }

    /// Timeline events, oldest first, conflicts included.
    public var events: [(key: EventKey, event: TimelineEvent)] {
        timeline.entries.map { (key: $0.key, event: $0.value) }
    }

    /// Fields with concurrent writes nobody has overwritten yet.
    public var unresolvedConflicts: [CaseField: [ConflictingWrite]] {
        var result: [CaseField: [ConflictingWrite]] = [:]
        for entry in causal.store.fields.entries where entry.store.count > 1 {
            let losers = entry.store.conflictingLosers
            if !losers.isEmpty { result[entry.key] = losers.map { ConflictingWrite(value: $0.value.value, stamp: $0.stamp) } }
        }
        return result
    }
}
