// Shared fixtures for the store tests: a wall clock the test controls, a
// temporary data directory per test, stores opened on it, case drafts, and
// helpers that read back everything a store holds (every case, the delta
// log, the digest) so a test can compare "before" and "after" in full.

import Foundation
import GRDB
import Logging
import Synchronization
import Testing
import CaseMeshCRDT
import CaseMeshDomain
@testable import CaseMeshStore

// MARK: - Replicas, regions, time

extension ReplicaID {
    static let emea = ReplicaID("emea")
    static let amer = ReplicaID("amer")
    static let apac = ReplicaID("apac")
}

func region(_ raw: String) -> Region { try! Region(raw) }
func caseID(_ raw: String) -> CaseID { try! CaseID(raw) }
func noteID(_ raw: String) -> NoteID { try! NoteID(raw) }

let minuteMillis: UInt64 = 60_000
let hourMillis: UInt64 = 60 * minuteMillis

/// Monday 2026-01-12 10:00 UTC, the default "now" of the test clocks.
let baseMillis: UInt64 = 1_768_212_000_000

/// A wall clock the test sets by hand. With a non-zero `step` every reading
/// advances the time by that much, so consecutive writes get distinct
/// wall-clock milliseconds.
final class ManualClock: Sendable {
    private let millis: Mutex<UInt64>
    private let step: UInt64

    init(_ start: UInt64 = baseMillis, step: UInt64 = 0) {
        millis = Mutex(start)
        self.step = step
    }

    var now: UInt64 { millis.withLock { $0 } }
    func set(_ value: UInt64) { millis.withLock { $0 = value } }
    func advance(by delta: UInt64) { millis.withLock { $0 += delta } }
    func rewind(by delta: UInt64) { millis.withLock { $0 -= delta } }

    /// The `WallClock` a store reads.
    var wallClock: FunctionWallClock {
        FunctionWallClock { [self] in
            millis.withLock { value in
                let reading = value
                value += step
                return reading
            }
        }
    }
}

let testLogger = Logger(label: "casemesh.store-tests")

// MARK: - Temporary directories and stores

/// Runs `body` with a fresh directory under the system's temporary
/// directory and removes the directory afterwards, whatever happens.
@discardableResult
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("casemesh-store-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url.path)
}

func configuration(_ directory: String, replica: ReplicaID = .emea, region regionName: String = "EMEA",
                   durability: Durability = .off, retention: Int = 100_000, maxOffset: UInt64 = 500) -> StoreConfiguration {
    StoreConfiguration(dataDirectory: directory, replica: replica, region: region(regionName), durability: durability,
                       deltaLogRetention: retention, maxClockOffsetMillis: maxOffset)
}

func openStore(_ directory: String, replica: ReplicaID = .emea, region regionName: String = "EMEA",
               clock: ManualClock, durability: Durability = .off, retention: Int = 100_000) throws(StoreError) -> NodeStore {
    try NodeStore.open(configuration(directory, replica: replica, region: regionName, durability: durability, retention: retention),
                       wallClock: clock.wallClock, logger: testLogger)
}

// MARK: - Drafts and commands

/// The four answers an escalation request needs, so `escalate` passes its gate.
let escalationRequest: [CaseField: FieldValue] = [
    .problemStatement: .text("Card payments time out for every EU merchant"),
    .businessImpact: .text("About 4,000 orders an hour are lost"),
    .workaround: .text("none"),
    .criticalMilestone: .time(1_769_904_000_000),
]

func draft(id: String? = nil, title: String = "Card payments time out", customer: String = "Acme GmbH",
           product: String = "Payments API", severity: Severity = .sev3,
           fields: [CaseField: FieldValue] = [:]) -> CaseDraft {
    CaseDraft(id: id.map(caseID), title: title, customer: customer, product: product, severity: severity, fields: fields)
}

func addNote(_ id: String, _ text: String) -> CaseCommand {
    .addNote(id: noteID(id), text: text, visibility: .internal)
}

let actor = "Ann Agent"

// MARK: - Errors

/// The `StoreError` `body` throws, or nil when it succeeds. Any other
/// error is recorded as a test failure.
func storeError<T>(_ body: () async throws -> T, sourceLocation: SourceLocation = #_sourceLocation) async -> StoreError? {
    do {
        _ = try await body()
        return nil
    } catch let error as StoreError {
        return error
    } catch {
        Issue.record("expected a StoreError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The domain error inside a `.rejected`, or nil for anything else.
func rejection(_ error: StoreError?) -> DomainError? {
    if case let .rejected(domain)? = error { return domain }
    return nil
}

// MARK: - Reading a store back

/// The delta-log entries of `origin` after `after`, requiring that the log still holds them.
func logEntries(_ store: NodeStore, of origin: ReplicaID, after: UInt64 = 0, limit: Int = 10_000,
                sourceLocation: SourceLocation = #_sourceLocation) throws -> [(position: LogPosition, delta: CaseState)] {
    switch try store.deltas(of: origin, after: after, limit: limit) {
    case let .deltas(entries):
        return entries
    case let .needsCatchUp(origin, after, retainedFrom):
        Issue.record("expected deltas of \(origin) after \(after), got needsCatchUp (retained from \(retainedFrom))",
                     sourceLocation: sourceLocation)
        return []
    }
}

/// Every case summary, paging through `list` with the largest page.
func allSummaries(_ store: NodeStore, _ query: CaseQuery = CaseQuery(limit: 1000)) throws -> [CaseSummary] {
    var query = query
    var result: [CaseSummary] = []
    while true {
        let page = try store.list(query)
        result += page.cases
        guard let next = page.nextCursor else { return result }
        query.cursor = next
    }
}

/// The digest recomputed from the stored case states: XOR of each case's digest.
func recomputedDigest(_ store: NodeStore) throws -> StateDigest {
    var digest = StateDigest.zero
    for summary in try allSummaries(store) {
        let state = try #require(try store.caseState(caseID(summary.id)))
        digest.toggle(state.digest)
    }
    return digest
}

/// Everything a write could leave behind, for "nothing changed" checks.
struct StoreSnapshot: Equatable {
    var digest: StateDigest
    var cases: Int
    var applied: [ReplicaID: UInt64]
    var log: [LogPosition: CaseState]
    var states: [String: CaseState]
    var listed: [CaseSummary]

    init(_ store: NodeStore, origins: [ReplicaID] = [.emea, .amer, .apac]) throws {
        (digest, cases) = store.digest
        applied = store.appliedPositions
        log = [:]
        for origin in origins {
            for entry in try logEntries(store, of: origin) { log[entry.position] = entry.delta }
        }
        listed = try allSummaries(store)
        states = [:]
        for summary in listed { states[summary.id] = try store.caseState(caseID(summary.id)) }
    }
}

/// Applies to `target` every delta `source` holds that `target` lacks, for
/// each origin, oldest first, until neither side has anything new. Returns
/// how many deltas were applied.
@discardableResult
func sync(from source: NodeStore, to target: NodeStore, origins: [ReplicaID] = [.emea, .amer, .apac]) async throws -> Int {
    var applied = 0
    for origin in origins {
        let after = target.appliedPositions[origin] ?? 0
        for entry in try logEntries(source, of: origin, after: after) {
            let outcome = try await target.applyRemote(origin: origin, counter: entry.position.counter, delta: entry.delta)
            #expect(outcome.delta != nil)
            applied += 1
        }
    }
    return applied
}

// MARK: - Running tools (fault tests)

/// Runs blocking work (waiting for a process, long synchronous store reads)
/// on a thread of its own: on the cooperative pool it would hold one of its
/// few threads, and other suites' socket tests would stall behind it.
func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

/// Runs an executable and returns its exit status and combined output.
@discardableResult
func run(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    do {
        try process.run()
    } catch {
        return (-1, "cannot run \(executable): \(error)")
    }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

// MARK: - Older schemas

/// Puts a store's versions back the way they were before the states had a
/// table of their own (migration v8): each version's state in its
/// `case_versions` row. Reopening the store runs v8 again.
func revertToVersionsWithStates(_ db: Database) throws {
    try db.execute(sql: """
        ALTER TABLE case_versions ADD COLUMN state BLOB;
        UPDATE case_versions SET state = (SELECT state FROM case_states s WHERE s.version = case_versions.rowid);
        DROP TABLE case_states;
        DELETE FROM grdb_migrations WHERE identifier = 'v8';
        """)
}

/// Puts a store's case tables back the way they were before case versions
/// (migration v7): each case's state and list columns in its `cases` row,
/// from its live version. Reopening the store runs v7 (and v8) again.
func revertToCasesWithStates(_ db: Database) throws {
    try revertToVersionsWithStates(db)
    try db.execute(sql: """
        ALTER TABLE cases ADD COLUMN state BLOB;
        ALTER TABLE cases ADD COLUMN digest BLOB;
        ALTER TABLE cases ADD COLUMN title TEXT;
        ALTER TABLE cases ADD COLUMN status TEXT;
        ALTER TABLE cases ADD COLUMN severity TEXT;
        ALTER TABLE cases ADD COLUMN owning_region TEXT;
        ALTER TABLE cases ADD COLUMN owner TEXT;
        ALTER TABLE cases ADD COLUMN sla_due_at INTEGER;
        ALTER TABLE cases ADD COLUMN updated_at INTEGER;
        ALTER TABLE cases ADD COLUMN slack BLOB;
        UPDATE cases SET (state, digest, title, status, severity, owning_region, owner, sla_due_at, updated_at) =
            (SELECT state, digest, title, status, severity, owning_region, owner, sla_due_at, updated_at
             FROM case_versions v WHERE v.case_row = cases.rowid ORDER BY v.rowid DESC LIMIT 1);
        DROP TABLE case_versions;
        DELETE FROM grdb_migrations WHERE identifier = 'v7';
        """)
}
