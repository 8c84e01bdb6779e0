import CaseMeshCRDT
import CaseMeshDomain
@testable import CaseMeshStore
import Foundation
import GRDB
import Testing

/// Case states are appended as versions and cleaned from the oldest end
/// (`VersionLog`): the bookkeeping alone, then the store keeping every
/// case intact through cleaning, restarts, concurrent reads and the
/// upgrade from states kept in the `cases` rows.
@Suite struct CaseVersionTests {
    @Test func versionsAreContiguousAndTheNewestIsLive() {
        var log = VersionLog()
        #expect(log.append(3) == 1)
        #expect(log.append(5) == 2)
        #expect(log.append(3) == 3)
        #expect(log.live[3] == 3)
        #expect(log.live[5] == 2)
        #expect(log.live[4] == nil)
        #expect(log.count == 3 && log.next == 4)
        #expect(log.clean(limit: 3) == nil, "nothing to clean at the limit")
    }

    /// The oldest versions go first; a live one is appended again before
    /// its range is deleted.
    @Test func cleaningRelocatesLiveVersionsAndDropsTheRest() {
        var log = VersionLog()
        _ = log.append(1)  // 1: live (case 1 never changes again)
        _ = log.append(2)  // 2: dead after 3
        _ = log.append(2)  // 3: live
        _ = log.append(3)  // 4: live
        let cleaning = log.clean(limit: 2)
        // 1 is relocated to 5, 2 dropped, 3 relocated to 6, 4 relocated to 7… until at most 2 remain,
        // or every version has been looked at once.
        #expect(cleaning?.relocations.first == VersionLog.Relocation(caseRow: 1, from: 1, to: 5))
        #expect(cleaning?.relocations.contains { $0.from == 2 } == false)
        #expect(log.live[1]! >= log.oldest && log.live[2]! >= log.oldest && log.live[3]! >= log.oldest)
        #expect(cleaning?.dropBelow == log.oldest)
        #expect(log.count == 3, "three live cases cannot fit in two versions: cleaning stops after one pass")
    }

    /// Whatever the updates, every case's live version stays stored and
    /// belongs to it, and cleaning holds the count at its limit.
    @Test(arguments: [0x5EED_0001, 0x5EED_0002, 0x5EED_0003] as [UInt64])
    func randomUpdatesKeepEveryLiveVersionStored(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var log = VersionLog()
        var owner: [Int64: Int64] = [:]  // stored version → case
        let cases: Int64 = 50
        let limit = 2 * Int(cases) + 10
        for step in 0..<5_000 {
            let caseRow = Int64(random.next() % UInt64(cases)) + 1
            owner[log.append(caseRow)] = caseRow
            if let cleaning = log.clean(limit: limit) {
                for relocation in cleaning.relocations {
                    #expect(owner[relocation.from] == relocation.caseRow, "seed \(seed) step \(step)")
                    owner[relocation.to] = relocation.caseRow
                }
                owner = owner.filter { $0.key >= cleaning.dropBelow }
            }
            #expect(log.count <= max(limit, Int(cases)), "seed \(seed) step \(step)")
            #expect(owner.count == log.count, "seed \(seed) step \(step)")
        }
        for caseRow in 1...cases {
            guard let version = log.live[caseRow] else { continue }
            #expect(owner[version] == caseRow, "seed \(seed): case \(caseRow)'s live version \(version) is not stored for it")
        }
    }

    /// With a slack, nothing is cleaned until the versions pass the limit
    /// by more than it; then cleaning goes down to the limit in one round.
    @Test func cleaningWaitsForTheSlackThenGoesDownToTheLimit() {
        var log = VersionLog()
        for version in 1...14 { _ = log.append(Int64(version % 2) + 1) }  // two cases, alternating
        #expect(log.clean(limit: 10, slack: 4) == nil, "14 versions are within 10 + 4")
        _ = log.append(1)
        let cleaning = log.clean(limit: 10, slack: 4)
        #expect(cleaning == VersionLog.Cleaning(relocations: [], dropBelow: 6), "15 versions: the oldest five (all dead) go at once")
        #expect(log.count == 10 && log.oldest == 6)
        #expect(log.clean(limit: 10, slack: 4) == nil)
        #expect(NodeStore.cleaningSlack(limit: NodeStore.versionLimit(caseCount: 1_000_000)) == NodeStore.cleaningChunk)
        #expect(NodeStore.cleaningSlack(limit: NodeStore.versionLimit(caseCount: 5)) == 9, "a small store cleans in smaller chunks")
    }

    @Test func restoredVersionsMakeTheNewestLive() {
        var log = VersionLog(oldest: 10, owners: [1, 2, 1, 3])
        #expect(log.live[1] == 12 && log.live[2] == 11 && log.live[3] == 13)
        #expect(log.oldest == 10 && log.next == 14)
        #expect(log.append(2) == 14)
        #expect(log.clean(limit: 3) == VersionLog.Cleaning(relocations: [], dropBelow: 12), "10 and 11 are dead")
    }

    // MARK: - The store

    static func versionRange(_ dir: String) async throws -> (count: Int, oldest: Int64) {
        try await DatabaseQueue(path: configuration(dir).databasePath).read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM case_versions") ?? 0, try Int64.fetchOne(db, sql: "SELECT min(rowid) FROM case_versions") ?? 0)
        }
    }

    /// Many updates to a few cases: cleaning keeps the versions within
    /// its limit, and a case nobody touched since its creation (its first
    /// version is among the oldest) is relocated, not lost, as a restart shows.
    @Test func cleaningKeepsEveryCaseThroughARestart() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(step: 1)
            let store = try openStore(dir, clock: clock)
            let untouched = try await store.create(draft(id: "untouched", title: "Written once"), actor: actor).state
            var latest: [String: CaseState] = ["untouched": untouched]
            for index in 0..<4 { latest["busy\(index)"] = try await store.create(draft(id: "busy\(index)", title: "Busy \(index)"), actor: actor).state }
            for round in 0..<60 {
                for index in 0..<4 {
                    latest["busy\(index)"] = try await store.execute(addNote("n\(round)", "round \(round)"), on: caseID("busy\(index)"), actor: actor).state
                }
            }
            let before = try StoreSnapshot(store)
            await store.close()
            let (count, oldest) = try await Self.versionRange(dir)
            let limit = NodeStore.versionLimit(caseCount: 5)
            #expect(count <= limit + NodeStore.cleaningSlack(limit: limit))
            #expect(oldest > 5, "the first versions were cleaned")

            let reopened = try openStore(dir, clock: clock)
            for (id, state) in latest { #expect(try reopened.caseState(caseID(id)) == state, "case \(id)") }
            #expect(try StoreSnapshot(reopened) == before)
            #expect(reopened.digest.digest == (try recomputedDigest(reopened)))
            #expect(try reopened.integrityCheck().isEmpty)
            await reopened.close()
        }
    }

    /// Readers running while writes clean and relocate versions under them
    /// always get a case (they look a moved version up again), never an error.
    @Test func readsDuringCleaningFindEveryCase() async throws {
        try await withTemporaryDirectory { dir in
            var settings = configuration(dir)
            settings.recentCases = 1  // so reads go to the table
            let store = try NodeStore.open(settings, wallClock: ManualClock(step: 1).wallClock, logger: testLogger)
            let ids = (0..<6).map { "c\($0)" }
            for id in ids { _ = try await store.create(draft(id: id, title: "Case \(id)"), actor: actor) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<4 {
                    group.addTask {
                        for round in 0..<80 {
                            _ = try await store.execute(addNote("w\(writer)-\(round)", "note"), on: caseID(ids[(writer + round) % 3]), actor: actor)
                        }
                    }
                }
                group.addTask {
                    for _ in 0..<300 {
                        for id in ids {
                            let state = try store.caseState(caseID(id))
                            #expect(state?.id == caseID(id))
                        }
                        let listed = try store.list(CaseQuery(limit: 10)).cases.count
                        let encoded = try store.encodedCases(ids.map(caseID)).count
                        #expect(listed == ids.count && encoded == ids.count)
                    }
                }
                try await group.waitForAll()
            }
            #expect(store.writeFailure == nil)
            #expect(store.digest.digest == (try recomputedDigest(store)))
            await store.close()
            #expect(try await Self.versionRange(dir).oldest > 6, "cleaning ran")
        }
    }

    /// Closes `store`, puts its database back in an older layout with
    /// `revert`, and opens it again (running the later migrations); the
    /// reopened store holds exactly what the store held.
    static func reopenedAsBefore(_ store: NodeStore, _ dir: String, clock: ManualClock,
                                 revert: @escaping @Sendable (Database) throws -> Void) async throws -> NodeStore {
        let before = try StoreSnapshot(store)
        await store.close()
        let queue = try DatabaseQueue(path: configuration(dir).databasePath)
        try await queue.write { db in try revert(db) }
        try queue.close()
        let upgraded = try openStore(dir, clock: clock)
        #expect(try StoreSnapshot(upgraded) == before)
        return upgraded
    }

    /// A store from before case versions: its states move into versions
    /// when it opens, and it serves and takes writes as before.
    @Test func aStoreWithStatesInItsCaseRowsIsUpgraded() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(step: 1)
            let store = try openStore(dir, clock: clock)
            for index in 0..<5 { _ = try await store.create(draft(id: "c\(index)", title: "Case \(index)"), actor: actor) }
            for round in 0..<3 { _ = try await store.execute(addNote("n\(round)", "note \(round)"), on: caseID("c1"), actor: actor) }
            let upgraded = try await Self.reopenedAsBefore(store, dir, clock: clock, revert: revertToCasesWithStates)
            let noted = try await upgraded.execute(addNote("after", "after the upgrade"), on: caseID("c1"), actor: actor).state
            #expect(noted.notes.count == 4)
            #expect(try upgraded.integrityCheck().isEmpty)
            await upgraded.close()
            let columns = try await DatabaseQueue(path: configuration(dir).databasePath).read { db in
                try Row.fetchAll(db, sql: "PRAGMA table_info(cases)").map { $0["name"] as String }
            }
            #expect(Set(columns) == ["rowid", "id", "number", "created_at", "bucket"])
        }
    }

    /// A store whose versions still hold their states (before v8): the
    /// states move to `case_states` when it opens, and it serves, cleans
    /// and takes writes as before.
    @Test func versionsWithStatesAreSplitOnOpening() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(step: 1)
            let store = try openStore(dir, clock: clock)
            for index in 0..<4 { _ = try await store.create(draft(id: "c\(index)", title: "Case \(index)"), actor: actor) }
            for round in 0..<30 { _ = try await store.execute(addNote("n\(round)", "note \(round)"), on: caseID("c\(round % 2)"), actor: actor) }
            let upgraded = try await Self.reopenedAsBefore(store, dir, clock: clock, revert: revertToVersionsWithStates)
            for round in 30..<120 { _ = try await upgraded.execute(addNote("n\(round)", "note \(round)"), on: caseID("c\(round % 2)"), actor: actor) }
            #expect(try upgraded.caseState(caseID("c0"))?.notes.count == 60)
            #expect(upgraded.digest.digest == (try recomputedDigest(upgraded)))
            #expect(try upgraded.integrityCheck().isEmpty)
            await upgraded.close()
            let (columns, versions, states, pages) = try await DatabaseQueue(path: configuration(dir).databasePath).read { db in
                (try Row.fetchAll(db, sql: "PRAGMA table_info(case_versions)").map { $0["name"] as String },
                 try Int64.fetchAll(db, sql: "SELECT rowid FROM case_versions ORDER BY rowid"),
                 try Int64.fetchAll(db, sql: "SELECT version FROM case_states ORDER BY version"),
                 try Int.fetchOne(db, sql: "SELECT count(*) FROM dbstat WHERE name = 'case_versions'") ?? 0)
            }
            #expect(!columns.contains("state"))
            // The narrow table holds about 120 bytes a version, none of the states.
            #expect(pages <= max(2, versions.count / 10), "\(pages) pages for \(versions.count) versions")
            #expect(versions == states, "every version has its state, and nothing more")
            #expect(versions.first ?? 0 > 1, "cleaning ran on both tables")
        }
    }

    /// Versions missing from the middle of the range, or a case with no
    /// version at all: the store refuses to open rather than serve a case
    /// older than it acknowledged.
    @Test(arguments: ["a gap", "a case without versions", "states that do not match"])
    func missingVersionsAreReportedAsDamage(damage: String) async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock(step: 1)
            let store = try openStore(dir, clock: clock)
            // Versions 1 and 2: c0 and c1; 3: c0 again; 4: c2, the newest.
            for index in 0..<2 { _ = try await store.create(draft(id: "c\(index)", title: "Case \(index)"), actor: actor) }
            _ = try await store.execute(addNote("n1", "note"), on: caseID("c0"), actor: actor)
            _ = try await store.create(draft(id: "c2", title: "Case 2"), actor: actor)
            await store.close()
            try await DatabaseQueue(path: configuration(dir).databasePath).write { db in
                switch damage {
                case "a gap":
                    try db.execute(sql: "DELETE FROM case_versions WHERE rowid = 2")
                case "a case without versions":
                    try db.execute(sql: "DELETE FROM case_versions WHERE case_row = (SELECT rowid FROM cases WHERE id = 'c2')")
                    try db.execute(sql: "DELETE FROM case_states WHERE case_row = (SELECT rowid FROM cases WHERE id = 'c2')")
                default:
                    // The newest version's state is gone.
                    try db.execute(sql: "DELETE FROM case_states WHERE version = 4")
                }
            }
            let failure: StoreError?
            do {
                let reopened = try openStore(dir, clock: clock)
                await reopened.close()
                failure = nil
            } catch {
                failure = error as? StoreError
            }
            guard case let .corrupt(_, reason)? = failure else {
                Issue.record("expected .corrupt, got \(String(describing: failure))")
                return
            }
            let expected = ["a gap": "missing", "a case without versions": "no stored state", "states that do not match": "do not match"][damage]!
            #expect(reason.contains(expected), "reason: \(reason)")
        }
    }
}
