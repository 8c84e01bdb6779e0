import CaseMeshCRDT

/// A replica's whole set of cases, in memory. The durable store keeps the
/// same states on disk; this type is what simulations and tests replicate.
public struct CaseSet: Sendable, Equatable {
    public private(set) var cases: [CaseID: CaseState] = [:]

    public init() {}

    public var count: Int { cases.count }
    public subscript(id: CaseID) -> CaseState? { cases[id] }

    /// Records a locally created case. Refuses an id that already exists.
    public mutating func insertNew(_ state: CaseState) throws(DomainError) {
        guard cases[state.id] == nil else {
            throw .rule("case_exists", "a case with id \(state.id) already exists", field: "id")
        }
        cases[state.id] = state
    }

    /// Runs a command on a case; returns its delta.
    public mutating func execute(_ command: CaseCommand, on id: CaseID, context: CommandContext) throws(DomainError) -> CaseState {
        guard var state = cases.removeValue(forKey: id) else {
            throw DomainError(code: .notFound, message: "no case with id \(id)", field: "id")
        }
        defer { cases[id] = state }
        return try state.execute(command, context: context)
    }

    /// Merges a delta from another replica; returns the conflict follow-up delta, if any.
    @discardableResult
    public mutating func merge(_ delta: CaseState) -> CaseState? {
        if var state = cases.removeValue(forKey: delta.id) {
            let followUp = state.merge(delta)
            cases[delta.id] = state
            return followUp
        }
        var state = CaseState(header: delta.header)
        let followUp = state.merge(delta)
        cases[delta.id] = state
        return followUp
    }

    /// The digest of the logical state: XOR of the per-case digests. Equal on
    /// two replicas iff they hold the same cases in the same CRDT state.
    public var digest: StateDigest {
        var result = StateDigest.zero
        for state in cases.values { result.toggle(state.digest) }
        return result
    }
}
