import CaseMeshCRDT

extension CaseState {
    /// Opens a case. The returned state is also the delta to persist and ship.
    public static func create(_ input: NewCase, context: CommandContext) throws(DomainError) -> CaseState {
        let actor = try Validate.actor(context.actor)
        let number = input.number.normalizedText
        guard !number.isEmpty, number.utf8.count <= 40 else { throw .invalid("number", "number must be 1 to 40 characters long") }
        guard EscalationLevel.entryLevels.contains(input.level) else {
            throw .invalid("escalationLevel", "a case starts at L1, L2 or with a Customer Service Representative, not at \(input.level.label)")
        }
        var initial: [(CaseField, FieldValue)] = [
            (.title, try CaseField.title.validate(.text(input.title))),
            (.customer, try CaseField.customer.validate(.text(input.customer))),
            (.product, try CaseField.product.validate(.text(input.product))),
            (.severity, .text(input.severity.rawValue)),
            (.status, .text(CaseStatus.new.rawValue)),
            (.escalationLevel, .text(input.level.rawValue)),
            (.owningRegion, .text(input.region.rawValue)),
        ]
        for field in input.fields.keys.sorted() {
            switch field {
            case .title, .customer, .product, .severity, .status, .escalationLevel:
                throw .invalid(field.rawValue, "\(field.rawValue) is set by the create request itself; pass it once")
            case .resolution, .customerAcknowledged, .deescalationAgreement, .actionPlanAccepted:
                throw .invalid(field.rawValue, "\(field.rawValue) cannot be set on a new case")
            default:
                initial.append((field, try field.validate(input.fields[field]!)))
            }
        }
        let header = CaseHeader(id: input.id, number: number, originRegion: input.region,
                                createdAt: context.time, createdBy: actor, originReplica: context.replica)
        var recorder = DeltaRecorder(state: CaseState(header: header), context: context)
        for (field, value) in initial { recorder.write(field, value) }
        recorder.event(TimelineEvent(kind: .created, actor: actor, to: number,
                                     reason: "\(input.severity.label) \(input.title.normalizedText)"))
        return recorder.state
    }

    /// Validates `command` against the case and the process rules; on success
    /// applies it in place and returns its delta. On failure nothing changes.
    @discardableResult
    public mutating func execute(_ command: CaseCommand, context: CommandContext) throws(DomainError) -> CaseState {
        let actor = try Validate.actor(context.actor)
        var recorder = DeltaRecorder(state: self, context: context)
        switch command {
        case let .setFields(changes):
            guard !changes.isEmpty else { throw .invalid("fields", "no fields to change") }
            var validated: [(CaseField, FieldValue)] = []
            for field in changes.keys.sorted() {
                let value = try field.validate(changes[field]!)
                try EscalationRules.checkDirectUpdate(of: field, to: value, in: self)
                validated.append((field, value))
            }
            for (field, value) in validated {
                let register = causal.store.fields[field]
                if register?.entries.count == 1, register?.value?.value == value { continue }  // unchanged, no conflict to settle
                recorder.write(field, value)
                recorder.event(TimelineEvent(kind: .fieldChanged, actor: actor, field: field.rawValue,
                                             from: register?.value?.value.description, to: value.description))
                if field == .status, value.text == CaseStatus.investigating.rawValue, status == .resolved, flag(.customerAcknowledged) {
                    // Reopening means the customer withdrew the acknowledgement.
                    recorder.write(.customerAcknowledged, .flag(false))
                }
            }

        case let .addNote(id, text, visibility):
            let body = try Validate.text(text, field: "text", maxLength: 20_000)
            guard causal.store.notes[id] == nil else { throw .rule("note_exists", "a note with id \(id) already exists on this case", field: "id") }
            recorder.put(\.notes, id, Note(id: id, author: actor, text: body, visibility: visibility, createdAt: context.wallMillis))
            recorder.event(TimelineEvent(kind: .noteAdded, actor: actor, to: visibility.rawValue, ref: id.rawValue))

        case let .removeNote(id):
            guard causal.store.notes[id] != nil else { throw DomainError(code: .notFound, message: "no note with id \(id) on this case", field: "noteId") }
            recorder.remove(\.notes, id)
            recorder.event(TimelineEvent(kind: .noteRemoved, actor: actor, ref: id.rawValue))

        case let .putAttendee(id, name, email, role):
            let attendee = Attendee(id: id, name: try Validate.text(name, field: "name", maxLength: 120),
                                    email: try Validate.email(email), role: try Validate.text(role, field: "role", maxLength: 80))
            if causal.store.attendees.value(id) == attendee { break }
            recorder.put(\.attendees, attendee.id, attendee)
            recorder.event(TimelineEvent(kind: .attendeeAdded, actor: actor, to: "\(attendee.name) <\(attendee.email)> (\(attendee.role))", ref: id.rawValue))

        case let .removeAttendee(id):
            guard causal.store.attendees[id] != nil else { throw DomainError(code: .notFound, message: "no attendee with id \(id) on this case", field: "attendeeId") }
            recorder.remove(\.attendees, id)
            recorder.event(TimelineEvent(kind: .attendeeRemoved, actor: actor, ref: id.rawValue))

        case let .recordTroubleshooting(id, level, action, outcome, evidence):
            guard level == .l1 || level == .l2 else {
                throw .invalid("level", "troubleshooting steps are recorded at L1 or L2, not \(level.label)")
            }
            let step = TroubleshootingStep(
                id: id, level: level, action: try Validate.text(action, field: "action", maxLength: 2_000),
                outcome: try Validate.optionalText(outcome, field: "outcome", maxLength: 2_000),
                evidence: try Validate.optionalText(evidence, field: "evidence", maxLength: 2_000),
                recordedBy: actor, recordedAt: context.wallMillis)
            recorder.put(\.troubleshooting, step.id, step)
            recorder.event(TimelineEvent(kind: .troubleshootingRecorded, actor: actor, field: level.rawValue,
                                         to: step.outcome.isEmpty ? nil : step.outcome, reason: step.action, ref: id.rawValue))

        case let .approve(id, kind, approver, role, notes):
            guard causal.store.approvals[id] == nil else { throw .rule("approval_exists", "an approval with id \(id) already exists on this case", field: "id") }
            let approval = Approval(id: id, kind: kind, approver: try Validate.text(approver, field: "approver", maxLength: 120),
                                    approverRole: role, notes: try Validate.text(notes, field: "notes", maxLength: 2_000),
                                    recordedBy: actor, recordedAt: context.wallMillis)
            recorder.put(\.approvals, approval.id, approval)
            recorder.event(TimelineEvent(kind: .approvalRecorded, actor: actor, field: kind.rawValue,
                                         to: "\(approval.approver) (\(role.label))", reason: approval.notes, ref: id.rawValue))

        case let .escalate(level, reason, approvedBy):
            let why = try Validate.text(reason, field: "reason", maxLength: 2_000)
            let approval = try EscalationRules.checkEscalation(to: level, approvedBy: approvedBy, in: self)
            let from = escalationLevel
            recorder.write(.escalationLevel, .text(level.rawValue))
            if status != .escalated { recorder.write(.status, .text(CaseStatus.escalated.rawValue)) }
            recorder.event(TimelineEvent(kind: .escalated, actor: actor, field: CaseField.escalationLevel.rawValue,
                                         from: from.rawValue, to: level.rawValue, reason: why, ref: approval?.id.rawValue))

        case let .deescalate(reason):
            let why = try Validate.optionalText(reason, field: "reason", maxLength: 2_000)
            try EscalationRules.checkDeescalation(in: self)
            recorder.write(.status, .text(CaseStatus.deescalated.rawValue))
            recorder.event(TimelineEvent(kind: .deescalated, actor: actor, field: CaseField.status.rawValue,
                                         from: status.rawValue, to: CaseStatus.deescalated.rawValue,
                                         reason: why.isEmpty ? text(.deescalationAgreement) : why))

        case let .resolve(resolution, acknowledged):
            let text = try resolution.map { text throws(DomainError) in try CaseField.resolution.validate(.text(text)) }
            let (resolutionValue, acknowledgedValue) = try EscalationRules.checkResolution(
                resolution: text?.text, customerAcknowledged: acknowledged, in: self)
            if text != nil { recorder.write(.resolution, .text(resolutionValue)) }
            if acknowledged != nil && !flag(.customerAcknowledged) { recorder.write(.customerAcknowledged, .flag(acknowledgedValue)) }
            recorder.write(.status, .text(CaseStatus.resolved.rawValue))
            recorder.event(TimelineEvent(kind: .resolved, actor: actor, field: CaseField.status.rawValue,
                                         from: status.rawValue, to: CaseStatus.resolved.rawValue, reason: resolutionValue))

        case let .addTag(tag):
            try addLabel(tag, to: \.tags, field: "tag", event: .tagAdded, recorder: &recorder, actor: actor)
        case let .removeTag(tag):
            try removeLabel(tag, from: \.tags, field: "tag", event: .tagRemoved, recorder: &recorder, actor: actor)
        case let .linkCase(other):
            guard other != id else { throw .invalid("caseId", "a case cannot be linked to itself") }
            recorder.updateSet(\.linkedCases, add: other)
            recorder.event(TimelineEvent(kind: .caseLinked, actor: actor, ref: other.rawValue))
        case let .unlinkCase(other):
            guard causal.store.linkedCases.contains(other) else { throw DomainError(code: .notFound, message: "case \(other) is not linked", field: "caseId") }
            recorder.updateSet(\.linkedCases, remove: other)
            recorder.event(TimelineEvent(kind: .caseUnlinked, actor: actor, ref: other.rawValue))
        case let .addArticle(article):
            try addLabel(article, to: \.articles, field: "article", event: .articleAdded, recorder: &recorder, actor: actor)
        case let .removeArticle(article):
            try removeLabel(article, from: \.articles, field: "article", event: .articleRemoved, recorder: &recorder, actor: actor)
        }
        self = recorder.state
        return recorder.delta
    }

    /// Adds a tag or article reference (short single-line labels in an add-wins set).
    private func addLabel(_ raw: String, to path: WritableKeyPath<CaseStore, DotMap<String, DotSet>>, field: String,
                          event: TimelineEventKind, recorder: inout DeltaRecorder, actor: String) throws(DomainError) {
        let value = try Validate.label(raw, field: field)
        recorder.updateSet(path, add: value)
        recorder.event(TimelineEvent(kind: event, actor: actor, to: value))
    }

    /// Removes a tag or article reference the case has.
    private func removeLabel(_ raw: String, from path: WritableKeyPath<CaseStore, DotMap<String, DotSet>>, field: String,
                             event: TimelineEventKind, recorder: inout DeltaRecorder, actor: String) throws(DomainError) {
        let value = raw.normalizedText
        guard causal.store[keyPath: path].contains(value) else {
            throw DomainError(code: .notFound, message: "the case has no \(field) \"\(value)\"", field: field)
        }
        recorder.updateSet(path, remove: value)
        recorder.event(TimelineEvent(kind: event, actor: actor, from: value))
    }
}

/// Input checks shared by the commands.
enum Validate {
    static func actor(_ raw: String) throws(DomainError) -> String {
        let actor = raw.normalizedText
        guard !actor.isEmpty, actor.count <= 120 else { throw .invalid("actor", "the acting user must be named (1 to 120 characters)") }
        return actor
    }

    static func text(_ raw: String, field: String, maxLength: Int) throws(DomainError) -> String {
        let text = raw.normalizedText
        guard !text.isEmpty else { throw .invalid(field, "\(field) must not be empty") }
        guard text.count <= maxLength else { throw .invalid(field, "\(field) must be at most \(maxLength) characters (got \(text.count))") }
        return text
    }

    static func optionalText(_ raw: String, field: String, maxLength: Int) throws(DomainError) -> String {
        let text = raw.normalizedText
        guard text.count <= maxLength else { throw .invalid(field, "\(field) must be at most \(maxLength) characters (got \(text.count))") }
        return text
    }

    static func email(_ raw: String) throws(DomainError) -> String {
        let email = raw.normalizedText
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard email.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
              !parts[1].hasPrefix("."), !parts[1].hasSuffix("."), !email.contains(where: \.isWhitespace) else {
            throw .invalid("email", "email \"\(raw)\" is not an address like name@example.com")
        }
        return email
    }

    /// Tags and article references: short, single-line.
    static func label(_ raw: String, field: String) throws(DomainError) -> String {
        let value = try text(raw, field: field, maxLength: 100)
        guard !value.contains(where: \.isNewline) else { throw .invalid(field, "\(field) must be a single line") }
        return value
    }
}
