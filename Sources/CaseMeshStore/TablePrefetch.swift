#if canImport(Glibc)
import Glibc
#endif

/// Has the kernel read the pages of some tables into its page cache, in
/// file order and many at a time, before the store's opening scan reads them.
///
/// Why: the opening scan (`loadDerivedIndexes`) walks `cases` and
/// `case_versions` in key order. Cleaning frees pages and appends reuse
/// them, so that order jumps about the file. With the page cache cold (after
/// a reboot) SQLite then waits for one page at a time, and on a disk with a
/// large read-ahead each of those reads brings megabytes around the page: a
/// restart at a million cases took about 100 s that way.
///
/// So, before the scan, this reads the tables' interior pages itself (a few
/// hundred, on a descriptor of its own with read-ahead off) to learn where
/// the leaves are, and asks the kernel for the leaves (`POSIX_FADV_WILLNEED`)
/// in sorted runs without waiting for them: the scan finds them read or on
/// their way. It is advice only: a page it misses or gets wrong (one the log
/// holds newer, a damaged one) is read by SQLite as before, and a file it
/// cannot open is simply not prefetched.
struct TablePrefetch {
    /// What one prefetch found and asked for.
    struct Report: Sendable, Equatable {
        /// Interior pages read to find the leaves.
        var interiorPages = 0
        /// Leaf pages asked for.
        var leafPages = 0
        /// Runs of nearby leaf pages asked for, one request each.
        var runs = 0
        /// Leaf pages not asked for, past the memory limit.
        var leftOutPages = 0
    }

    /// Leaf pages this close together are asked for in one run, gap included:
    /// a few pages more to read costs less than another request.
    static let mergeGapPages: UInt32 = 8
    /// Deeper than any SQLite B-tree of a file this size; a bound against damaged pages.
    static let maximumDepth = 20

    /// The pages of some B-trees, as the walk found them.
    struct Pages: Equatable {
        /// Interior pages, each read to find its children.
        var interior: [UInt32] = []
        /// Leaf pages, sorted; not read (but for the first of their level).
        var leaves: [UInt32] = []
    }

    /// Prefetches the B-trees whose root pages are `roots` in the database
    /// file at `path`, asking for leaf pages in file order until
    /// `limitBytes` are asked for (more would push out of the page cache
    /// what was asked for first). Returns nil if the file cannot be opened.
    ///
    /// The caller must hold no SQLite connection to the file: closing this
    /// descriptor releases every POSIX lock the process holds on it.
    static func run(path: String, pageSize: Int, roots: [UInt32], limitBytes: Int = .max) -> Report? {
        withFile(path) { fd in
            guard let pages = walk(fd, pageSize: pageSize, roots: roots) else { return nil }
            let runs = Self.limited(Self.runs(pages.leaves, gap: mergeGapPages), toPages: max(limitBytes, 0) / pageSize)
            advise(fd, runs, pageSize: pageSize)
            let kept = runs.last.map { last in pages.leaves.prefix { $0 <= last.upperBound }.count } ?? 0
            return Report(interiorPages: pages.interior.count, leafPages: kept, runs: runs.count, leftOutPages: pages.leaves.count - kept)
        }
    }

    /// The pages of the B-trees whose root pages are `roots` in the database
    /// file at `path`, without prefetching the leaves. Returns nil if the file cannot be read.
    static func pages(path: String, pageSize: Int, roots: [UInt32]) -> Pages? {
        withFile(path) { walk($0, pageSize: pageSize, roots: roots) }
    }

    /// `MemAvailable` from `/proc/meminfo`, in bytes; nil where there is none.
    static func availableMemoryBytes() -> Int? {
        guard let file = fopen("/proc/meminfo", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard text.hasPrefix("MemAvailable:") else { continue }
            let kibibytes = text.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }
            return kibibytes.map { $0 * 1_024 }
        }
        return nil
    }

    private static func withFile<T>(_ path: String, _ body: (Int32) -> T?) -> T? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // Read-ahead off on this descriptor only: the interior pages are read one by one.
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM)
        return body(fd)
    }

    /// Reads the interior pages of each B-tree, a level at a time.
    private static func walk(_ fd: Int32, pageSize: Int, roots: [UInt32]) -> Pages? {
        var status = stat()
        guard pageSize >= 512, fstat(fd, &status) == 0 else { return nil }
        let pageCount = UInt32(clamping: Int(status.st_size) / pageSize)
        var pages = Pages()
        // A page is read once, however many damaged pages point at it; so
        // no page is listed twice either.
        var seen = Set<UInt32>()
        var buffer = [UInt8](repeating: 0, count: pageSize)
        func read(_ page: UInt32) -> BTreePage {
            let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, pageSize, off_t(page - 1) * off_t(pageSize)) }
            guard got == pageSize else { return .unknown }
            return buffer.withUnsafeBytes { BTreePage.parse($0, number: page, pageCount: pageCount) }
        }
        // One tree at a time: two trees' leaves need not be at the same depth.
        for root in roots.sorted() where root >= 1 && root <= pageCount && seen.insert(root).inserted {
            var level = [root]
            for _ in 0..<maximumDepth where !level.isEmpty {
                // All of a level at once, then each as it arrives.
                advise(fd, Self.runs(level, gap: 0), pageSize: pageSize)
                var next: [UInt32] = []
                for page in level {
                    switch read(page) {
                    case .leaf: pages.leaves.append(page)
                    case .interior(let children):
                        pages.interior.append(page)
                        next.append(contentsOf: children.filter { seen.insert($0).inserted })
                    case .unknown: break
                    }
                }
                level = next.sorted()
                // A B-tree's leaves are all at one depth: if the first page of
                // the next level is a leaf, they all are, and are not read here.
                if let first = level.first, read(first) == .leaf {
                    pages.leaves.append(contentsOf: level)
                    break
                }
            }
        }
        pages.leaves.sort()
        return pages
    }

    /// The first `limit` pages of `runs`: the runs in order, the last one cut short.
    static func limited(_ runs: [ClosedRange<UInt32>], toPages limit: Int) -> [ClosedRange<UInt32>] {
        var kept: [ClosedRange<UInt32>] = []
        var left = limit
        for run in runs where left > 0 {
            let taken = min(run.count, left)
            kept.append(run.lowerBound...(run.lowerBound + UInt32(taken - 1)))
            left -= taken
        }
        return kept
    }

    /// `pages`, sorted ascending, as runs of consecutive pages, joining two runs when
    /// at most `gap` pages lie between them.
    static func runs(_ pages: [UInt32], gap: UInt32) -> [ClosedRange<UInt32>] {
        var runs: [ClosedRange<UInt32>] = []
        for page in pages {
            if let last = runs.last, UInt64(page) <= UInt64(last.upperBound) + UInt64(gap) + 1 {
                runs[runs.count - 1] = last.lowerBound...max(last.upperBound, page)
            } else {
                runs.append(page...page)
            }
        }
        return runs
    }

    /// The kernel reads at most its read-ahead window (128 KiB by default)
    /// per request for advice, so longer runs are asked for in pieces.
    static let adviceBytes = 128 * 1_024

    private static func advise(_ fd: Int32, _ runs: [ClosedRange<UInt32>], pageSize: Int) {
        for run in runs {
            var offset = off_t(run.lowerBound - 1) * off_t(pageSize)
            let end = off_t(run.upperBound) * off_t(pageSize)
            while offset < end {
                let length = min(end - offset, off_t(adviceBytes))
                _ = posix_fadvise(fd, offset, length, POSIX_FADV_WILLNEED)
                offset += length
            }
        }
    }
}
