extension DotFun {
    /// The winning write: highest (HLC, replica id). Every replica holding the
    /// same entries picks the same winner.
    public var winner: Entry? {
        guard var best = head else { return nil }
        for entry in tail where best.stamp < entry.stamp { best = entry }
        return best
    }

    /// The register's value: the winning write's value.
    public var value: Value? { winner?.value }

    /// Concurrent writes that lose to the winner (a visible conflict while non-empty).
    public var losers: [Entry] {
        guard let winner, !tail.isEmpty else { return [] }
        return entries.filter { $0.dot != winner.dot }.sorted { $0.stamp > $1.stamp }
    }

    /// Writes `value`, overwriting every entry this replica has observed.
    /// Mutates in place (the same result as joining the returned delta) and
    /// records the new dot in `context`.
    public mutating func assign(
        _ value: Value, time: HLCTimestamp, replica: ReplicaID, context: inout CausalContext
    ) -> Causal<DotFun> {
        if let old = head, tail.isEmpty, old.dot.counter > 1 {
            // The common overwrite: one old dot, beyond any contiguous prefix,
            // and a newer one — the delta context is just those two, sorted.
            let dot = context.nextDot(for: replica)
            let entry = Entry(dot: dot, time: time, value: value)
            replaceAll(with: entry)
            guard dot.counter > 1 else {
                return Causal(store: DotFun(entry), context: CausalContext(dots: [old.dot, dot]))
            }
            let cloud = old.dot < dot ? [old.dot, dot] : [dot, old.dot]
            return Causal(store: DotFun(entry), context: CausalContext(compactCloud: cloud))
        }
        var deltaContext = CausalContext()
        let store = assign(value, time: time, replica: replica, context: &context, deltaContext: &deltaContext)
        return Causal(store: store, context: deltaContext)
    }

    /// The same, adding the delta's context (the new dot plus every dot it
    /// overwrites) to `deltaContext`, so several writes can share one delta.
    mutating func assign(
        _ value: Value, time: HLCTimestamp, replica: ReplicaID, context: inout CausalContext, deltaContext: inout CausalContext
    ) -> DotFun {
        let dot = context.nextDot(for: replica)
        let entry = Entry(dot: dot, time: time, value: value)
        if let head {
            deltaContext.insert(head.dot)
            for other in tail { deltaContext.insert(other.dot) }
        }
        deltaContext.insert(dot)
        replaceAll(with: entry)
        return DotFun(entry)
    }
}

/// A last-writer-wins register ordered by (HLC, replica id), built on a dot
/// store so that concurrent writes stay visible (as `losers`) until a write
/// that observed them replaces them.
public struct LWWRegister<Value: Sendable & Equatable>: Sendable, Equatable {
    public var state: Causal<DotFun<Value>>

    public init() { state = Causal() }
    public init(state: Causal<DotFun<Value>>) { self.state = state }

    public var value: Value? { state.store.value }
    public var stamp: LWWStamp? { state.store.winner?.stamp }
    public var losers: [DotFun<Value>.Entry] { state.store.losers }

    /// Sets the value; returns the delta to ship to other replicas.
    @discardableResult
    public mutating func assign(_ value: Value, time: HLCTimestamp, replica: ReplicaID) -> LWWRegister {
        LWWRegister(state: state.store.assign(value, time: time, replica: replica, context: &state.context))
    }

    public mutating func join(_ other: LWWRegister) { state.join(other.state) }
    public func joined(_ other: LWWRegister) -> LWWRegister { LWWRegister(state: state.joined(other.state)) }
}
