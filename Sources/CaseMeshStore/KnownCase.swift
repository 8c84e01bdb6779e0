/// What the store keeps in memory about every stored case, by id.
///
/// The row id lets the write path read a case with one B-tree descent (the
/// table's) instead of two (the unique id index's, then the table's): over
/// a million cases, reading the cases a batch changes was most of preparing
/// it. A case keeps its row id for good (cases are never deleted or moved).
/// The digest prefix answers digest catch-up without reading any state.
struct KnownCase: Sendable {
    var rowid: Int64
    var fingerprint: UInt64
}
