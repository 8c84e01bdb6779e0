// Random command sequences for the property tests. Every command draws from
// small pools (a few note ids, tags, owners, levels…) so removals often hit
// something that exists, gates are sometimes met and sometimes not, and the
// same field is written again and again.

import PropertyBased
import Testing
import CaseMeshCRDT
@testable import CaseMeshDomain

/// The raw material of one command: its kind and two small choices.
struct CommandSeed: Sendable, CustomStringConvertible {
    var kind: Int
    var a: Int
    var b: Int

    var description: String { "\(command)" }

    static let kinds = 0...23

    var command: CaseCommand {
        let titles = ["Payments down", "Payments slow", "Refunds fail", "Card auth errors"]
        let owners = ["Erin", "Farid", "Gita", "Hugo"]
        let tags = ["eu", "payments", "p1", "vip"]
        let cases = ["case-2", "case-3", "case-1", "case-4"]  // case-1 is the case itself
        switch kind {
        case 0: return .setFields([.title: .text(titles[a])])
        case 1: return .setFields([.owner: .text(owners[a])])
        case 2: return .setFields([.severity: .text(Severity.allCases[a].rawValue)])
        case 3: return .setFields([.status: .text(["investigating", "closed", "new", "investigating"][a])])
        case 4:
            var request = escalationRequest
            request[.workaround] = .text(["none", "available", "impractical", "none"][b])
            if a == 3 { request[.businessImpact] = nil }
            return .setFields(request)
        case 5:
            return .setFields([.actionPlanAccepted: .flag(b != 0), .rcaStatus: .text(["onTrack", "atRisk", "complete", "inProgress"][a]),
                               .deescalationAgreement: .text("Agreed \(b)")])
        case 6: return .addNote(id: noteID("n\(a)"), text: "Note \(a).\(b)", visibility: b % 2 == 0 ? .internal : .customer)
        case 7: return .removeNote(noteID("n\(a)"))
        case 8: return .putAttendee(id: attendeeID("att\(a)"), name: owners[a], email: "\(owners[a].lowercased())@acme.example",
                                    role: ["IT", "CTO", "Ops", "IT"][b])
        case 9: return .removeAttendee(attendeeID("att\(a)"))
        case 10: return .recordTroubleshooting(id: stepID("s\(a)"), level: b % 2 == 0 ? .l1 : .l2, action: "Tried \(a)",
                                               outcome: b < 2 ? "" : "Outcome \(b)", evidence: "")
        case 11: return .approve(id: approvalID("ap\(a)"), kind: [ApprovalKind.vendorEscalation, .deescalation, .other][b % 3],
                                 approver: ["Tina Lead", "Omar Lead"][a % 2], approverRole: b < 2 ? .teamLeader : .teamManager, notes: "ok")
        case 12: return .escalate(level: [EscalationLevel.l2, .sme, .l3Vendor, .teamLeader][a], reason: "Up \(b)",
                                  approvedBy: [nil, "tina lead", "Nobody", nil][b])
        case 13: return .deescalate(reason: b % 2 == 0 ? "" : "Calm")
        case 14: return .resolve(resolution: a == 0 ? nil : "Fix \(a)", customerAcknowledged: [nil, true, false, true][b])
        case 15: return .addTag(tags[a])
        case 16: return .removeTag(tags[a])
        case 17: return .linkCase(caseID(cases[a]))
        case 18: return .unlinkCase(caseID(cases[a]))
        case 19: return .addArticle("KB-\(a)")
        case 20: return .removeArticle("KB-\(a)")
        case 21: return .setFields([.communicationMode: .text(["email", "phone", "conferenceCall", "email"][a]),
                                    .communicationFrequencyMinutes: .number([15, 60, 240, 1440][b])])
        case 22: return .setFields([.owningRegion: .text(["EMEA", "AMER", "APAC", "EMEA"][a])])
        default: return .setFields([.rootCause: .text("Cause \(a)"), .actionPlan: .text("Plan \(b)")])
        }
    }
}

let commandSeedGen = zip(Gen.int(in: CommandSeed.kinds), Gen.int(in: 0...3), Gen.int(in: 0...3))
    .map { raw in CommandSeed(kind: raw.0, a: raw.1, b: raw.2) }

extension ReplicaCase {
    /// Where a random run starts: a plain new case, or (half of the time) a
    /// case at L2 that meets every vendor gate, so that random commands also
    /// reach L3, de-escalation and the later statuses.
    static func randomStart(vendorReady: Bool) throws -> ReplicaCase {
        vendorReady ? try caseReadyForVendor() : try ReplicaCase()
    }

    /// Runs `seed`'s command; a refusal is fine (many random commands break a
    /// rule) but must leave the state unchanged. Returns whether it ran.
    @discardableResult
    mutating func attempt(_ seed: CommandSeed, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        let before = state
        do {
            try run(seed.command)
            return true
        } catch {
            #expect(state == before, "refused \(seed) changed the case: \(error)", sourceLocation: sourceLocation)
            return false
        }
    }
}
