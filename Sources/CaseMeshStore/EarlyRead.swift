import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshReplication
import Synchronization

/// A stored case that its writer read and decoded on its own thread before
/// queueing the write, with the version it read.
///
/// Why: batches are prepared one at a time, and reading and decoding their
/// cases was about half of preparing one, while the writes waiting for the
/// next batch sat idle in the queue. A caller that reads its case first
/// spends that wait on it, on whichever core is free. The batch uses the
/// read only if the version is still the case's live one as the batches
/// prepared so far leave it: versions are never reused and never change,
/// so that version's state is then exactly the case's current state.
/// Otherwise (the case changed in between, or cleaning moved it) the batch
/// reads the case as if nothing had been read early.
struct EarlyRead: Sendable {
    var version: Int64
    var loaded: BatchCase
}

/// One connection for early reads, behind its own lock (locks cannot be
/// copied, so they cannot sit in an array themselves). Once the store
/// closes it, it stays closed: a late reader would open it again.
final class EarlyReader: Sendable {
    private let state: Mutex<(reader: CaseReader, closed: Bool)>
    init(path: String) { state = Mutex((CaseReader(path: path), false)) }

    /// Runs `body` on the connection if it is free and open; nil otherwise.
    func readIfAvailable<T: Sendable>(_ body: (CaseReader) -> T) -> T? {
        state.withLockIfAvailable { state -> T? in state.closed ? nil : body(state.reader) } ?? nil
    }

    /// Waits for a read in progress, then closes the connection for good.
    func close() {
        state.withLock { state in
            state.closed = true
            state.reader.close()
        }
    }
}

extension NodeStore {
    /// Connections for early reads, two in all: callers run on Swift's
    /// cooperative pool, one thread per core, and this machine class has
    /// two; a caller that finds both busy just leaves its read to the batch.
    /// (Early reads block the caller's pool thread on SQLite for a read of
    /// a few pages, as any API read does.)
    static let earlyReaderCount = 2

    /// Reads and decodes, on the calling thread, the stored case each of
    /// `jobs` changes (one result per job; a case several jobs change is
    /// read once, for the first of them: the batch uses no other). Nothing here is an error:
    /// a case not stored yet, one a batch in flight is changing (the
    /// batch has it decoded already), one that does not decode, or a
    /// failed read all give nil, and the batch reads (and reports) as usual.
    func readEarly(_ jobs: [WriteJob]) -> [EarlyRead?] {
        var early = [EarlyRead?](repeating: nil, count: jobs.count)
        var targets: [(job: Int, id: CaseID, row: Int64, version: Int64)] = []
        var seen = Set<CaseID>()
        for (index, job) in jobs.enumerated() {
            let id: CaseID
            switch job {
            case let .command(caseID, _, _): id = caseID
            case let .remote(_, _, delta): id = delta.id
            case .create, .catchUp: continue
            }
            guard seen.insert(id).inserted, latest(id) == nil else { continue }
            guard let row = knownCases.withLock({ $0[CaseBucket.of(id)][id]?.rowid }),
                  let version = committedVersions.version(of: row) else { continue }
            targets.append((index, id, row, version))
        }
        guard !targets.isEmpty else { return early }
        // The version was looked up before the read's snapshot starts, so
        // the snapshot holds it unless a commit cleaned it away meanwhile.
        let rows = targets.map { $0.row }
        let versions = targets.map { [$0.version] }
        var stored: [(state: [UInt8], digest: [UInt8])?]?
        for reader in earlyReaders {
            // nil: busy or closed, try the next; a read that failed (nil
            // inside) is left to the batch, which reports what it finds.
            guard let attempt = reader.readIfAvailable({ reader in
                try? reader.read { db in try rows.indices.map { try db.fetchCaseVersionBytes(caseRow: rows[$0], versions: versions[$0]) } }
            }) else { continue }
            stored = attempt
            break
        }
        guard let stored else { return early }
        for (target, found) in zip(targets, stored) {
            guard let found, case let .success(state) = Self.decodeStored(found, as: target.id) else { continue }
            early[target.job] = EarlyRead(version: target.version,
                                          loaded: BatchCase(row: target.row, state: state, digest: StateDigest(bytes: found.digest), columns: nil))
        }
        return early
    }

    /// A stored version's state, checked: a 32-byte digest, a state that
    /// decodes, and that is the case `id` (a row id leading to another
    /// case's state must not be written under this id: it would mix the two).
    static func decodeStored(_ found: (state: [UInt8], digest: [UInt8]), as id: CaseID) -> Result<CaseState, DamagedCase> {
        Result { () throws(DamagedCase) -> CaseState in
            guard found.digest.count == 32 else { throw DamagedCase(reason: "its stored digest has \(found.digest.count) bytes") }
            let state: CaseState
            do { state = try CaseState(decoding: found.state) } catch { throw DamagedCase(reason: "\(error)") }
            guard state.id == id else { throw DamagedCase(reason: "its row holds case \(state.id)") }
            return state
        }
    }
}
