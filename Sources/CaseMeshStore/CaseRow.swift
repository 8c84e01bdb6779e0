import CaseMeshCRDT
import CaseMeshDomain
import Foundation
import GRDB

/// A case as written: its identity (the `cases` row: id, number, creation
/// time) and its version (a `case_versions` row: the CRDT state as a blob
/// plus the columns lists show and filter on), all derived from the state.
struct CaseRow: Sendable {
    var id: String
    var number: String
    var state: Data
    var digest: Data
    var title: String
    var status: String
    var severity: String
    var owning_region: String
    var owner: String?
    var sla_due_at: Int64?
    var updated_at: Int64
    var created_at: Int64

    /// `encoded` is the state's encoding (any valid one decodes to it).
    init(state: CaseState, encoded: [UInt8], digest: StateDigest, now: Int64) {
        id = state.id.rawValue
        number = state.header.number
        self.state = Data(encoded)
        self.digest = Data(digest.bytes)
        title = state.title ?? ""
        status = state.status.rawValue
        severity = (state.severity ?? .sev4).rawValue
        owning_region = state.owningRegion.rawValue
        owner = state.owner
        sla_due_at = state.sla(now: now).nextDueAt
        updated_at = Int64(clamping: state.updatedAt.wallMillis)
        created_at = Int64(clamping: state.header.createdAt.wallMillis)
    }
}

/// What writing a changed case needs that depends only on its old and new
/// states, so a batch works it out for all its cases at once, on every
/// core, before the writer runs the batch's SQL.
struct PreparedCase: Sendable {
    var new: CaseState
    var digest: StateDigest
    var row: CaseRow
    /// What the write changed in the searched text.
    var search: SearchText

    init(new: CaseState, previous: CaseState?, now: Int64) {
        self.new = new
        // The canonical encoding serves as the stored one too: it decodes
        // to the same state, and the digest needs it anyway.
        let encoded = new.canonicalBytes
        digest = CaseState.digest(of: new.id, canonicalBytes: encoded)
        row = CaseRow(state: new, encoded: encoded, digest: digest, now: now)
        search = SearchText(new: new, previous: previous)
    }
}

extension QueryIndex.Columns {
    /// The query-index columns of a row just written as `rowid`.
    init(_ row: CaseRow, rowid: Int64) {
        self.init(rowid: rowid, status: row.status, severity: row.severity, region: row.owning_region, owner: row.owner,
                  slaDueAt: row.sla_due_at, updatedAt: row.updated_at)
    }
}
