extension DotMap where Store == DotSet {
    /// Elements present: those with at least one surviving add dot.
    public var elements: Set<Key> { Set(storage.keys) }

    public func contains(_ element: Key) -> Bool { storage[element] != nil }

    /// Adds `element` with a fresh dot (its older add dots are folded into the
    /// delta's context, so one dot per element survives). Mutates in place.
    public mutating func add(_ element: Key, replica: ReplicaID, context: inout CausalContext) -> Causal<DotMap> {
        let dot = context.nextDot(for: replica)
        var covered = storage[element]?.dots.map { $0 } ?? []
        covered.append(dot)
        let entry = DotSet([dot])
        storage[element] = entry
        return Causal(store: DotMap(key: element, store: entry), context: CausalContext(dots: covered))
    }
}

extension DotMap {
    /// Removes `key`: the delta carries only the dots this replica observed, so
    /// a concurrent add elsewhere (a dot we have not seen) survives — add wins.
    public mutating func remove(_ key: Key) -> Causal<DotMap> {
        guard let store = storage.removeValue(forKey: key) else { return Causal() }
        return Causal(store: DotMap(), context: CausalContext(dots: store.dots))
    }
}

extension DotMap {
    /// Writes the LWW register under `key` (an observed-remove map of registers).
    public mutating func assign<V>(
        _ key: Key, _ value: V, time: HLCTimestamp, replica: ReplicaID, context: inout CausalContext
    ) -> Causal<DotMap> where Store == DotFun<V> {
        let delta = storage[key, default: DotFun()].assign(value, time: time, replica: replica, context: &context)
        return Causal(store: DotMap(key: key, store: delta.store), context: delta.context)
    }

    /// Writes several registers as one operation: one delta with one context.
    public mutating func assign<V>(
        _ pairs: [(Key, V)], time: HLCTimestamp, replica: ReplicaID, context: inout CausalContext
    ) -> Causal<DotMap> where Store == DotFun<V> {
        if storage.isEmpty && context.isEmpty {
            // Writing into nothing: the delta is the whole resulting state,
            // which shares its storage with ours instead of being rebuilt.
            storage = [Key: DotFun<V>](minimumCapacity: pairs.count)
            for (key, value) in pairs {
                // A repeated key overwrites its earlier entry; that dot stays in
                // the context, exactly as if the first write had been overwritten.
                storage[key] = DotFun(DotFun<V>.Entry(dot: context.nextDot(for: replica), time: time, value: value))
            }
            return Causal(store: self, context: context)
        }
        // `Dictionary(minimumCapacity:)` is specialised; `reserveCapacity` on a
        // small dictionary costs more than the inserts it saves.
        var deltaStorage = [Key: DotFun<V>](minimumCapacity: pairs.count)
        if storage.isEmpty { storage = [Key: DotFun<V>](minimumCapacity: pairs.count) }
        var deltaContext = CausalContext()
        for (key, value) in pairs {
            deltaStorage[key] = storage[key, default: DotFun()].assign(
                value, time: time, replica: replica, context: &context, deltaContext: &deltaContext)
        }
        return Causal(store: DotMap(unchecked: deltaStorage), context: deltaContext)
    }

    /// The winning value of the register under `key`.
    public func value<V>(_ key: Key) -> V? where Store == DotFun<V> { storage[key]?.value }
}

/// An add-wins observed-remove set: a remove removes only the adds it has
/// observed; an add concurrent with a remove survives. No tombstones: removed
/// adds live on only as dots in the causal context.
public struct AWORSet<Element: Hashable & Sendable>: Sendable, Equatable {
    public var state: Causal<DotMap<Element, DotSet>>

    public init() { state = Causal() }
    public init(state: Causal<DotMap<Element, DotSet>>) { self.state = state }

    public var elements: Set<Element> { state.store.elements }
    public func contains(_ element: Element) -> Bool { state.store.contains(element) }

    @discardableResult
    public mutating func add(_ element: Element, replica: ReplicaID) -> AWORSet {
        AWORSet(state: state.store.add(element, replica: replica, context: &state.context))
    }

    @discardableResult
    public mutating func remove(_ element: Element) -> AWORSet {
        AWORSet(state: state.store.remove(element))
    }

    public mutating func join(_ other: AWORSet) { state.join(other.state) }
    public func joined(_ other: AWORSet) -> AWORSet { AWORSet(state: state.joined(other.state)) }
}

/// A map of LWW registers whose keys are add-wins: the "map of such fields".
/// Writing a key keeps it alive against a concurrent remove; removing it drops
/// only the writes the remover observed.
public struct ORMap<Key: Hashable & Sendable, Value: Sendable & Equatable>: Sendable, Equatable {
    public var state: Causal<DotMap<Key, DotFun<Value>>>

    public init() { state = Causal() }
    public init(state: Causal<DotMap<Key, DotFun<Value>>>) { self.state = state }

    public var keys: Set<Key> { Set(state.store.keys) }
    public subscript(key: Key) -> Value? { state.store.value(key) }
    public var count: Int { state.store.count }

    @discardableResult
    public mutating func set(_ key: Key, _ value: Value, time: HLCTimestamp, replica: ReplicaID) -> ORMap {
        ORMap(state: state.store.assign(key, value, time: time, replica: replica, context: &state.context))
    }

    /// Sets several keys as one operation (one delta).
    @discardableResult
    public mutating func set(_ pairs: [(Key, Value)], time: HLCTimestamp, replica: ReplicaID) -> ORMap {
        ORMap(state: state.store.assign(pairs, time: time, replica: replica, context: &state.context))
    }

    @discardableResult
    public mutating func remove(_ key: Key) -> ORMap {
        ORMap(state: state.store.remove(key))
    }

    public mutating func join(_ other: ORMap) { state.join(other.state) }
    public func joined(_ other: ORMap) -> ORMap { ORMap(state: state.joined(other.state)) }
}
