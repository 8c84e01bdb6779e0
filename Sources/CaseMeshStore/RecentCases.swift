import CaseMeshCRDT
import CaseMeshDomain

/// A bounded map of recently written cases (row, state, digest). When full,
/// an eighth of the entries (arbitrary ones) make room: the cases being
/// worked right now are written again soon and come back.
public struct RecentCases: Sendable {
    public static let defaultCapacity = 4_096
    let capacity: Int
    private var cases: [CaseID: BatchCase] = [:]

    init(capacity: Int) { self.capacity = max(capacity, 1) }

    subscript(id: CaseID) -> BatchCase? { cases[id] }

    var count: Int { cases.count }

    mutating func insert(_ written: BatchCase) {
        let id = written.state.id
        // One lookup per insert: a case already here is replaced in place;
        // a new one that overfills the map makes room, sparing itself.
        guard cases.updateValue(BatchCase(row: written.row, state: written.state, digest: written.digest, columns: nil), forKey: id) == nil,
              cases.count > capacity else { return }
        let victims = cases.keys.lazy.filter { $0 != id }.prefix(max(capacity / 8, 1))
        for victim in Array(victims) { cases[victim] = nil }
    }
}
