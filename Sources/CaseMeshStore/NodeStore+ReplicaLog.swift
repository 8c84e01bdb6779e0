import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshReplication
import Foundation
import GRDB

/// The store as the replication engine reads it: the log, positions and
/// digests, straight from SQLite and the writer's mirrored state.
extension NodeStore: ReplicaLog {
    public var applied: LogPositions { appliedPositions }

    public func entries(of origin: ReplicaID, after: UInt64, maxBytes: Int) throws -> LogRead {
        guard after < UInt64(Int64.max) else { return .entries([]) }
        let head = applied[origin] ?? 0
        guard after < head else { return .entries([]) }
        let (retainedFrom, rows) = try readLog(of: origin, after: after, limit: 512)
        if after + 1 < retainedFrom { return .trimmed(retainedFrom: retainedFrom) }
        var result: [LogEntry] = []
        var bytes = 0
        for (counter, delta) in rows {
            guard counter == after + UInt64(result.count) + 1 else { break }
            if !result.isEmpty && bytes + delta.count > maxBytes { break }
            result.append(LogEntry(origin: origin, counter: counter, delta: [UInt8](delta)))
            bytes += delta.count
        }
        return .entries(result)
    }

    public func bucketDigests() throws -> [StateDigest] {
        writer.withLock { $0.bucketDigests }
    }

    public func caseFingerprints(inBuckets buckets: [Int]) throws -> [(id: CaseID, fingerprint: CaseFingerprint)] {
        let wanted = buckets.filter { (0..<CaseBucket.count).contains($0) }
        let copies = knownCases.withLock { all in wanted.map { all[$0] } }
        var result: [(id: CaseID, fingerprint: CaseFingerprint)] = []
        result.reserveCapacity(copies.reduce(0) { $0 + $1.count })
        for bucket in copies {
            for (id, known) in bucket { result.append((id, CaseFingerprint(id: id, digestPrefix: known.fingerprint))) }
        }
        return result
    }

    /// The stored states of `ids` (those stored; each once), ordered by id.
    public func encodedCases(_ ids: [CaseID]) throws -> [[UInt8]] {
        let stored = knownCases.withLock { known in
            Set(ids).compactMap { id in known[CaseBucket.of(id)][id].map { (id: id, rowid: $0.rowid) } }
        }.sorted { $0.id.rawValue.utf8.lexicographicallyPrecedes($1.id.rawValue.utf8) }
        let states = try readLiveRows(stored.map(\.rowid), columns: "s.state", states: true) { row in
            try row.withUnsafeData(atIndex: 1) { [UInt8]($0 ?? Data()) }
        }
        return stored.compactMap { states[$0.rowid] }
    }
}

extension NodeStore: ReplicaStore {
    public func applyEntries(_ entries: [LogEntry]) async -> [(any Error)?] {
        var errors: [(any Error)?] = Array(repeating: nil, count: entries.count)
        var decoded: [(origin: ReplicaID, counter: UInt64, delta: CaseState)] = []
        var indexes: [Int] = []
        for (index, entry) in entries.enumerated() {
            do {
                decoded.append((entry.origin, entry.counter, try CaseState(decoding: entry.delta)))
                indexes.append(index)
            } catch {
                errors[index] = StoreError.rejected(.invalid("delta", "\(entry.origin):\(entry.counter) does not decode: \(error)"))
            }
        }
        for (index, result) in zip(indexes, await applyRemote(decoded)) {
            if case let .failure(error) = result { errors[index] = error }
        }
        return errors
    }

    public func applyCatchUp(_ states: [[UInt8]], positions: LogPositions) async throws {
        var decoded: [CaseState] = []
        decoded.reserveCapacity(states.count)
        for bytes in states {
            do {
                decoded.append(try CaseState(decoding: bytes))
            } catch {
                throw StoreError.rejected(.invalid("state", "a caught-up case does not decode: \(error)"))
            }
        }
        _ = try await applyCatchUp(states: decoded, positions: positions)
    }

    public func recordAcknowledgement(peer: ReplicaID, positions: LogPositions) async throws {
        for (origin, counter) in positions.sorted(by: { $0.key < $1.key }) {
            try await recordAck(peer: peer, origin: origin, counter: counter)
        }
    }
}
