/// What the store keeps in memory about every stored case, by id.
///
/// The row id leads to the case's live version (`LiveVersions`), so the
/// write path reads a case with one B-tree descent (the versions table's)
/// and never looks its id up in SQL: over a million cases, reading the
/// cases a batch changes was most of preparing it. A case keeps its row id
/// for good (cases are never deleted or moved).
/// The digest prefix answers digest catch-up without reading any state.
struct KnownCase: Sendable {
    var rowid: Int64
    var fingerprint: UInt64
}
