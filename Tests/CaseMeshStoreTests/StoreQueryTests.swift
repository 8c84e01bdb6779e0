import Foundation
import Testing
import CaseMeshCRDT
import CaseMeshDomain
@testable import CaseMeshStore

/// `list`: filters, full-text search, pagination and input validation.
@Suite struct StoreQueryTests {
    /// Filters by status, severity, owning region and owner each return
    /// exactly the matching cases, and combine with AND.
    @Test func filtersSelectExactlyTheMatchingCases() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock(step: 1))
            func make(_ title: String, _ severity: Severity) async throws -> CaseID {
                try await store.create(draft(title: title, severity: severity, fields: escalationRequest), actor: actor).state.id
            }
            let plain = try await make("plain", .sev3)
            let investigating = try await make("investigating", .sev2)
            _ = try await store.execute(.setFields([.status: .text("investigating")]), on: investigating, actor: actor)
            let escalated = try await make("escalated", .sev1)
            _ = try await store.execute(.escalate(level: .l2, reason: "needs L2", approvedBy: nil), on: escalated, actor: actor)
            let owned = try await make("owned", .sev1)
            _ = try await store.execute(.setFields([.owner: .text("Erin")]), on: owned, actor: actor)
            let moved = try await make("moved", .sev2)
            _ = try await store.execute(.setFields([.owningRegion: .text("AMER"), .owner: .text("Ahmed")]), on: moved, actor: actor)

            func ids(_ query: CaseQuery) throws -> Set<String> { Set(try allSummaries(store, query).map(\.id)) }
            #expect(try ids(CaseQuery(status: .new)) == Set([plain, owned, moved].map(\.rawValue)))
            #expect(try ids(CaseQuery(status: .investigating)) == [investigating.rawValue])
            #expect(try ids(CaseQuery(status: .escalated)) == [escalated.rawValue])
            #expect(try ids(CaseQuery(status: .resolved)).isEmpty)
            #expect(try ids(CaseQuery(severity: .sev1)) == Set([escalated, owned].map(\.rawValue)))
            #expect(try ids(CaseQuery(severity: .sev2)) == Set([investigating, moved].map(\.rawValue)))
            #expect(try ids(CaseQuery(severity: .sev4)).isEmpty)
            #expect(try ids(CaseQuery(region: region("AMER"))) == [moved.rawValue])
            #expect(try ids(CaseQuery(region: region("EMEA"))) == Set([plain, investigating, escalated, owned].map(\.rawValue)))
            #expect(try ids(CaseQuery(owner: "Erin")) == [owned.rawValue])
            #expect(try ids(CaseQuery(owner: "Ahmed")) == [moved.rawValue])
            #expect(try ids(CaseQuery(owner: "erin")).isEmpty, "owner matches exactly")
            #expect(try ids(CaseQuery(status: .new, severity: .sev1)) == [owned.rawValue])
            #expect(try ids(CaseQuery(severity: .sev2, region: region("AMER"), owner: "Ahmed")) == [moved.rawValue])
            #expect(try ids(CaseQuery(status: .escalated, region: region("AMER"))).isEmpty)

            let summary = try #require(try allSummaries(store, CaseQuery(owner: "Ahmed")).first)
            let state = try #require(try store.caseState(moved))
            #expect(summary.number == state.header.number)
            #expect(summary.title == "moved")
            #expect(summary.status == "new")
            #expect(summary.severity == "sev2")
            #expect(summary.owningRegion == "AMER")
            #expect(summary.updatedAt == Int64(state.updatedAt.wallMillis))
            await store.close()
        }
    }

    /// `slaDueBefore` selects cases whose earliest running deadline is
    /// before the instant, and follows the case as it changes: once the
    /// first response is given (a customer-visible note), the deadline moves
    /// to the resolution target and the case drops out.
    @Test func slaDueBeforeFollowsTheEarliestRunningDeadline() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock(baseMillis))
            let urgent = try await store.create(draft(title: "urgent", severity: .sev1), actor: actor).state.id
            let answered = try await store.create(draft(title: "answered", severity: .sev1), actor: actor).state.id
            let high = try await store.create(draft(title: "high", severity: .sev2), actor: actor).state.id
            let base = Int64(baseMillis), hour = Int64(hourMillis)

            func due(before millis: Int64) throws -> Set<String> { Set(try allSummaries(store, CaseQuery(slaDueBefore: millis)).map(\.id)) }
            // Sev1: first response within 1 hour; Sev2: within 4 hours (both round the clock).
            #expect(try due(before: base + 2 * hour) == Set([urgent, answered].map(\.rawValue)))
            #expect(try due(before: base + hour).isEmpty, "due exactly at base + 1h is not before it")
            #expect(try due(before: base + hour + 1) == Set([urgent, answered].map(\.rawValue)))

            _ = try await store.execute(.addNote(id: noteID("reply"), text: "We are on it", visibility: .customer), on: answered, actor: actor)
            #expect(try due(before: base + 2 * hour) == [urgent.rawValue])
            #expect(try due(before: base + 5 * hour) == Set([urgent, high].map(\.rawValue)))
            let summary = try #require(try allSummaries(store, CaseQuery(owner: nil)).first { $0.id == answered.rawValue })
            #expect(summary.slaDueAt == base + 24 * hour, "the resolution target of a Sev1 is 24 hours")
            await store.close()
        }
    }

    /// Full-text search finds a word wherever it appears (title, problem
    /// statement, a note added later), ANDs several words, ignores case and
    /// finds nothing for a word no case holds.
    @Test func textSearchCoversTitleProblemStatementAndNotes() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock(step: 1))
            let byTitle = try await store.create(draft(title: "Kafka consumer lag"), actor: actor).state.id
            let byProblem = try await store.create(draft(title: "Slow dashboard", fields: [.problemStatement: .text("Grafana panels time out after the upgrade")]), actor: actor).state.id
            let byNote = try await store.create(draft(title: "Login loops"), actor: actor).state.id
            _ = try await store.execute(addNote("n1", "Captured a tcpdump of the redirect storm"), on: byNote, actor: actor)
            _ = try await store.create(draft(title: "Unrelated billing question"), actor: actor)

            func search(_ text: String) throws -> Set<String> { Set(try allSummaries(store, CaseQuery(text: text)).map(\.id)) }
            #expect(try search("kafka") == [byTitle.rawValue])
            #expect(try search("KAFKA") == [byTitle.rawValue])
            #expect(try search("grafana") == [byProblem.rawValue])
            #expect(try search("tcpdump") == [byNote.rawValue])
            #expect(try search("redirect storm") == [byNote.rawValue])
            #expect(try search("redirect kafka").isEmpty, "words are ANDed")
            #expect(try search("zeppelin").isEmpty)
            #expect(try search("  ").count == 4, "blank text is no filter")

            // A note added later is searchable, and a changed title replaces the old words.
            _ = try await store.execute(addNote("n2", "zeppelin mentioned by the customer"), on: byTitle, actor: actor)
            #expect(try search("zeppelin") == [byTitle.rawValue])
            _ = try await store.execute(.setFields([.title: .text("Broker partition skew")]), on: byTitle, actor: actor)
            #expect(try search("kafka").isEmpty)
            #expect(try search("partition") == [byTitle.rawValue])
            #expect(try search("zeppelin") == [byTitle.rawValue])
            await store.close()
        }
    }

    /// FTS5 syntax in user input (quotes, `*`, `OR`, `NEAR(`, column
    /// filters, parentheses) is taken as plain words: no query throws, and a
    /// word wrapped in such characters still finds its case.
    @Test(arguments: [
        "\"", "\"\"", "\"kafka", "kafka\"", "*", "kafka*", "OR", "kafka OR billing", "NEAR(", "NEAR(kafka lag)",
        "title:kafka", "-kafka", "^kafka", "(kafka", ")", "AND", "NOT kafka", "kafka + lag", "{title}: kafka", "'", "\\",
    ])
    func ftsSyntaxInInputIsHarmless(_ input: String) async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock(step: 1))
            let kafka = try await store.create(draft(title: "Kafka consumer lag"), actor: actor).state.id
            _ = try await store.create(draft(title: "Unrelated billing question"), actor: actor)

            let found = try store.list(CaseQuery(text: input)).cases.map(\.id)
            let words = input.split(whereSeparator: { !$0.isLetter }).map { $0.lowercased() }
            if !words.isEmpty && words.allSatisfy({ ["kafka", "lag", "consumer"].contains($0) }) {
                #expect(found == [kafka.rawValue], "\(input) should find the Kafka case")
            }
            if words.contains("or") || words.contains("and") || words.contains("not") || words.contains("near") {
                #expect(found.isEmpty, "operators in the input are words, and no case contains \(words)")
            }
            await store.close()
        }
    }

    /// A NUL character in the search text (`q=kafka%00lag` in a URL) is a
    /// separator like any other non-letter: the search does not fail, and
    /// the words around it still find their case.
    @Test func nulCharacterInSearchTextIsHarmless() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock(step: 1))
            let kafka = try await store.create(draft(title: "Kafka consumer lag"), actor: actor).state.id
            for (input, label) in [("kafka\u{0}lag", "kafka<NUL>lag"), ("\u{0}", "<NUL>"), ("kafka \u{0}", "kafka <NUL>")] {
                let error = await storeError { try store.list(CaseQuery(text: input)) }
                #expect(error == nil, "searching \(label) failed: \(String(describing: error))")
                if label.hasPrefix("kafka") {
                    #expect((try? store.list(CaseQuery(text: input)).cases.map(\.id)) == [kafka.rawValue], "searching \(label)")
                }
            }
            await store.close()
        }
    }

    /// 30 cases paged 7 at a time: every case is listed exactly once, pages
    /// are in updated-at descending order (ties: the later-created case
    /// first) across page boundaries, and the last page has no cursor. Run
    /// with distinct update times and with all cases in the same millisecond.
    @Test(arguments: [UInt64(0), UInt64(5)])
    func paginationVisitsEveryCaseOnceInOrder(clockStep: UInt64) async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock(step: clockStep))
            var ids: [String] = []
            for index in 0..<30 {
                let created = try await store.create(draft(title: "Paged case \(index)"), actor: actor)
                ids.append(created.state.id.rawValue)
            }
            // Touch a few so update order differs from creation order.
            for index in [3, 17, 8] {
                _ = try await store.execute(addNote("n\(index)", "bump"), on: caseID(ids[index]), actor: actor)
            }

            var seen: [CaseSummary] = []
            var query = CaseQuery(limit: 7)
            var pages = 0
            while true {
                let page = try store.list(query)
                pages += 1
                #expect(page.cases.count <= 7)
                seen += page.cases
                guard let cursor = page.nextCursor else { break }
                #expect(page.cases.count == 7)
                query.cursor = cursor
                try #require(pages <= 10, "pagination does not terminate")
            }
            #expect(pages == 5)
            #expect(seen.count == 30)
            #expect(Set(seen.map(\.id)) == Set(ids))
            let created = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
            let expectedOrder = seen.sorted { ($0.updatedAt, created[$0.id]!) > ($1.updatedAt, created[$1.id]!) }
            #expect(seen.map(\.id) == expectedOrder.map(\.id))
            for summary in seen {
                let state = try #require(try store.caseState(caseID(summary.id)))
                #expect(summary.updatedAt == Int64(state.updatedAt.wallMillis))
            }
            if clockStep > 0 {
                #expect(Array(seen.prefix(3).map(\.id)) == [ids[8], ids[17], ids[3]], "the most recently updated come first")
            }
            await store.close()
        }
    }

    /// Paging through a filtered, searched list keeps the filter on every
    /// page, and the list order: newest-updated first.
    @Test func paginationKeepsFilters() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock(step: 1))
            var expected: [String] = []
            for index in 0..<25 {
                let severity: Severity = index.isMultiple(of: 2) ? .sev1 : .sev4
                let word = index.isMultiple(of: 3) ? "outage" : "question"
                let id = try await store.create(draft(title: "Case \(index) \(word)", severity: severity), actor: actor).state.id
                if severity == .sev1 && word == "outage" { expected.append(id.rawValue) }
            }
            var seen: [String] = []
            var query = CaseQuery(severity: .sev1, text: "outage", limit: 2)
            while true {
                let page = try store.list(query)
                seen += page.cases.map(\.id)
                guard let cursor = page.nextCursor else { break }
                query.cursor = cursor
            }
            // Each case was created (and so last updated) after the one before.
            #expect(seen == expected.reversed())
            await store.close()
        }
    }

    /// A cursor the node did not hand out, and limits outside 1…1000, are
    /// refused as validation errors naming the parameter; the bounds
    /// themselves are accepted.
    @Test func invalidCursorAndLimitAreRejected() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock())
            _ = try await store.create(draft(), actor: actor)
            for cursor in ["not a cursor", "", "%%%", Data("no-bar".utf8).base64EncodedString(), Data("abc|id".utf8).base64EncodedString()] {
                let error = await storeError { try store.list(CaseQuery(cursor: cursor)) }
                let domain = rejection(error)
                #expect(domain?.field == "cursor", "cursor \(cursor.debugDescription): \(String(describing: error))")
                #expect(domain?.code == .validationFailed)
            }
            for limit in [0, -1, 1001, Int.max] {
                let error = await storeError { try store.list(CaseQuery(limit: limit)) }
                let domain = rejection(error)
                #expect(domain?.field == "limit", "limit \(limit): \(String(describing: error))")
                #expect(domain?.code == .validationFailed)
            }
            #expect(try store.list(CaseQuery(limit: 1)).cases.count == 1)
            #expect(try store.list(CaseQuery(limit: 1000)).cases.count == 1)
            await store.close()
        }
    }
}
