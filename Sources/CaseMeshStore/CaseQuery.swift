import CaseMeshCRDT
import CaseMeshDomain
import Foundation
import GRDB

/// A filtered, paginated list request. All filters are optional and combine
/// with AND; results come newest-updated first.
public struct CaseQuery: Sendable {
    public var status: CaseStatus?
    public var severity: Severity?
    public var region: Region?
    public var owner: String?
    /// Only cases whose earliest running SLA deadline is before this instant (Unix ms).
    public var slaDueBefore: Int64?
    /// Full-text search over title, problem statement and notes (FTS5 syntax, words are ANDed).
    public var text: String?
    public var limit: Int
    /// Opaque cursor from the previous page.
    public var cursor: String?

    public init(status: CaseStatus? = nil, severity: Severity? = nil, region: Region? = nil, owner: String? = nil,
                slaDueBefore: Int64? = nil, text: String? = nil, limit: Int = 50, cursor: String? = nil) {
        self.status = status
        self.severity = severity
        self.region = region
        self.owner = owner
        self.slaDueBefore = slaDueBefore
        self.text = text
        self.limit = limit
        self.cursor = cursor
    }
}

/// One list entry: the columns a table view needs, without decoding the case.
public struct CaseSummary: Sendable, Equatable {
    public var id: String
    public var number: String
    public var title: String
    public var status: String
    public var severity: String
    public var owningRegion: String
    public var owner: String?
    public var slaDueAt: Int64?
    public var updatedAt: Int64
}

public struct CasePage: Sendable {
    public var cases: [CaseSummary]
    /// Pass back as `cursor` for the next page; nil on the last page.
    public var nextCursor: String?
}

extension NodeStore {
    public func list(_ query: CaseQuery) throws(StoreError) -> CasePage {
        guard (1...1000).contains(query.limit) else {
            throw .rejected(.invalid("limit", "limit must be between 1 and 1000"))
        }
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let status = query.status { conditions.append("c.status = ?"); _ = arguments.append(contentsOf: [status.rawValue]) }
        if let severity = query.severity { conditions.append("c.severity = ?"); _ = arguments.append(contentsOf: [severity.rawValue]) }
        if let region = query.region { conditions.append("c.owning_region = ?"); _ = arguments.append(contentsOf: [region.rawValue]) }
        if let owner = query.owner { conditions.append("c.owner = ?"); _ = arguments.append(contentsOf: [owner]) }
        if let due = query.slaDueBefore { conditions.append("c.sla_due_at < ?"); _ = arguments.append(contentsOf: [due]) }
        if let text = query.text.map(Self.ftsQuery), !text.isEmpty {
            conditions.append("c.rowid IN (SELECT rowid FROM case_search WHERE case_search MATCH ?)")
            _ = arguments.append(contentsOf: [text])
        }
        if let cursor = query.cursor {
            guard let (updated, id) = Self.decodeCursor(cursor) else {
                throw .rejected(.invalid("cursor", "cursor is not one this node handed out"))
            }
            conditions.append("(c.updated_at < ? OR (c.updated_at = ? AND c.id < ?))")
            _ = arguments.append(contentsOf: [updated, updated, id])
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = """
            SELECT c.id, c.number, c.title, c.status, c.severity, c.owning_region, c.owner, c.sla_due_at, c.updated_at
            FROM cases c \(whereClause)
            ORDER BY c.updated_at DESC, c.id DESC
            LIMIT \(query.limit + 1)
            """
        let args = arguments
        let rows = try read { db in
            try Row.fetchAll(db, sql: sql, arguments: args).map { row in
                CaseSummary(id: row[0], number: row[1], title: row[2], status: row[3], severity: row[4], owningRegion: row[5],
                            owner: row[6], slaDueAt: row[7], updatedAt: row[8])
            }
        }
        let cases = Array(rows.prefix(query.limit))
        var next: String?
        if rows.count > query.limit, let last = cases.last { next = Self.encodeCursor(updated: last.updatedAt, id: last.id) }
        return CasePage(cases: cases, nextCursor: next)
    }

    /// Quotes every word so user input cannot inject FTS5 syntax.
    static func ftsQuery(_ text: String) -> String {
        // FTS5 reads the query as a C string: control characters (NUL above
        // all) separate words rather than end the query.
        text.split(whereSeparator: { $0.isWhitespace || $0.unicodeScalars.allSatisfy { $0.properties.generalCategory == .control } }).map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
            .joined(separator: " ")
    }

    static func encodeCursor(updated: Int64, id: String) -> String {
        Data("\(updated)|\(id)".utf8).base64EncodedString()
    }

    static func decodeCursor(_ cursor: String) -> (Int64, String)? {
        guard let data = Data(base64Encoded: cursor), let text = String(data: data, encoding: .utf8),
              let bar = text.firstIndex(of: "|"), let updated = Int64(text[..<bar]) else { return nil }
        return (updated, String(text[text.index(after: bar)...]))
    }
}

/// Deltas a peer lacks, or the news that it is too far behind for the log.
public enum DeltaRange: Sendable {
    case deltas([(position: LogPosition, delta: CaseState)])
    /// The log no longer holds `origin`'s deltas after `after`; the peer needs
    /// a digest-based catch-up.
    case needsCatchUp(origin: ReplicaID, after: UInt64, retainedFrom: UInt64)
}

extension NodeStore {
    /// Up to `limit` deltas of `origin` after counter `after`, oldest first.
    public func deltas(of origin: ReplicaID, after: UInt64, limit: Int) throws(StoreError) -> DeltaRange {
        // Counters are stored as SQLite integers; nothing lies beyond Int64.max.
        guard after < UInt64(Int64.max) else { return .deltas([]) }
        // Read the retention bound in the same snapshot as the deltas, so a
        // concurrent trim cannot leave a gap in what is returned.
        let (retainedFrom, rows) = try read { db in
            let retained = try Int64.fetchOne(db, sql: "SELECT retained_from FROM log_positions WHERE origin = ?", arguments: [origin.rawValue]) ?? 1
            let rows = try Row.fetchAll(db, sql: "SELECT counter, delta FROM delta_log WHERE origin = ? AND counter > ? ORDER BY counter LIMIT ?",
                                        arguments: [origin.rawValue, Int64(after), max(limit, 0)]).map { (UInt64($0[0] as Int64), $0[1] as Data) }
            return (UInt64(retained), rows)
        }
        if after + 1 < retainedFrom { return .needsCatchUp(origin: origin, after: after, retainedFrom: retainedFrom) }
        var result: [(position: LogPosition, delta: CaseState)] = []
        for (counter, bytes) in rows {
            do {
                result.append((LogPosition(origin: origin, counter: counter), try CaseState(decoding: [UInt8](bytes))))
            } catch {
                throw .corrupt(path: configuration.databasePath, reason: "delta \(origin):\(counter) does not decode: \(error)")
            }
        }
        return .deltas(result)
    }

    /// Records what `peer` has acknowledged of `origin`'s deltas.
    public func recordAck(peer: ReplicaID, origin: ReplicaID, counter: UInt64) async throws(StoreError) {
        do {
            try await pool.write { db in
                try db.execute(sql: """
                    INSERT INTO peer_acks(peer, origin, counter) VALUES (?, ?, ?)
                    ON CONFLICT(peer, origin) DO UPDATE SET counter = max(counter, excluded.counter)
                    """, arguments: [peer.rawValue, origin.rawValue, Int64(clamping: counter)])
            }
        } catch {
            throw .writeFailed(reason: Self.classifyWrite(error))
        }
    }

    /// Acknowledgements recorded per peer and origin.
    public func peerAcks() throws(StoreError) -> [ReplicaID: [ReplicaID: UInt64]] {
        let rows = try read { db in
            try Row.fetchAll(db, sql: "SELECT peer, origin, counter FROM peer_acks").map { ($0[0] as String, $0[1] as String, $0[2] as Int64) }
        }
        var result: [ReplicaID: [ReplicaID: UInt64]] = [:]
        for (peer, origin, counter) in rows {
            result[ReplicaID(peer), default: [:]][ReplicaID(origin)] = UInt64(counter)
        }
        return result
    }
}
