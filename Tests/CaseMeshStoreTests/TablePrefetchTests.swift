import CaseMeshCRDT
@testable import CaseMeshStore
import Foundation
import GRDB
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The opening scan's prefetch (`TablePrefetch`) and the B-tree pages it
/// reads (`BTreePage`): it must find exactly a table's pages, and must not
/// trust a damaged file.
@Suite struct TablePrefetchTests {
    static let pageSize = 1_024

    /// A database of three tables whose rows were written in turn, then
    /// partly deleted and written again, so that each table's pages are
    /// spread over the file among the others' (as cleaning and appends leave
    /// `case_versions`). Small pages make the trees three levels deep, but
    /// for `shallow`, which is two.
    static func scatteredDatabase(_ path: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA page_size = \(pageSize)")
            try db.execute(sql: """
                CREATE TABLE shallow (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
                CREATE TABLE a (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
                CREATE TABLE b (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
                CREATE TABLE c (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
                """)
        }
        var generator = SplitMix64(seed: 7)
        func body() -> String { String(repeating: "x", count: Int.random(in: 60...200, using: &generator)) }
        try queue.write { db in
            // Two levels, its leaves on pages below the deep trees' interior pages.
            for row in 1...100 { try db.execute(sql: "INSERT INTO shallow(id, body) VALUES (?, ?)", arguments: [row, body()]) }
            for row in 1...6_000 {
                for table in ["a", "b", "c"] { try db.execute(sql: "INSERT INTO \(table)(id, body) VALUES (?, ?)", arguments: [row, body()]) }
            }
            try db.execute(sql: "DELETE FROM a WHERE id % 3 = 0 OR id BETWEEN 1000 AND 2500")
            try db.execute(sql: "DELETE FROM c WHERE id % 2 = 0")
            for row in 6_001...9_000 {
                for table in ["a", "c"] { try db.execute(sql: "INSERT INTO \(table)(id, body) VALUES (?, ?)", arguments: [row, body()]) }
            }
            // Last, on pages of its own at the end of the file.
            try db.execute(sql: "CREATE TABLE d (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
            for row in 1...3_000 { try db.execute(sql: "INSERT INTO d(id, body) VALUES (?, ?)", arguments: [row, body()]) }
        }
        try queue.close()
    }

    /// The root pages of `tables`, and their pages as SQLite's `dbstat` lists them.
    static func expectedPages(_ path: String, tables: [String]) throws -> (roots: [UInt32], pages: TablePrefetch.Pages) {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            let names = tables.map { "'\($0)'" }.joined(separator: ", ")
            let roots = try Int64.fetchAll(db, sql: "SELECT rootpage FROM sqlite_schema WHERE name IN (\(names))").map { UInt32($0) }
            func pages(_ type: String) throws -> [UInt32] {
                try Int64.fetchAll(db, sql: "SELECT pageno FROM dbstat WHERE name IN (\(names)) AND pagetype = ? ORDER BY pageno", arguments: [type])
                    .map { UInt32($0) }
            }
            return (roots, TablePrefetch.Pages(interior: try pages("internal"), leaves: try pages("leaf")))
        }
    }

    @Test func theWalkFindsExactlyTheTablesPages() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/scattered.sqlite"
            try Self.scatteredDatabase(path)
            let (roots, expected) = try Self.expectedPages(path, tables: ["a", "b", "shallow"])
            let (_, otherTable) = try Self.expectedPages(path, tables: ["c"])
            let (_, shallow) = try Self.expectedPages(path, tables: ["shallow"])
            let (_, deep) = try Self.expectedPages(path, tables: ["a"])
            #expect(expected.interior.count > 3, "the deep trees have interior pages below their roots")
            #expect(shallow.interior.count == 1 && shallow.leaves.count > 1, "shallow: a root and its leaves")
            #expect(shallow.leaves.first! < deep.interior.filter { !roots.contains($0) }.min()!,
                    "walked level by level across trees, a leaf of shallow would come first in the deep trees' second level")
            #expect(Set(expected.leaves).intersection(otherTable.leaves).isEmpty)
            // The two tables' leaves are interleaved with the third's, not in one stretch each.
            #expect(otherTable.leaves.contains { $0 > expected.leaves.first! && $0 < expected.leaves.last! })

            let found = try #require(TablePrefetch.pages(path: path, pageSize: Self.pageSize, roots: roots))
            #expect(found.interior.sorted() == expected.interior)
            #expect(found.leaves == expected.leaves)
        }
    }

    /// Dropped from the page cache, the leaves are back in it once the
    /// prefetch returns (read, or on their way from the disk).
    @Test(.enabled(if: pageCacheCanBeDropped(), "the temporary folder's file system keeps its pages in memory"))
    func thePrefetchPutsTheLeavesInThePageCache() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/scattered.sqlite"
            try Self.scatteredDatabase(path)
            let (roots, expected) = try Self.expectedPages(path, tables: ["a", "b"])
            // Read before the cache is dropped: `dbstat` reads every page it lists.
            let apart = try Self.expectedPages(path, tables: ["d"]).pages.leaves.filter { $0 > expected.leaves.last! + 16 }
            try #require(apart.count > 100)
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            try #require(fd >= 0)
            defer { close(fd) }
            #expect(fdatasync(fd) == 0)
            #expect(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0)
            let before = try Self.cachedPages(fd, Self.pageSize, among: expected.leaves)
            try #require(before < expected.leaves.count / 10, "the file system dropped the pages (\(before) of \(expected.leaves.count) still cached)")

            let report = try #require(TablePrefetch.run(path: path, pageSize: Self.pageSize, roots: roots))
            #expect(report.leafPages == expected.leaves.count)
            #expect(report.interiorPages == expected.interior.count)
            #expect(report.runs >= 1 && report.runs < expected.leaves.count / 2, "nearby leaves are asked for together")
            #expect(report.leftOutPages == 0)
            // Advice is carried out asynchronously, and is best effort: the
            // kernel skips pages it cannot get memory for at once (seen under
            // the full suite's load: 92% of them). Without the advice about
            // 2% are cached (those sharing a memory page with an interior page).
            var after = 0
            for _ in 0..<200 {
                after = try Self.cachedPages(fd, Self.pageSize, among: expected.leaves)
                if after == expected.leaves.count { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(after >= expected.leaves.count / 2, "\(after) of \(expected.leaves.count) leaves cached")
            // Pages between the leaves asked for are read with them; a table whose pages lie apart is not.
            let others = try Self.cachedPages(fd, Self.pageSize, among: apart)
            #expect(others == 0, "\(others) of the \(apart.count) leaves of a table not asked for, past the others, are cached")
        }
    }

    /// Whether a file in the temporary folder leaves the page cache when told
    /// to (`POSIX_FADV_DONTNEED`); tmpfs, for one, keeps it.
    static func pageCacheCanBeDropped() -> Bool {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("casemesh-page-cache-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        guard FileManager.default.createFile(atPath: path, contents: Data(repeating: 1, count: 64 * 1_024)) else { return false }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard fdatasync(fd) == 0, posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0 else { return false }
        return (try? cachedPages(fd, 4_096, among: Array(1...16))) == 0
    }

    /// Past the memory limit, the leaves last in the file are left out.
    @Test func leavesPastTheLimitAreLeftOut() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/scattered.sqlite"
            try Self.scatteredDatabase(path)
            let (roots, expected) = try Self.expectedPages(path, tables: ["a", "b"])
            let report = try #require(TablePrefetch.run(path: path, pageSize: Self.pageSize, roots: roots, limitBytes: 256 * 1_024))
            #expect(report.leafPages > 0 && report.leftOutPages > 0)
            #expect(report.leafPages + report.leftOutPages == expected.leaves.count)
            #expect(report.leafPages <= 256, "at most 256 KiB of 1 KiB pages, gaps included")
            #expect(report.runs >= 1)
        }
    }

    /// The open's ends of the versions and states are found at the edges of
    /// their B-trees: a scan of `case_states` reads nearly the whole file.
    @Test(arguments: [NodeStore.versionEndsSQL, NodeStore.stateEndsSQL])
    func theOpeningReadsOnlyTheEndsOfTheVersionsAndStates(sql: String) async throws {
        try await withTemporaryDirectory { dir in
            let store = try NodeStore.open(configuration(dir), wallClock: ManualClock(step: 1).wallClock, logger: testLogger)
            await store.close()
            let queue = try DatabaseQueue(path: configuration(dir).databasePath)
            defer { try? queue.close() }
            let plan = try await queue.read { db in try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql).map { $0["detail"] as String } }
            #expect(plan.filter { $0.hasPrefix("SEARCH") }.count == 2, "\(plan)")
            #expect(!plan.contains { $0.hasPrefix("SCAN") && $0 != "SCAN CONSTANT ROW" }, "\(plan)")
        }
    }

    /// The store's connections keep their locks on the database file once
    /// it is open. (A descriptor of the file closed while they are open
    /// would release them all: POSIX locks belong to the process.) Checked
    /// from another process, which must not get SQLite's shared-lock bytes
    /// for writing.
    @Test func theStoreKeepsItsLocksOnTheDatabaseFile() async throws {
        try await withTemporaryDirectory { dir in
            let settings = configuration(dir)
            do {
                let store = try NodeStore.open(settings, wallClock: ManualClock(step: 1).wallClock, logger: testLogger)
                _ = try await store.create(draft(id: "x", title: "Checkout fails"), actor: actor)
                await store.close()
            }
            let store = try NodeStore.open(settings, wallClock: ManualClock(step: 1).wallClock, logger: testLogger)
            _ = try store.caseState(caseID("x"))
            // SQLite's shared-lock range: 510 bytes from the pending byte (2^30) + 2.
            let probe = """
                import fcntl, os, sys
                fd = os.open(sys.argv[1], os.O_RDWR)
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 510, 0x40000002)
                except OSError:
                    sys.exit(3)
                """
            let result = try await offPool { run("/usr/bin/env", ["python3", "-c", probe, settings.databasePath]) }
            #expect(result.status == 3, "another process could lock the database file for writing: \(result)")
            await store.close()
        }
    }

    /// How many of `pages` (database page numbers) the page cache holds.
    static func cachedPages(_ fd: Int32, _ pageSize: Int, among pages: [UInt32]) throws -> Int {
        var status = stat()
        try #require(fstat(fd, &status) == 0)
        let size = Int(status.st_size)
        let mapping = try #require(mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0))
        try #require(mapping != MAP_FAILED)
        defer { munmap(mapping, size) }
        let systemPage = Int(sysconf(Int32(_SC_PAGESIZE)))
        var resident = [UInt8](repeating: 0, count: (size + systemPage - 1) / systemPage)
        try #require(mincore(mapping, size, &resident) == 0)
        return pages.filter { resident[(Int($0) - 1) * pageSize / systemPage] & 1 == 1 }.count
    }

    @Test func aFileThatCannotBeOpenedIsNotPrefetched() {
        #expect(TablePrefetch.run(path: "/nonexistent/casemesh.sqlite", pageSize: 4_096, roots: [2]) == nil)
    }

    /// Pages of random bytes, and an interior page that is its own child:
    /// the walk ends, and keeps to the file's pages.
    @Test(arguments: [1, 2, 3, 4, 5]) func aDamagedFileEndsTheWalk(seed: UInt64) async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/damaged.sqlite"
            var generator = SplitMix64(seed: seed)
            var bytes = (0..<(64 * Self.pageSize)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // Page 3: an interior table page whose one cell and right-most pointer name page 3.
            let page3 = 2 * Self.pageSize
            bytes.replaceSubrange(page3..<(page3 + 12), with: [0x05, 0, 0, 0, 1, 0x03, 0xF0, 0, 0, 0, 0, 3])
            bytes.replaceSubrange((page3 + 12)..<(page3 + 14), with: [0x03, 0xF0])
            bytes.replaceSubrange((page3 + 0x3F0)..<(page3 + 0x3F4), with: [0, 0, 0, 3])
            try Data(bytes).write(to: URL(fileURLWithPath: path))

            let found = try #require(TablePrefetch.pages(path: path, pageSize: Self.pageSize, roots: Array(1...70)))
            #expect(found.interior.count <= TablePrefetch.maximumDepth * 64, "seed \(seed)")
            #expect((found.interior + found.leaves).allSatisfy { (1...64).contains($0) }, "seed \(seed)")
            let cycle = try #require(TablePrefetch.pages(path: path, pageSize: Self.pageSize, roots: [3]))
            #expect(cycle.interior == [3], "a page is read once")
            #expect(cycle.leaves.isEmpty)
        }
    }

    @Test(arguments: [
        ([], 0, []),
        ([5], 8, [5...5]),
        ([1, 2, 3, 7], 0, [1...3, 7...7]),
        ([1, 2, 3, 7], 3, [1...7]),
        ([1, 12, 13, 30], 8, [1...1, 12...13, 30...30]),
        ([1, 10, 19, 29], 8, [1...19, 29...29]),
        ([UInt32.max - 1, UInt32.max], 8, [(UInt32.max - 1)...UInt32.max]),
    ] as [([UInt32], UInt32, [ClosedRange<UInt32>])])
    func nearbyPagesAreJoinedIntoRuns(pages: [UInt32], gap: UInt32, runs: [ClosedRange<UInt32>]) {
        #expect(TablePrefetch.runs(pages, gap: gap) == runs)
    }
}

extension TablePrefetchTests {
    @Test(arguments: [
        ([], 10, []),
        ([1...4, 10...20], 0, []),
        ([1...4, 10...20], 3, [1...3]),
        ([1...4, 10...20], 4, [1...4]),
        ([1...4, 10...20], 6, [1...4, 10...11]),
        ([1...4, 10...20], 100, [1...4, 10...20]),
    ] as [([ClosedRange<UInt32>], Int, [ClosedRange<UInt32>])])
    func runsAreCutAtTheLimit(runs: [ClosedRange<UInt32>], limit: Int, kept: [ClosedRange<UInt32>]) {
        #expect(TablePrefetch.limited(runs, toPages: limit) == kept)
    }
}

/// `BTreePage` on pages built byte by byte.
@Suite struct BTreePageTests {
    /// A 512-byte page with the B-tree header `header` at `start` and the given cells (offset, left child).
    static func page(start: Int = 0, type: UInt8, rightMost: UInt32 = 0, cells: [(offset: Int, child: UInt32)] = [],
                     cellCount: Int? = nil) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 512)
        func put16(_ value: Int, at offset: Int) { bytes[offset] = UInt8(value >> 8); bytes[offset + 1] = UInt8(value & 0xFF) }
        func put32(_ value: UInt32, at offset: Int) { for i in 0..<4 { bytes[offset + i] = UInt8((value >> (24 - 8 * i)) & 0xFF) } }
        bytes[start] = type
        put16(cellCount ?? cells.count, at: start + 3)
        put32(rightMost, at: start + 8)
        for (index, cell) in cells.enumerated() {
            put16(cell.offset, at: start + 12 + 2 * index)
            if cell.offset + 4 <= bytes.count { put32(cell.child, at: cell.offset) }
        }
        return bytes
    }

    static func parse(_ bytes: [UInt8], number: UInt32 = 2, pageCount: UInt32 = 100) -> BTreePage {
        bytes.withUnsafeBytes { BTreePage.parse($0, number: number, pageCount: pageCount) }
    }

    @Test func leavesOfTablesAndIndexes() {
        #expect(Self.parse(Self.page(type: 0x0D)) == .leaf)
        #expect(Self.parse(Self.page(type: 0x0A)) == .leaf)
    }

    @Test(arguments: [UInt8(0x05), 0x02]) func interiorPagesListTheirChildrenThenTheRightMost(type: UInt8) {
        let bytes = Self.page(type: type, rightMost: 9, cells: [(400, 7), (300, 8)])
        #expect(Self.parse(bytes) == .interior(children: [7, 8, 9]))
    }

    @Test func childrenOutsideTheFileAreLeftOut() {
        let bytes = Self.page(type: 0x05, rightMost: 101, cells: [(400, 0), (404, 50), (408, 100)])
        #expect(Self.parse(bytes, pageCount: 100) == .interior(children: [50, 100]))
    }

    @Test func pageOneStartsAfterTheDatabaseHeader() {
        let bytes = Self.page(start: 100, type: 0x05, rightMost: 4, cells: [(400, 3)])
        #expect(Self.parse(bytes, number: 1) == .interior(children: [3, 4]))
        #expect(Self.parse(bytes, number: 2) == .unknown, "byte 0 of that page is no B-tree type")
    }

    @Test func damagedPagesAreUnknown() {
        #expect(Self.parse(Self.page(type: 0x00)) == .unknown)
        #expect(Self.parse(Self.page(type: 0x0D), pageCount: 0) == .unknown)
        #expect(Self.parse(Self.page(type: 0x05, cells: [(510, 7)])) == .unknown, "a cell that runs off the page")
        #expect(Self.parse(Self.page(type: 0x05, cells: [(12, 7)])) == .unknown, "a cell inside the pointer array")
        #expect(Self.parse(Self.page(type: 0x05, cellCount: 300)) == .unknown, "more cell pointers than the page holds")
        #expect(Self.parse([0x05, 0, 0, 0, 1]) == .unknown, "a page too short for its header")
    }
}
