import Testing
import CaseMeshCRDT
@testable import CaseMeshDomain

/// The case set a replica holds: create, run commands, merge peers' deltas.
@Suite struct CaseSetTests {
    /// A client-chosen id that already exists locally must not overwrite the case.
    @Test func duplicateCaseIdIsRefused() throws {
        var set = CaseSet()
        try set.insertNew(try CaseState.create(newCase(), context: context()))
        let before = set
        let error = #expect(throws: DomainError.self) {
            try set.insertNew(try CaseState.create(newCase(number: "EMEA-000002"), context: context(at: base + minute)))
        }
        checkRefusal(error, code: .ruleViolated, rule: "case_exists", field: "id", mentions: ["case-1", "already exists"])
        #expect(set == before)
    }

    /// A command for a case this replica does not hold is "not found".
    @Test func commandOnUnknownCaseIsNotFound() throws {
        var set = CaseSet()
        try set.insertNew(try CaseState.create(newCase(), context: context()))
        let error = #expect(throws: DomainError.self) {
            try set.execute(.addTag("vip"), on: caseID("case-9"), context: context(at: base + minute))
        }
        checkRefusal(error, code: .notFound, rule: nil, field: "id", mentions: ["no case", "case-9"])
    }

    /// A refused command leaves the case in the set untouched.
    @Test func refusedCommandKeepsTheCase() throws {
        var set = CaseSet()
        try set.insertNew(try CaseState.create(newCase(), context: context()))
        let before = set
        #expect(throws: DomainError.self) {
            try set.execute(.setFields([.escalationLevel: .text("l2")]), on: caseID("case-1"), context: context(at: base + minute))
        }
        #expect(set == before)
        #expect(set.count == 1)
    }

    /// Two regions' case sets with a concurrent write converge (states and
    /// set digests) once deltas and conflict follow-ups are exchanged; a case
    /// first seen through a delta is created from it.
    @Test func twoCaseSetsConverge() throws {
        var emea = CaseSet(), amer = CaseSet()
        let created = try CaseState.create(newCase(), context: context())
        try emea.insertNew(created)
        #expect(amer.merge(created) == nil)
        let other = try CaseState.create(newCase(id: "case-2", number: "AMER-000001", region: "AMER"), context: context(.amer, at: base))
        try amer.insertNew(other)

        let fromEmea = try emea.execute(.setFields([.owner: .text("Erin")]), on: caseID("case-1"), context: context(.emea, at: base + 10 * minute))
        let fromAmer = try amer.execute(.setFields([.owner: .text("Ahmed")]), on: caseID("case-1"), context: context(.amer, at: base + 5 * minute))
        let followUpAtEmea = emea.merge(fromAmer)
        let followUpAtAmer = amer.merge(fromEmea)
        emea.merge(other)
        #expect(emea.digest != amer.digest || emea == amer)
        emea.merge(try #require(followUpAtAmer))
        amer.merge(try #require(followUpAtEmea))
        #expect(emea == amer)
        #expect(emea.digest == amer.digest)
        #expect(emea[caseID("case-1")]?.owner == "Erin")
        #expect(emea[caseID("case-1")]?.conflictEvents.map(\.from) == ["Ahmed"])
        #expect(emea.count == 2)
    }

    /// Should one id be created on two replicas (a client retrying against
    /// two regions), the earlier creation's header wins on both, and the two
    /// replicas still converge.
    @Test func duplicateCreationConvergesToTheEarlierHeader() throws {
        var emea = CaseSet(), amer = CaseSet()
        let atEmea = try CaseState.create(newCase(number: "EMEA-000001"), context: context(.emea, at: base + minute))
        let atAmer = try CaseState.create(newCase(number: "AMER-000001", region: "AMER"), context: context(.amer, at: base))
        try emea.insertNew(atEmea)
        try amer.insertNew(atAmer)
        let followUpAtEmea = emea.merge(atAmer)
        let followUpAtAmer = amer.merge(atEmea)
        for followUp in [followUpAtEmea, followUpAtAmer].compactMap({ $0 }) {
            emea.merge(followUp)
            amer.merge(followUp)
        }
        #expect(emea == amer)
        #expect(emea.digest == amer.digest)
        #expect(emea[caseID("case-1")]?.header == atAmer.header)
    }
}
