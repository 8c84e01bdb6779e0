import Foundation
import Testing
import CaseMeshCRDT
import CaseMeshDomain
@testable import CaseMeshStore

#if canImport(Glibc)
import Glibc
#endif

/// What the tests below need from the machine: root, and the ability to
/// mount small file systems. Probed once by really mounting (and
/// unmounting) one, so a test is only enabled where it can run.
enum FaultEnvironment {
    static let isRoot = getuid() == 0

    /// The first of the usual system folders that holds `name`.
    static func tool(_ name: String) -> String? {
        ["/bin", "/usr/bin", "/sbin", "/usr/sbin"].map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Root, and `mount -t tmpfs` works here.
    static let canMountTmpfs: Bool = {
        guard isRoot, tool("mount") != nil, tool("umount") != nil else { return false }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("casemesh-probe-\(UUID().uuidString)").path
        guard (try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)) != nil else { return false }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard mountTmpfs(at: dir, size: "1m") else { return false }
        unmount(dir)
        return true
    }()

    /// Root, ext4 with its sysfs error trigger, mkfs.ext4, and loop mounts work here.
    static let canMakeExt4ReadOnly: Bool = {
        guard isRoot, FileManager.default.fileExists(atPath: "/sys/fs/ext4"), tool("mount") != nil, tool("umount") != nil,
              tool("mkfs.ext4") != nil, tool("findmnt") != nil else { return false }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("casemesh-probe-\(UUID().uuidString)").path
        guard (try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)) != nil else { return false }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard let mountPoint = mountExt4Image(in: dir) else { return false }
        defer { unmount(mountPoint) }
        guard let device = mountedDevice(mountPoint) else { return false }
        return FileManager.default.fileExists(atPath: "/sys/fs/ext4/\(device)/trigger_fs_error")
    }()

    static func mountTmpfs(at path: String, size: String) -> Bool {
        run(tool("mount")!, ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", path]).status == 0
    }

    /// Runs `body` with a 2 MB tmpfs mounted at `dir/mnt` (its argument),
    /// unmounted afterwards.
    static func withSmallDisk(in dir: String, _ body: (String) async throws -> Void) async throws {
        let mountPoint = dir + "/mnt"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try #require(mountTmpfs(at: mountPoint, size: "2m"), "could not mount a tmpfs")
        defer { unmount(mountPoint) }
        try await body(mountPoint)
    }

    /// Gives the small disk more room.
    static func growSmallDisk(_ mountPoint: String) throws {
        try #require(run(tool("mount")!, ["-o", "remount,size=64m", mountPoint]).status == 0)
    }

    /// A problem statement of about 9.5 KB that differs with `seed` and
    /// compresses badly: a few of these fill the small disk.
    static func bulkyText(_ seed: Int) -> String {
        let words = (0..<1_200).map { "w\(($0 * 7_919 + seed * 104_729) % 100_003)" }
        return String(words.joined(separator: " ").prefix(9_500))
    }

    /// Makes a 32 MiB ext4 image in `dir` and mounts it (loop, and turning
    /// read-only on errors) at `dir/mnt`; returns the mount point.
    static func mountExt4Image(in dir: String) -> String? {
        let image = dir + "/disk.img", mountPoint = dir + "/mnt"
        guard FileManager.default.createFile(atPath: image, contents: nil),
              let handle = FileHandle(forWritingAtPath: image) else { return nil }
        do {
            try handle.truncate(atOffset: 32 << 20)
            try handle.close()
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        } catch {
            return nil
        }
        guard run(tool("mkfs.ext4")!, ["-q", "-F", image]).status == 0,
              run(tool("mount")!, ["-o", "loop,errors=remount-ro", image, mountPoint]).status == 0 else { return nil }
        return mountPoint
    }

    /// The block device's kernel name (e.g. `loop0`) mounted at `path`.
    static func mountedDevice(_ path: String) -> String? {
        let result = run(tool("findmnt")!, ["-n", "-o", "SOURCE", path])
        let source = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard result.status == 0, source.hasPrefix("/dev/") else { return nil }
        return URL(fileURLWithPath: source).lastPathComponent
    }

    /// Unmounts `path`; detaches it lazily if something still holds it, so
    /// a failed test never leaves a mount behind.
    static func unmount(_ path: String) {
        if run(tool("umount")!, [path]).status != 0 {
            run(tool("umount")!, ["-l", path])
        }
    }
}

/// Real storage faults: damaged files, another node's data, a file system
/// that turns read-only under a running store, and a full disk.
@Suite struct StoreFaultTests {
    /// A database file overwritten with random bytes is reported as
    /// `.corrupt`, naming the database path, instead of being opened or
    /// silently recreated.
    @Test(arguments: [true, false])
    func randomBytesInTheDatabaseFileAreReportedAsCorrupt(hadData: Bool) async throws {
        try await withTemporaryDirectory { dir in
            let config = configuration(dir)
            if hadData {
                let store = try openStore(dir, clock: ManualClock())
                _ = try await store.create(draft(), actor: actor)
                await store.close()
                for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: config.databasePath + suffix) }
            } else {
                try FileManager.default.createDirectory(atPath: config.storeDirectory, withIntermediateDirectories: true)
            }
            var generator = SystemRandomNumberGenerator()
            let garbage = Data((0..<65_536).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
            try garbage.write(to: URL(fileURLWithPath: config.databasePath))

            let error = await storeError { try openStore(dir, clock: ManualClock()) }
            guard case let .corrupt(path, reason)? = error else {
                Issue.record("expected .corrupt, got \(String(describing: error))")
                return
            }
            #expect(path == config.databasePath)
            #expect(!reason.isEmpty)
            #expect(error!.description.contains(config.databasePath))
            let after = try Data(contentsOf: URL(fileURLWithPath: config.databasePath))
            #expect(after == garbage, "a damaged database must be left as it is for inspection")
        }
    }

    /// Opening a data directory that belongs to another node is refused
    /// with `.wrongNode` naming both nodes, and does not change the data:
    /// the owner still opens it with its cases intact.
    @Test func anotherNodesDataDirectoryIsRefused() async throws {
        try await withTemporaryDirectory { dir in
            let clock = ManualClock()
            let store = try openStore(dir, clock: clock)
            let created = try await store.create(draft(), actor: actor)
            await store.close()

            let error = await storeError { try openStore(dir, replica: .amer, region: "AMER", clock: clock) }
            guard case let .wrongNode(expected, found)? = error else {
                Issue.record("expected .wrongNode, got \(String(describing: error))")
                return
            }
            #expect(expected == "amer")
            #expect(found == "emea")
            #expect(error!.description.contains("emea") && error!.description.contains("amer"))

            let owner = try openStore(dir, clock: clock)
            #expect(try owner.caseState(created.state.id) == created.state)
            #expect(owner.digest.cases == 1)
            await owner.close()
        }
    }

    /// A data directory path that is a regular file cannot be opened; the
    /// error says which path.
    @Test func dataDirectoryThatIsAFileCannotBeOpened() async throws {
        try await withTemporaryDirectory { dir in
            let file = dir + "/not-a-directory"
            #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
            let error = await storeError { try openStore(file, clock: ManualClock()) }
            guard case let .cannotOpen(path, _)? = error else {
                Issue.record("expected .cannotOpen, got \(String(describing: error))")
                return
            }
            #expect(path.hasPrefix(file))
        }
    }

    /// The file system under a running store turns read-only (as the kernel
    /// does after an I/O error): the next write fails with `.writeFailed`
    /// (or `.readOnly`), later writes with `.readOnly`, and reads still
    /// return every acknowledged case.
    ///
    /// The file system is an ext4 image mounted with `errors=remount-ro` and
    /// switched read-only through ext4's `trigger_fs_error`. A plain
    /// `mount -o remount,ro` of a tmpfs cannot be used: Linux refuses it
    /// (EBUSY) while any file on it is open for writing, which SQLite's
    /// database and WAL files always are while the store is open.
    @Test(.enabled(if: FaultEnvironment.canMakeExt4ReadOnly,
                   "needs root, loop mounts, mkfs.ext4 and ext4's sysfs trigger_fs_error to make a file system read-only under an open database"))
    func readOnlyFileSystemRefusesWritesButKeepsReads() async throws {
        try await withTemporaryDirectory { dir in
            let mountPoint = try #require(FaultEnvironment.mountExt4Image(in: dir), "could not mount the ext4 image")
            defer { FaultEnvironment.unmount(mountPoint) }
            let device = try #require(FaultEnvironment.mountedDevice(mountPoint))

            // The search index is written only when a search asks (or at
            // close), so what it holds when the disk fails is known.
            var settings = configuration(mountPoint + "/node", durability: .normal)
            settings.searchIndexDelayMillis = 3_600_000
            let store = try NodeStore.open(settings, wallClock: ManualClock(step: 1).wallClock, logger: testLogger)
            var acknowledged: [CaseID: CaseState] = [:]
            for index in 1...6 {
                let created = try await store.create(draft(title: "Before read-only \(index)"), actor: actor)
                let noted = try await store.execute(addNote("n\(index)", "note \(index)"), on: created.state.id, actor: actor)
                acknowledged[created.state.id] = noted.state
            }
            #expect(try store.list(CaseQuery(text: "note")).cases.count == 6)
            // Acknowledged, its search entry not written yet when the disk fails.
            let lastID = try #require(acknowledged.keys.first)
            acknowledged[lastID] = try await store.execute(addNote("n7", "written last"), on: lastID, actor: actor).state
            let digestBefore = store.digest

            try "casemesh store test: make the file system read-only".write(
                toFile: "/sys/fs/ext4/\(device)/trigger_fs_error", atomically: false, encoding: .utf8)
            try #require(!FileManager.default.createFile(atPath: mountPoint + "/probe", contents: Data("x".utf8)),
                         "the file system did not turn read-only")

            let first = await storeError { try await store.create(draft(title: "On a read-only disk"), actor: actor) }
            switch first {
            case .writeFailed?, .readOnly?: break
            default: Issue.record("expected .writeFailed or .readOnly, got \(String(describing: first))")
            }
            #expect(store.writeFailure != nil)
            let id = try #require(acknowledged.keys.first)
            let second = await storeError { try await store.execute(addNote("late", "late note"), on: id, actor: actor) }
            guard case .readOnly? = second else {
                Issue.record("expected .readOnly, got \(String(describing: second))")
                return
            }
            let third = await storeError { try await store.create(draft(title: "Still read-only"), actor: actor) }
            guard case .readOnly? = third else {
                Issue.record("expected .readOnly, got \(String(describing: third))")
                return
            }

            for (id, state) in acknowledged {
                #expect(try store.caseState(id) == state)
            }
            #expect(Set(try allSummaries(store).map(\.id)) == Set(acknowledged.keys.map(\.rawValue)))
            // A search would miss the last note: it is refused, saying why.
            let search = await storeError { try store.list(CaseQuery(text: "note")) }
            guard case let .searchUnavailable(reason)? = search else {
                Issue.record("expected .searchUnavailable for a search, got \(String(describing: search))")
                return
            }
            #expect(reason.contains("search index"))
            #expect(store.digest == digestBefore)
            await store.close()
        }
    }

    /// A disk that fills up: the write that does not fit fails with
    /// `.writeFailed` saying the disk is full, later writes are refused
    /// with `.readOnly`, and every acknowledged case is still readable —
    /// before and after a restart with more space — with the same digest, a
    /// clean integrity check, and numbering that continues without a gap.
    @Test(.enabled(if: FaultEnvironment.canMountTmpfs, "needs root and tmpfs mounts (mount -t tmpfs) to fill a real file system"))
    func fullDiskFailsTheWriteAndKeepsAcknowledgedCases() async throws {
        try await withTemporaryDirectory { dir in try await FaultEnvironment.withSmallDisk(in: dir) { mountPoint in
            let clock = ManualClock(step: 1)
            let store = try openStore(mountPoint, clock: clock, durability: .normal)
            var acknowledged: [CaseID: CaseState] = [:]
            var failure: StoreError?
            for index in 0..<2_000 {
                let problem = FaultEnvironment.bulkyText(index)
                let error = await storeError {
                    let created = try await store.create(draft(title: "Large case \(index)", fields: [.problemStatement: .text(problem)]), actor: actor)
                    acknowledged[created.state.id] = created.state
                }
                if let error {
                    failure = error
                    break
                }
            }
            let error = try #require(failure, "2 MB never filled up")
            guard case let .writeFailed(reason) = error else {
                Issue.record("expected .writeFailed, got \(error)")
                return
            }
            #expect(reason.contains("disk is full"), "reason: \(reason)")
            #expect(error.description.contains("disk is full"))
            #expect(!acknowledged.isEmpty)
            let later = await storeError { try await store.create(draft(title: "small"), actor: actor) }
            guard case .readOnly? = later else {
                Issue.record("expected .readOnly after the failure, got \(String(describing: later))")
                return
            }

            let digestBefore = store.digest
            #expect(digestBefore.cases == acknowledged.count)
            for (id, state) in acknowledged { #expect(try store.caseState(id) == state) }
            await store.close()

            try FaultEnvironment.growSmallDisk(mountPoint)
            let reopened = try openStore(mountPoint, clock: clock, durability: .normal)
            for (id, state) in acknowledged { #expect(try reopened.caseState(id) == state) }
            #expect(reopened.digest == digestBefore)
            #expect(reopened.digest.digest == (try recomputedDigest(reopened)))
            #expect(try reopened.integrityCheck().isEmpty)
            #expect(reopened.appliedPositions == [.emea: UInt64(acknowledged.count)])
            let next = try await reopened.create(draft(title: "After more space"), actor: actor)
            #expect(next.state.header.number == String(format: "EMEA-%06d", acknowledged.count + 1))
            await reopened.close()
        } }
    }
}
