import CaseMeshCRDT
import CaseMeshDomain

/// A bounded map of recently written cases (row, state, digest). When full,
/// the case written longest ago makes room: the cases being worked right
/// now are the ones written again soon.
///
/// Why not evict arbitrary entries (say, the first ones the map iterates):
/// those are the entries in the lowest hash buckets, so the upper buckets
/// were never emptied and filled up into long runs, and every lookup of a
/// case not held here (nearly all of them, over a million cases) walked such
/// a run, comparing ids all the way.
public struct RecentCases: Sendable {
    public static let defaultCapacity = 4_096
    let capacity: Int
    private var cases: [CaseID: Slot] = [:]
    /// Cases in the order they were written, each with the stamp of that
    /// write. A case written again has a newer entry; its older ones are
    /// stale (their stamp no longer matches) and are skipped.
    private var order: [(id: CaseID, stamp: UInt64)] = []
    /// Entries of `order` before this one are used up.
    private var head = 0
    private var stamp: UInt64 = 0

    private struct Slot: Sendable {
        var written: BatchCase
        var stamp: UInt64
    }

    init(capacity: Int) { self.capacity = max(capacity, 1) }

    subscript(id: CaseID) -> BatchCase? { cases[id]?.written }

    var count: Int { cases.count }

    /// Holds `written`, and appends to `dropped` the cases it no longer
    /// holds because of it: the case's own older copy, and the one evicted
    /// to make room. Freeing a decoded case (thousands of objects) costs
    /// more than writing it; the store frees these after it has answered
    /// the batch.
    mutating func insert(_ written: BatchCase, droppingInto dropped: inout [BatchCase]) {
        let id = written.state.id
        stamp &+= 1
        if let replaced = cases.updateValue(Slot(written: BatchCase(row: written.row, state: written.state, digest: written.digest, columns: nil), stamp: stamp),
                                            forKey: id) {
            dropped.append(replaced.written)
        }
        order.append((id, stamp))
        while cases.count > capacity {
            guard let evicted = evictOldest() else { break }
            dropped.append(evicted)
        }
        if head >= capacity {
            order.removeFirst(head)
            head = 0
        }
        // Cases written over and over leave stale entries behind; keep
        // `order` within a small multiple of the map.
        if order.count > 4 * capacity + 64 {
            order = order.filter { entry in cases[entry.id]?.stamp == entry.stamp }
            head = 0
        }
    }

    private mutating func evictOldest() -> BatchCase? {
        while head < order.count {
            let oldest = order[head]
            head += 1
            if cases[oldest.id]?.stamp == oldest.stamp {
                return cases.removeValue(forKey: oldest.id)?.written
            }
        }
        return nil
    }
}
