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
    /// One page of cases matching `query`, newest-updated first (ties: the
    /// most recently created first). Filters without text are answered from
    /// the in-memory query index; text goes through the full-text index.
    public func list(_ query: CaseQuery) throws(StoreError) -> CasePage {
        guard (1...1000).contains(query.limit) else {
            throw .rejected(.invalid("limit", "limit must be between 1 and 1000"))
        }
        var after: QueryIndex.Position?
        if let cursor = query.cursor {
            guard let position = Self.decodeCursor(cursor) else {
                throw .rejected(.invalid("cursor", "cursor is not one this node handed out"))
            }
            after = position
        }
        let positions: [QueryIndex.Position]
        if let phrases = query.text.map(Self.ftsPhrases), !phrases.isEmpty {
            try writeSearchNow()
            positions = try searchPositions(query, phrases: phrases, after: after)
        } else {
            positions = indexPositions(query, after: after)
        }
        let page = Array(positions.prefix(query.limit))
        let summaries = try summaries(page.map(\.rowid))
        var next: String?
        if positions.count > query.limit, let last = page.last { next = Self.encodeCursor(last) }
        return CasePage(cases: summaries, nextCursor: next)
    }

    private func indexPositions(_ query: CaseQuery, after: QueryIndex.Position?) -> [QueryIndex.Position] {
        queryIndex.withLock { index in
            guard let filter = Self.filter(query, index: index) else { return [] }
            return index.positions(matching: filter, after: after, limit: query.limit + 1)
        }
    }

    /// The query's filters as the index's codes; nil when a value no case
    /// has ever had makes it match nothing.
    private static func filter(_ query: CaseQuery, index: QueryIndex) -> QueryIndex.Filter? {
        var filter = QueryIndex.Filter(slaDueBefore: query.slaDueBefore)
        if let status = query.status {
            guard let code = index.code(status.rawValue) else { return nil }
            filter.status = code
        }
        if let severity = query.severity {
            guard let code = index.code(severity.rawValue) else { return nil }
            filter.severity = code
        }
        if let region = query.region {
            guard let code = index.code(region.rawValue) else { return nil }
            filter.region = code
        }
        if let owner = query.owner {
            guard let code = index.code(owner) else { return nil }
            filter.owner = code
        }
        return filter
    }

    /// Every phrase must occur in the case: in its title or problem
    /// statement, or in one of its notes. The full-text index finds the
    /// cases; the query index filters and orders them (their list columns
    /// are in no SQL index: see `LiveVersions`).
    private func searchPositions(_ query: CaseQuery, phrases: [String], after: QueryIndex.Position?) throws(StoreError) -> [QueryIndex.Position] {
        let matching = phrases.map { _ in
            "c.rowid IN (SELECT rowid FROM case_text WHERE case_text MATCH ? UNION "
                + "SELECT case_row FROM case_notes WHERE rowid IN (SELECT rowid FROM note_text WHERE note_text MATCH ?))"
        }
        let sql = "SELECT c.rowid FROM cases c WHERE \(matching.joined(separator: " AND "))"
        let arguments = StatementArguments(phrases.flatMap { [$0, $0] })
        let rowids = try read { db in try Int64.fetchAll(db, sql: sql, arguments: arguments) }
        return queryIndex.withLock { index in
            guard let filter = Self.filter(query, index: index) else { return [] }
            return index.positions(of: rowids, matching: filter, after: after, limit: query.limit + 1)
        }
    }

    /// The list columns of `rowids`, in that order (a case with no live
    /// version, which only a damaged store has, is left out).
    private func summaries(_ rowids: [Int64]) throws(StoreError) -> [CaseSummary] {
        let rows = try readLiveRows(rowids, columns: "c.id, c.number, v.title, v.status, v.severity, v.owning_region, v.owner, v.sla_due_at, v.updated_at") { row in
            CaseSummary(id: row[1], number: row[2], title: row[3], status: row[4], severity: row[5],
                        owningRegion: row[6], owner: row[7], slaDueAt: row[8], updatedAt: row[9])
        }
        return rowids.compactMap { rows[$0] }
    }

    /// The words of a search, each quoted as an FTS5 phrase so user input
    /// cannot inject FTS5 syntax. Words the tokenizer reads as no word at
    /// all (`+`, `*`) are left out, as FTS5 itself ignores them beside real
    /// words; a search of nothing but such words keeps them, and finds
    /// nothing.
    static func ftsPhrases(_ text: String) -> [String] {
        // FTS5 reads the query as a C string: control characters (NUL above
        // all) separate words rather than end the query.
        let words = text.split(whereSeparator: { $0.isWhitespace || $0.unicodeScalars.allSatisfy { $0.properties.generalCategory == .control } })
        let phrases = words.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        let worded = zip(words, phrases).filter { word, _ in word.unicodeScalars.contains(where: isTokenCharacter) }.map(\.1)
        return worded.isEmpty ? phrases : worded
    }

    /// The characters FTS5's `unicode61` tokenizer keeps in tokens by
    /// default (categories L*, N* and Co); all others separate them.
    private static func isTokenCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .decimalNumber, .letterNumber, .otherNumber, .privateUse:
            return true
        default:
            return false
        }
    }

    static func encodeCursor(_ position: QueryIndex.Position) -> String {
        Data("\(position.updatedAt)|\(position.rowid)".utf8).base64EncodedString()
    }

    static func decodeCursor(_ cursor: String) -> QueryIndex.Position? {
        guard let data = Data(base64Encoded: cursor), let text = String(data: data, encoding: .utf8),
              let bar = text.firstIndex(of: "|"), let updated = Int64(text[..<bar]),
              let rowid = Int64(text[text.index(after: bar)...]) else { return nil }
        return QueryIndex.Position(updatedAt: updated, rowid: rowid)
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
        let (retainedFrom, rows) = try readLog(of: origin, after: after, limit: limit)
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

    /// Where `origin`'s retained log starts, and up to `limit` of its raw
    /// entries after `after`, oldest first. Both come from one snapshot, so
    /// a concurrent trim cannot leave a gap in what is returned.
    func readLog(of origin: ReplicaID, after: UInt64, limit: Int) throws(StoreError) -> (retainedFrom: UInt64, rows: [(counter: UInt64, delta: Data)]) {
        try read { db in
            let retained = try Int64.fetchOne(db.cachedStatement(sql: "SELECT retained_from FROM log_positions WHERE origin = ?"),
                                              arguments: [origin.rawValue]) ?? 1
            let rows = try Row.fetchAll(db.cachedStatement(sql: "SELECT counter, delta FROM delta_log WHERE origin = ? AND counter > ? ORDER BY counter LIMIT ?"),
                                        arguments: [origin.rawValue, Int64(after), max(limit, 0)]).map { (UInt64($0[0] as Int64), $0[1] as Data) }
            return (UInt64(retained), rows)
        }
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
