import CaseMeshCRDT
import CaseMeshDomain

/// A bounded map of recently written cases (row, state, digest). When full,
/// an eighth of the entries (arbitrary ones) make room: the cases being
/// worked right now are written again soon and come back.
struct RecentCases: Sendable {
    static let capacity = 4_096
    private var cases: [CaseID: BatchCase] = [:]

    subscript(id: CaseID) -> BatchCase? { cases[id] }

    var count: Int { cases.count }

    mutating func insert(_ written: BatchCase) {
        if cases[written.state.id] == nil && cases.count >= Self.capacity {
            let victims = Array(cases.keys.prefix(Self.capacity / 8))
            for id in victims { cases[id] = nil }
        }
        cases[written.state.id] = BatchCase(row: written.row, state: written.state, digest: written.digest, columns: nil)
    }
}
