// casemesh-bench-store: the durable store's figures.
//
//   casemesh-bench-store [--cases N] [--updates N] [--writers N] [--queries N] [--history N] [--dir DIR] [--seed N]
//
// 1. load: N cases (default 1,000,000) through the normal write path, with
//    durability `off` for the bulk load only (skipped if DIR already holds them);
// 2. restart: time from opening the store to answering a list query and a
//    case read, at N cases, with the store's files in the page cache (read
//    into it first: an earlier run's step 6 or a reboot dropped them, and
//    the updates would then start on cold pages);
// 3. updates: durable single-field updates at the default durability (full:
//    fsync per commit) from --writers concurrent writers (default 32);
//    throughput and p50/p99 commit latency;
// 4. queries: filtered list queries (limit 50) with random filters; p50/p99;
// 5. resident memory of this process (VmRSS, VmHWM) after all of the above;
// 6. restart again, with the store's files first written out and dropped
//    from the kernel's page cache (`POSIX_FADV_DONTNEED`), as after a reboot.
//
// The header line names the allocator the process runs on (jemalloc, which
// the store's programs link, unless the build left it out).
//
// Between 3 and 4 it also times the domain's share of an update (decode,
// command, encode and digest) on one thread over 5,000 stored cases; with
// --history N, each of those cases first takes N more single-field updates
// in memory (a timeline event each), to show what a case's history costs.
//
// The cases updated, in their order, and the query filters come from a
// seeded generator (--seed, printed; a new one each run unless given), so a
// run's workload can be repeated. The owners written also carry the run's
// start time, so a repeated run still changes every case it updates.
//
// Build in release: swift build -c release --product casemesh-bench-store

import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshStore
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("casemesh-bench-store: \(message)\n".utf8))
    exit(1)
}

func progress(_ message: String) { FileHandle.standardError.write(Data("  \(message)\n".utf8)) }

var caseCount = 1_000_000
var updateCount = 100_000
var writerCount = 32
var queryCount = 2_000
var historyCount = 0
var directory = ".casemesh/bench-store"
var seed = UInt64.random(in: 1...UInt64(UInt32.max))
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    func number(allowingZero: Bool = false) -> Int {
        guard let value = arguments.next().flatMap(Int.init), value > 0 || (allowingZero && value == 0) else {
            fail("\(argument) needs a \(allowingZero ? "whole" : "positive") number")
        }
        return value
    }
    switch argument {
    case "--cases": caseCount = number()
    case "--updates": updateCount = number()
    case "--writers": writerCount = number()
    case "--queries": queryCount = number()
    case "--history": historyCount = number(allowingZero: true)
    case "--seed":
        guard let value = arguments.next().flatMap(UInt64.init) else { fail("--seed needs a whole number") }
        seed = value
    case "--dir":
        guard let value = arguments.next() else { fail("--dir needs a folder") }
        directory = value
    case "-h", "--help":
        print("usage: casemesh-bench-store [--cases N] [--updates N] [--writers N] [--queries N] [--history N] [--dir DIR] [--seed N]")
        exit(0)
    default: fail("unknown argument \(argument)")
    }
}

let cases = caseCount
let workloadSeed = seed
let updates = updateCount
let dataDirectory = directory
let replica = ReplicaID("emea")
let region = try! Region("EMEA")
let logger = Logger(label: "casemesh.bench-store")
let clock = ContinuousClock()
let owners = (0..<500).map { "engineer-\($0)" }
let regions = ["EMEA", "AMER", "APAC"]
let statuses: [CaseStatus] = [.new, .investigating]

func open(_ durability: Durability) -> NodeStore {
    do {
        return try NodeStore.open(StoreConfiguration(dataDirectory: dataDirectory, replica: replica, region: region, durability: durability),
                                  wallClock: SystemWallClock(), logger: logger)
    } catch {
        fail("cannot open the store: \(error)")
    }
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
}

func memory() -> (rss: Int, peak: Int) {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
    func field(_ name: String) -> Int {
        for line in status.split(separator: "\n") where line.hasPrefix(name) {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
        }
        return 0
    }
    return (field("VmRSS:") * 1024, field("VmHWM:") * 1024)
}

/// User and system CPU seconds this process has used so far.
func cpuSeconds() -> (user: Double, system: Double) {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return (seconds(usage.ru_utime), seconds(usage.ru_stime))
}

/// Seconds per case for each step of an update's domain work, each step
/// timed over all samples in turn (so one step's allocations are not
/// charged to the next).
func measureDomainWork(_ samples: [[UInt8]]) -> (decode: Double, command: Double, encode: Double, bytes: Int) {
    let clock = ContinuousClock()
    var states: [CaseState] = []
    states.reserveCapacity(samples.count)
    let decodeStart = clock.now
    for bytes in samples {
        do { states.append(try CaseState(decoding: bytes)) } catch { fail("a stored case does not decode: \(error)") }
    }
    let decode = seconds(clock.now - decodeStart)
    let commandStart = clock.now
    for index in states.indices {
        let context = CommandContext(replica: replica, time: HLCTimestamp(wallMillis: states[index].updatedAt.wallMillis + 1, logical: 0), actor: "bench")
        do { _ = try states[index].execute(.setFields([.owner: .text("engineer-\(index % 500)-x")]), context: context) } catch { fail("command failed: \(error)") }
    }
    let command = seconds(clock.now - commandStart)
    let encodeStart = clock.now
    var checksum = 0
    for state in states {
        let bytes = state.canonicalBytes
        checksum &+= Int(CaseState.digest(of: state.id, canonicalBytes: bytes).bytes[0])
    }
    let encode = seconds(clock.now - encodeStart)
    if checksum == -1 { print(checksum) }
    let count = Double(samples.count)
    return (decode / count, command / count, encode / count, samples.reduce(0) { $0 + $1.count } / max(samples.count, 1))
}

/// Shared mutable state for the writer tasks.
final class Shared<Value: Sendable>: Sendable {
    let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout sending Value) -> sending R) -> R { mutex.withLock(body) }
}

func caseID(_ i: Int) -> CaseID { try! CaseID("bench-\(i)") }

/// Creates cases `from+1 ... to` with 64 concurrent writers.
func load(_ store: NodeStore, from existing: Int, to cases: Int, started start: ContinuousClock.Instant) async {
    let next = Shared(existing)
    let owners = (0..<500).map { "engineer-\($0)" }
    let regions = ["EMEA", "AMER", "APAC"]
    let words = ["timeout", "login", "invoice", "latency", "crash", "export", "sync", "payment", "certificate", "outage"]
    let clock = ContinuousClock()
    await withTaskGroup(of: Void.self) { group in
        for _ in 0..<64 {
            group.addTask {
                while true {
                    let i = next.withLock { value -> Int in value += 1; return value }
                    if i > cases { return }
                    let draft = CaseDraft(
                        id: caseID(i), title: "\(words[i % words.count]) issue \(i) for customer \(i % 997)",
                        customer: "Customer \(i % 997)", product: "Product \(i % 31)", severity: Severity.allCases[i % 4],
                        fields: [.owner: .text(owners[i % owners.count]), .owningRegion: .text(regions[i % 3]),
                                 .problemStatement: .text("The \(words[(i / 10) % words.count]) problem blocks \(words[(i / 100) % words.count]) work")])
                    do {
                        _ = try await store.create(draft, actor: "bench")
                        if i % 7 == 0 {
                            _ = try await store.execute(.setFields([.status: .text(CaseStatus.investigating.rawValue)]), on: caseID(i), actor: "bench")
                        }
                    } catch {
                        fail("load failed at case \(i): \(error)")
                    }
                    if i % 50_000 == 0 { progress("\(i) cases, \(Int(Double(i - existing) / seconds(clock.now - start))) cases/s") }
                }
            }
        }
    }
}

/// `count` single-field updates on random cases from `writers` writers; returns each commit's latency.
/// Every update writes a value no case holds yet (the writer, its update's
/// number and `run` are in it), so each one is a real change even when a
/// seed is repeated on the same database; one that changes nothing stops
/// the benchmark rather than count an acknowledgement that wrote nothing.
func update(_ store: NodeStore, count: Int, writers: Int, cases: Int, seed: UInt64, run: String) async -> [Double] {
    let counter = Shared(0)
    let latencies = Shared([Double]())
    let clock = ContinuousClock()
    await withTaskGroup(of: Void.self) { group in
        for writer in 0..<writers {
            group.addTask {
                var random = SplitMix64(seed: seed &+ UInt64(writer))
                var mine: [Double] = []
                while counter.withLock({ value -> Bool in value += 1; return value <= count }) {
                    let id = caseID(Int.random(in: 1...cases, using: &random))
                    let owner = "engineer-\(Int.random(in: 0..<500, using: &random))-\(writer)-\(mine.count)-\(run)"
                    let t0 = clock.now
                    let outcome: WriteOutcome
                    do {
                        outcome = try await store.execute(.setFields([.owner: .text(owner)]), on: id, actor: "bench")
                    } catch {
                        fail("update failed: \(error)")
                    }
                    mine.append(seconds(clock.now - t0))
                    if outcome.delta == nil { fail("the update of \(id) to owner \(owner) changed nothing") }
                }
                latencies.withLock { $0.append(contentsOf: mine) }
            }
        }
    }
    return latencies.withLock { $0 }
}

// MARK: 1. load

let loader = open(.off)
let existing = loader.digest.cases
if existing < caseCount {
    progress("loading \(caseCount - existing) cases (durability off for the bulk load)…")
    let start = clock.now
    await load(loader, from: existing, to: cases, started: start)
    progress("loaded in \(String(format: "%.1f", seconds(clock.now - start))) s")
}
await loader.close()

// MARK: 2. restart

/// Opens the store and answers a list query and a case read, as a
/// restarted node would before serving; returns the store and the seconds taken.
func restartToServing() -> (NodeStore, Double) {
    let start = clock.now
    let store = open(.full)
    do {
        _ = try store.list(CaseQuery(status: .investigating, limit: 50))
        guard try store.caseState(caseID(cases / 2)) != nil else { fail("case \(cases / 2) is missing after restart") }
    } catch {
        fail("serving after restart failed: \(error)")
    }
    let loaded = store.digest.cases
    guard loaded >= cases else { fail("the store holds \(loaded) cases, expected \(cases)") }
    return (store, seconds(clock.now - start))
}

/// Writes out and drops from the kernel's page cache every file of the
/// store (what a reboot does to them), so that the next open reads what it
/// needs from the disk. Returns the bytes cached before and after.
func dropFromPageCache(_ folder: String) -> (before: Int, after: Int) {
    var cached = 0
    var left = 0
    forEachFile(in: folder) { fd, size in
        cached += residentBytes(fd, size: size)
        _ = fdatasync(fd)
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
        left += residentBytes(fd, size: size)
    }
    return (cached, left)
}

/// Calls `body` with each regular file under `folder`, open for reading, and its size.
func forEachFile(in folder: String, _ body: (Int32, Int) -> Void) {
    let names = (try? FileManager.default.subpathsOfDirectory(atPath: folder)) ?? []
    for name in names {
        let fd = Glibc.open("\(folder)/\(name)", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { continue }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { continue }
        body(fd, Int(status.st_size))
    }
}

/// The bytes of an open file that are in the page cache (`mincore` over a mapping of it).
func residentBytes(_ fd: Int32, size: Int) -> Int {
    guard size > 0, let mapping = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), mapping != MAP_FAILED else { return 0 }
    defer { munmap(mapping, size) }
    let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    var vector = [UInt8](repeating: 0, count: (size + pageSize - 1) / pageSize)
    guard mincore(mapping, size, &vector) == 0 else { return 0 }
    return vector.reduce(0) { $0 + Int($1 & 1) } * pageSize
}

/// Reads every file of the store once, so that the kernel holds them in
/// its page cache (as after the load, or on a node that has been serving).
/// Returns the bytes read.
func readIntoPageCache(_ folder: String) -> Int {
    var total = 0
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    forEachFile(in: folder) { fd, _ in
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            total += count
        }
    }
    return total
}

let storeFolder = StoreConfiguration(dataDirectory: dataDirectory, replica: replica, region: region).storeDirectory
progress("reading the store's files into the page cache…")
let warmStart = clock.now
let warmBytes = readIntoPageCache(storeFolder)
progress("read \(warmBytes / 1_048_576) MiB in \(String(format: "%.1f", seconds(clock.now - warmStart))) s")
let (store, restartSeconds) = restartToServing()
let loadedCases = store.digest.cases
progress("restart to serving: \(String(format: "%.2f", restartSeconds)) s at \(loadedCases) cases")

// MARK: 3. durable updates

progress("\(updateCount) durable single-field updates from \(writerCount) writers…")
let updateStart = clock.now
let cpuBefore = cpuSeconds()
let statsBefore = store.commitStatistics
let logBefore = LogWriteCounts.process
let sortedLatencies = await update(store, count: updates, writers: writerCount, cases: cases, seed: workloadSeed,
                                   run: String(UInt64(Date().timeIntervalSince1970), radix: 36)).sorted()
let updateSeconds = seconds(clock.now - updateStart)
let cpuAfter = cpuSeconds()
let statsAfter = store.commitStatistics
let logAfter = LogWriteCounts.process

// MARK: 3b. the domain's share

// What every update costs before SQLite sees it, on one thread: decode the
// stored case, run the command, encode it canonically and digest it. The
// store does this for each update (on both cores); what is left of the
// CPU per update is SQLite, the kernel and the pipeline.
let sampleCount = min(5_000, cases)
progress("domain work on \(sampleCount) stored cases\(historyCount > 0 ? " after \(historyCount) more updates each" : ""), one thread…")
let samples: [[UInt8]] = (0..<sampleCount).map { index in
    let id = caseID(1 + (index * 7_919) % cases)
    do {
        guard var state = try store.caseState(id) else { fail("case \(id) is missing") }
        // A longer history, in memory only: each update adds a timeline event.
        for step in 0..<historyCount {
            let context = CommandContext(replica: replica, time: HLCTimestamp(wallMillis: state.updatedAt.wallMillis + 1, logical: 0), actor: "bench")
            do { try state.execute(.setFields([.owner: .text("history-\(step)")]), context: context) } catch { fail("history update failed: \(error)") }
        }
        return state.canonicalBytes
    } catch {
        fail("reading case \(id) failed: \(error)")
    }
}
let domain = measureDomainWork(samples)

// MARK: 4. queries

progress("\(queryCount) filtered list queries…")
var queryTimes: [Double] = []
var random = SplitMix64(seed: workloadSeed ^ 0x5157_4552_5953)  // "QUERYS"
var returned = 0
for q in 0..<queryCount {
    var query = CaseQuery(limit: 50)
    switch q % 4 {
    case 0: query.status = statuses.randomElement(using: &random); query.severity = Severity.allCases.randomElement(using: &random)
    case 1: query.region = try! Region(regions.randomElement(using: &random)!); query.owner = owners.randomElement(using: &random)
    case 2: query.severity = Severity.allCases.randomElement(using: &random); query.region = try! Region(regions.randomElement(using: &random)!)
    default: query.owner = owners.randomElement(using: &random)
    }
    let t0 = clock.now
    do { returned += try store.list(query).cases.count } catch { fail("query failed: \(error)") }
    queryTimes.append(seconds(clock.now - t0))
}
queryTimes.sort()
let (rss, peak) = memory()
await store.close()

// MARK: 6. restart with the files out of the page cache

let dropped = dropFromPageCache(storeFolder)
progress("restart with the store's files dropped from the page cache (\(dropped.before / 1_048_576) MiB were cached, \(dropped.after / 1_048_576) MiB still are)…")
if dropped.after > dropped.before / 20 {
    progress("warning: the file system kept the store's files in memory; the second restart is not a cold one")
}
let (coldStore, coldRestartSeconds) = restartToServing()
await coldStore.close()

func ms(_ s: Double) -> String { String(format: "%.2f ms", s * 1000) }
func mib(_ bytes: Int) -> String { String(format: "%.0f MiB", Double(bytes) / 1_048_576) }
/// Which malloc the process runs on: the store's programs link jemalloc
/// (Package.swift), which exports `mallctl`; glibc's malloc does not.
let allocator = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallctl") != nil ? "jemalloc" : "glibc malloc"
print("CaseMesh store (release), \(loadedCases) cases, \(ProcessInfo.processInfo.activeProcessorCount) cores, \(allocator), workload seed \(workloadSeed)")
print("  durable updates (synchronous FULL, \(writerCount) writers): \(Int(Double(updateCount) / updateSeconds)) updates/s")
print("    commit latency p50 \(ms(percentile(sortedLatencies, 0.5))), p99 \(ms(percentile(sortedLatencies, 0.99)))")
let batches = statsAfter.commits - statsBefore.commits
let batchWrites = statsAfter.writes - statsBefore.writes
let preparingSeconds = seconds(statsAfter.preparing - statsBefore.preparing)
let writingSeconds = seconds(statsAfter.writing - statsBefore.writing)
let committingSeconds = seconds(statsAfter.committing - statsBefore.committing)
/// `seconds` spread over the batches' writes, in whole microseconds.
func microsecondsPerWrite(_ seconds: Double) -> String { String(format: "%.0f µs", seconds / Double(max(batchWrites, 1)) * 1e6) }
print("    \(batches) transactions, \(String(format: "%.1f", Double(batchWrites) / Double(max(batches, 1)))) writes each; "
      + "per write: \(microsecondsPerWrite(preparingSeconds)) preparing, \(microsecondsPerWrite(writingSeconds)) in the writer "
      + "(statements \(microsecondsPerWrite(writingSeconds - committingSeconds)), COMMIT with its log write and fsync \(microsecondsPerWrite(committingSeconds))); "
      + "preparing busy \(String(format: "%.0f", preparingSeconds / updateSeconds * 100))%, "
      + "writer busy \(String(format: "%.0f", writingSeconds / updateSeconds * 100))% of the time")
let earlyReads = statsAfter.earlyReads - statsBefore.earlyReads
let earlyUsed = statsAfter.earlyReadsUsed - statsBefore.earlyReadsUsed
print("    cases read by their writers before queueing: \(earlyReads) (\(String(format: "%.0f", Double(batchWrites) > 0 ? Double(earlyReads) / Double(batchWrites) * 100 : 0))% of the writes), "
      + "\(earlyUsed) of them still current when their batch was prepared")
print("    COMMITs of \(Int(CommitStatistics.slowCommit / .milliseconds(1))) ms or more: \(statsAfter.slowCommits - statsBefore.slowCommits) "
      + "(every write waiting meanwhile waits that long)")
let chainWrites = Double(max(statsAfter.latency.writes - statsBefore.latency.writes, 1))
func meanMs(_ after: Duration, _ before: Duration) -> String { String(format: "%.2f", seconds(after - before) / chainWrites * 1000) }
let meanLatency = sortedLatencies.reduce(0, +) / Double(max(sortedLatencies.count, 1))
let inStore = seconds(statsAfter.latency.total - statsBefore.latency.total) / chainWrites
print("    a write's time, mean: queued \(meanMs(statsAfter.latency.queued, statsBefore.latency.queued)) ms, "
      + "preparing \(meanMs(statsAfter.latency.preparing, statsBefore.latency.preparing)) ms, "
      + "waiting for the writer \(meanMs(statsAfter.latency.waitingForWriter, statsBefore.latency.waitingForWriter)) ms, "
      + "in the writer \(meanMs(statsAfter.latency.writing, statsBefore.latency.writing)) ms, "
      + "answering \(meanMs(statsAfter.latency.answering, statsBefore.latency.answering)) ms; "
      + "of the mean commit latency \(String(format: "%.2f", meanLatency * 1000)) ms, "
      + "\(String(format: "%.2f", (meanLatency - inStore) * 1000)) ms pass after the answer (the caller back on a thread)")
print("    write-ahead log: \(logAfter.buffered - logBefore.buffered) writes held and written in \(logAfter.flushes - logBefore.flushes) flushes, "
      + "\(logAfter.direct - logBefore.direct) written directly")
let cpuPerUpdate = (cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system) / Double(updateCount)
print("    CPU per update (whole process, both cores): \(String(format: "%.0f", cpuPerUpdate * 1e6)) µs, "
      + "of which in the kernel \(String(format: "%.0f", (cpuAfter.system - cpuBefore.system) / Double(updateCount) * 1e6)) µs; "
      + "\(ProcessInfo.processInfo.activeProcessorCount) cores give \(String(format: "%.0f", Double(ProcessInfo.processInfo.activeProcessorCount) / cpuPerUpdate)) updates/s at most at that cost")
print("    domain work per update on one thread (\(sampleCount) stored cases\(historyCount > 0 ? ", \(historyCount) more updates each" : ""), \(domain.bytes) bytes each on average): "
      + "decode \(String(format: "%.1f", domain.decode * 1e6)) µs, command \(String(format: "%.1f", domain.command * 1e6)) µs, "
      + "encode and digest \(String(format: "%.1f", domain.encode * 1e6)) µs")
print("  filtered list query (limit 50): p50 \(ms(percentile(queryTimes, 0.5))), p99 \(ms(percentile(queryTimes, 0.99))) (\(returned) rows over \(queryCount) queries)")
print("  resident memory: \(mib(rss)) now, \(mib(peak)) peak")
print("  restart to serving: \(String(format: "%.2f s", restartSeconds)) with the store's files in the page cache, "
      + "\(String(format: "%.2f s", coldRestartSeconds)) with them dropped from it first (as after a reboot; \(dropped.after / 1_048_576) MiB stayed)")
