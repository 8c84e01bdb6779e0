import Testing
import CaseMeshCRDT
@testable import CaseMeshDomain

/// Tags, linked cases and knowledge-base articles: add-wins sets with
/// single-line labels.
@Suite struct TagLinkArticleTests {
    /// Tags are trimmed, listed sorted, and their adds and removes are recorded.
    @Test func tagsAddAndRemove() throws {
        var c = try ReplicaCase()
        let added = try c.run(.addTag("  payments "))
        try c.run(.addTag("eu"))
        #expect(c.state.tags == ["eu", "payments"])
        #expect(added.events.first?.event.kind == .tagAdded)
        #expect(added.events.first?.event.to == "payments")
        let removed = try c.run(.removeTag("payments"))
        #expect(c.state.tags == ["eu"])
        #expect(removed.events.first?.event.kind == .tagRemoved)
        #expect(removed.events.first?.event.from == "payments")
    }

    /// Removing a tag the case does not have is reported.
    @Test func removingAnUnknownTagIsNotFound() throws {
        var c = try ReplicaCase()
        try c.run(.addTag("eu"))
        c.expectRefusal(.removeTag("apac"), code: .notFound, field: "tag", mentions: ["no tag", "apac"])
    }

    /// Labels are single-line: a newline inside is refused, one at the ends is trimmed.
    @Test(arguments: ["pay\nments", "pay\r\nments", "a\u{2028}b"])
    func multiLineTagIsRefused(tag: String) throws {
        let c = try ReplicaCase()
        c.expectRefusal(.addTag(tag), code: .validationFailed, field: "tag", mentions: ["tag", "single line"])
    }

    /// Tags are non-empty and at most 100 characters.
    @Test func tagLimits() throws {
        var c = try ReplicaCase()
        c.expectRefusal(.addTag("   "), code: .validationFailed, field: "tag", mentions: ["tag", "empty"])
        c.expectRefusal(.addTag(String(repeating: "t", count: 101)), code: .validationFailed, field: "tag", mentions: ["tag", "at most 100"])
        try c.run(.addTag("\nurgent\n"))
        #expect(c.state.tags == ["urgent"])
    }

    /// Related cases can be linked and unlinked, each recorded with the other case's id.
    @Test func linkAndUnlinkCases() throws {
        var c = try ReplicaCase()
        let linked = try c.run(.linkCase(caseID("case-2")))
        #expect(c.state.linkedCases == [caseID("case-2")])
        #expect(linked.events.first?.event.kind == .caseLinked)
        #expect(linked.events.first?.event.ref == "case-2")
        let unlinked = try c.run(.unlinkCase(caseID("case-2")))
        #expect(c.state.linkedCases.isEmpty)
        #expect(unlinked.events.first?.event.kind == .caseUnlinked)
    }

    /// Linking a case to itself is meaningless and refused.
    @Test func aCaseCannotBeLinkedToItself() throws {
        let c = try ReplicaCase()
        c.expectRefusal(.linkCase(caseID("case-1")), code: .validationFailed, field: "caseId", mentions: ["linked to itself"])
    }

    /// Unlinking a case that is not linked is reported.
    @Test func unlinkingAnUnlinkedCaseIsNotFound() throws {
        let c = try ReplicaCase()
        c.expectRefusal(.unlinkCase(caseID("case-7")), code: .notFound, field: "caseId", mentions: ["case-7", "not linked"])
    }

    /// Knowledge-base articles are added and removed like tags.
    @Test func articlesAddAndRemove() throws {
        var c = try ReplicaCase()
        try c.run(.addArticle("KB-1042"))
        #expect(c.state.articles == ["KB-1042"])
        let removed = try c.run(.removeArticle("KB-1042"))
        #expect(c.state.articles.isEmpty)
        #expect(removed.events.first?.event.kind == .articleRemoved)
        #expect(removed.events.first?.event.from == "KB-1042")
    }

    /// Article references follow the label rules: present, non-empty, single line.
    @Test func articleRefusals() throws {
        let c = try ReplicaCase()
        c.expectRefusal(.removeArticle("KB-1"), code: .notFound, field: "article", mentions: ["no article", "KB-1"])
        c.expectRefusal(.addArticle("KB\n1"), code: .validationFailed, field: "article", mentions: ["article", "single line"])
        c.expectRefusal(.addArticle(""), code: .validationFailed, field: "article", mentions: ["article", "empty"])
    }
}
