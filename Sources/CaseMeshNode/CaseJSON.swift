import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshStore
import Foundation

/// How cases and their parts look in the API. Times are Unix milliseconds;
/// a hybrid timestamp is shown as `{"ms":…, "logical":…, "node":…}` where
/// the ordering of writes matters (conflicts).
enum CaseJSON {
    static func value(_ field: FieldValue) -> JSONValue {
        switch field {
        case let .text(text): return .string(text)
        case let .flag(flag): return .bool(flag)
        case let .number(number): return .int(number)
        case let .time(time): return .int(time)
        }
    }

    static func millis(_ time: HLCTimestamp) -> JSONValue { .int(Int64(clamping: time.wallMillis)) }

    static func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }

    static func clock(_ clock: SLAClock?) -> JSONValue {
        guard let clock else { return .null }
        return .object(["dueAt": .int(clock.dueAt), "completedAt": clock.completedAt.map(JSONValue.int) ?? .null, "state": .string(clock.state.rawValue)])
    }

    static func sla(_ sla: SLAState) -> JSONValue {
        .object([
            "breached": .bool(sla.isBreached),
            "nextDueAt": sla.nextDueAt.map(JSONValue.int) ?? .null,
            "firstResponse": clock(sla.firstResponse),
            "nextUpdate": clock(sla.nextUpdate),
            "resolution": clock(sla.resolution),
            "solutionsContact": clock(sla.solutionsContact),
        ])
    }

    static func note(_ note: Note) -> JSONValue {
        .object(["id": .string(note.id.rawValue), "author": .string(note.author), "text": .string(note.text),
                 "visibility": .string(note.visibility.rawValue), "createdAt": .int(note.createdAt)])
    }

    static func attendee(_ attendee: Attendee) -> JSONValue {
        .object(["id": .string(attendee.id.rawValue), "name": .string(attendee.name), "email": .string(attendee.email), "role": .string(attendee.role)])
    }

    static func step(_ step: TroubleshootingStep) -> JSONValue {
        .object(["id": .string(step.id.rawValue), "level": .string(step.level.rawValue), "action": .string(step.action),
                 "outcome": .string(step.outcome), "evidence": .string(step.evidence), "recordedBy": .string(step.recordedBy),
                 "recordedAt": .int(step.recordedAt)])
    }

    static func approval(_ approval: Approval) -> JSONValue {
        .object(["id": .string(approval.id.rawValue), "kind": .string(approval.kind.rawValue), "approver": .string(approval.approver),
                 "approverRole": .string(approval.approverRole.rawValue), "notes": .string(approval.notes),
                 "recordedBy": .string(approval.recordedBy), "recordedAt": .int(approval.recordedAt)])
    }

    static func event(_ key: EventKey, _ event: TimelineEvent) -> JSONValue {
        .object(["at": millis(key.time), "node": .string(key.replica.rawValue), "kind": .string(event.kind.rawValue),
                 "actor": .string(event.actor), "field": optional(event.field), "from": optional(event.from), "to": optional(event.to),
                 "reason": optional(event.reason), "ref": optional(event.ref)])
    }

    static func timeline(_ state: CaseState) -> JSONValue {
        .array(state.events.map { event($0.key, $0.event) })
    }

    /// The whole case.
    static func document(_ state: CaseState, now: Int64) -> JSONValue {
        var fields: [String: JSONValue] = [:]
        for field in CaseField.allCases {
            if let written = state.field(field) { fields[field.rawValue] = value(written) }
        }
        var conflicts: [String: JSONValue] = [:]
        for (field, losers) in state.unresolvedConflicts {
            conflicts[field.rawValue] = .array(losers.map { .object(["value": value($0.value), "at": millis($0.stamp.time), "node": .string($0.stamp.replica.rawValue)]) })
        }
        return .object([
            "id": .string(state.id.rawValue),
            "number": .string(state.header.number),
            "originRegion": .string(state.header.originRegion.rawValue),
            "createdAt": millis(state.header.createdAt),
            "createdBy": .string(state.header.createdBy),
            "updatedAt": millis(state.updatedAt),
            "status": .string(state.status.rawValue),
            "escalationLevel": .string(state.escalationLevel.rawValue),
            "owningRegion": .string(state.owningRegion.rawValue),
            "fields": .object(fields),
            "notes": .array(state.notes.map(note)),
            "attendees": .array(state.attendees.map(attendee)),
            "troubleshooting": .array(state.troubleshootingSteps.map(step)),
            "approvals": .array(state.approvals.map(approval)),
            "tags": .array(state.tags.map(JSONValue.string)),
            "linkedCases": .array(state.linkedCases.map { .string($0.rawValue) }),
            "articles": .array(state.articles.map(JSONValue.string)),
            "conflicts": .object(conflicts),
            "timeline": timeline(state),
            "sla": sla(state.sla(now: now)),
        ])
    }

    static func summary(_ summary: CaseSummary) -> JSONValue {
        .object([
            "id": .string(summary.id), "number": .string(summary.number), "title": .string(summary.title),
            "status": .string(summary.status), "severity": .string(summary.severity), "owningRegion": .string(summary.owningRegion),
            "owner": optional(summary.owner), "slaDueAt": summary.slaDueAt.map(JSONValue.int) ?? .null, "updatedAt": .int(summary.updatedAt),
        ])
    }
}
