import CaseMeshCRDT
import CaseMeshDomain
import Foundation
import GRDB
@testable import CaseMeshStore
import Testing

/// The background checkpointer copies committed pages from the log into the
/// database file without the writer's help.
@Suite struct CheckpointerTests {
    /// Far fewer pages than the writer's own checkpoint mark are written, so
    /// only the background checkpointer can have copied them: the database
    /// file alone (copied without its log) soon holds every case.
    @Test func committedPagesReachTheDatabaseFile() async throws {
        try await withTemporaryDirectory { dir in
            let settings = configuration(dir, durability: .full)
            let store = try NodeStore.open(settings, wallClock: ManualClock(step: 1).wallClock, logger: testLogger)
            for index in 0..<60 {
                _ = try await store.create(draft(id: "c\(index)", title: "Case \(index)"), actor: actor)
            }
            let copy = dir + "/copy.sqlite"
            var found = 0
            for _ in 0..<200 where found < 60 {
                try? FileManager.default.removeItem(atPath: copy)
                try FileManager.default.copyItem(atPath: settings.databasePath, toPath: copy)
                // The copy has no log beside it: it holds what was checkpointed.
                found = (try? await DatabaseQueue(path: copy).read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM cases") ?? 0 }) ?? 0
                if found < 60 { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(found == 60)
            #expect(store.checkpointer.counts.checkpoints > 0)
            #expect(store.checkpointer.counts.failures == 0)
            await store.close()
        }
    }

    /// After a large transaction the log file is cut back to the limit once
    /// its pages are copied and the writer starts the log over; SQLite would
    /// otherwise keep the file at its largest size.
    @Test func theLogFileShrinksBackAfterALargeTransaction() async throws {
        try await withTemporaryDirectory { dir in
            var settings = configuration(dir, durability: .full)
            settings.walFileLimitBytes = 128 * 1024
            // No search writes in the background: the test's own writes are the only ones.
            settings.searchIndexDelayMillis = 3_600_000
            let store = try NodeStore.open(settings, wallClock: ManualClock(step: 1).wallClock, logger: testLogger)
            let walPath = settings.databasePath + "-wal"
            func walSize() -> Int { ((try? FileManager.default.attributesOfItem(atPath: walPath))?[.size] as? Int) ?? 0 }
            // Submitted together, the large cases are one transaction of about 1 MB.
            let results = await store.submit((0..<60).map { index in
                .create(draft(id: "big\(index)", fields: [.problemStatement: .text(FaultEnvironment.bulkyText(index))]), actor: actor)
            })
            for result in results { _ = try result.get() }
            #expect(store.commitStatistics.commits == 1)
            let grown = walSize()
            #expect(grown > 4 * settings.walFileLimitBytes, "the log grew to \(grown) bytes")
            var size = grown
            for index in 0..<200 where size > settings.walFileLimitBytes {
                _ = try await store.create(draft(id: "small\(index)"), actor: actor)
                try await Task.sleep(for: .milliseconds(50))
                size = walSize()
            }
            #expect(size <= settings.walFileLimitBytes, "the log file is still \(size) bytes")
            #expect(try store.caseState(caseID("big7")) != nil)
            await store.close()
        }
    }

    /// Closing stops the checkpointer; stopping it again (as a dropped store
    /// does) returns at once.
    @Test func stoppingTwiceReturns() async throws {
        try await withTemporaryDirectory { dir in
            let store = try openStore(dir, clock: ManualClock(step: 1))
            _ = try await store.create(draft(id: "c1"), actor: actor)
            await store.close()
            store.checkpointer.stop()
            let reopened = try openStore(dir, clock: ManualClock(step: 1))
            #expect(try reopened.caseState(caseID("c1")) != nil)
            await reopened.close()
        }
    }
}

/// A checkpoint that fails is counted and the thread carries on: writers
/// learn of real trouble from their own commits, not from here.
@Suite struct CheckpointerFailureTests {
    /// The database file is made immutable (`chattr +i`, which stops even
    /// root) while committed pages wait in the log: copying them fails.
    @Test(.enabled(if: getuid() == 0 && FaultEnvironment.tool("chattr") != nil, "needs root and chattr"))
    func failedCheckpointsAreCountedAndTheThreadStillStops() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/pages-waiting.sqlite"
            var settings = Configuration()
            settings.prepareDatabase { db in try db.execute(sql: "PRAGMA wal_autocheckpoint = 0") }
            let writer = try DatabaseQueue(path: path, configuration: settings)
            try await writer.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA journal_mode = WAL")
                try db.execute(sql: "CREATE TABLE t(x)")
            }
            let checkpointer = try Checkpointer(path: path, durability: .full, logger: testLogger)
            try await writer.write { db in
                for index in 0..<500 { try db.execute(sql: "INSERT INTO t VALUES (?)", arguments: [String(repeating: "x", count: 200) + "\(index)"]) }
            }
            let chattr = try #require(FaultEnvironment.tool("chattr"))
            try #require(run(chattr, ["+i", path]).status == 0, "chattr +i failed on this file system")
            defer { _ = run(chattr, ["-i", path]) }

            checkpointer.committed()
            var counts = checkpointer.counts
            for _ in 0..<200 where counts.failures == 0 {
                try await Task.sleep(for: .milliseconds(20))
                counts = checkpointer.counts
            }
            #expect(counts.failures >= 1)
            // It keeps going: once the file can be written again, the next
            // checkpoint copies the pages.
            _ = run(chattr, ["-i", path])
            checkpointer.committed()
            for _ in 0..<200 where counts.checkpoints == 0 {
                try await Task.sleep(for: .milliseconds(20))
                counts = checkpointer.counts
            }
            #expect(counts.checkpoints >= 1)
            checkpointer.stop()
            #expect(try await writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM t") } == 500)
            try writer.close()
        }
    }
}
