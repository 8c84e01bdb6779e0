extension DotMap where Store == DotSet {
    /// Elements present: those with at least one surviving add dot.
    public var elements: Set<Key> { Set(keys) }

    public func contains(_ element: Key) -> Bool { position(of: element).found }

    /// Adds `element` with a fresh dot (its older add dots are folded into the
    /// delta's context, so one dot per element survives). Mutates in place.
    public mutating func add(_ element: Key, replica: ReplicaID, context: inout CausalContext) -> Causal<DotMap> {
        let dot = context.nextDot(for: replica)
        let entry = DotSet([dot])
        let covered = update(element) { store -> [Dot] in
            let covered = store.dots.map { $0 } + [dot]
            store = entry
            return covered
        }
        return Causal(store: DotMap(key: element, store: entry), context: CausalContext(dots: covered))
    }
}

extension DotMap {
    /// Removes `key`: the delta carries only the dots this replica observed, so
    /// a concurrent add elsewhere (a dot we have not seen) survives — add wins.
    public mutating func remove(_ key: Key) -> Causal<DotMap> {
        guard let store = removeStore(key) else { return Causal() }
        return Causal(store: DotMap(), context: CausalContext(dots: store.dots))
    }
}

extension DotMap {
    /// Writes the LWW register under `key` (an observed-remove map of registers).
    public mutating func assign<V>(
        _ key: Key, _ value: V, time: HLCTimestamp, replica: ReplicaID, context: inout CausalContext
    ) -> Causal<DotMap> where Store == DotFun<V> {
        let delta = update(key) { $0.assign(value, time: time, replica: replica, context: &context) }
        return Causal(store: DotMap(key: key, store: delta.store), context: delta.context)
    }

    /// Writes several registers as one operation: one delta with one context.
    public mutating func assign<V>(
        _ pairs: [(Key, V)], time: HLCTimestamp, replica: ReplicaID, context: inout CausalContext
    ) -> Causal<DotMap> where Store == DotFun<V> {
        if entries.isEmpty && context.isEmpty {
            // Writing into nothing: the delta is the whole resulting state,
            // which shares its storage with ours instead of being rebuilt.
            var written: [Entry] = []
            written.reserveCapacity(pairs.count)
            for (key, value) in pairs {
                // A repeated key overwrites its earlier entry; that dot stays in
                // the context, exactly as if the first write had been overwritten.
                let store = DotFun(DotFun<V>.Entry(dot: context.nextDot(for: replica), time: time, value: value))
                if let index = written.firstIndex(where: { $0.key == key }) { written[index].store = store } else { written.append(Entry(key: key, store: store)) }
            }
            if !written.isSorted(by: { $0.key < $1.key }) { written.sort { $0.key < $1.key } }
            entries = written
            return Causal(store: self, context: context)
        }
        var delta = DotMap()
        var deltaContext = CausalContext()
        for (key, value) in pairs {
            let written = update(key) {
                $0.assign(value, time: time, replica: replica, context: &context, deltaContext: &deltaContext)
            }
            delta.update(key) { $0 = written }
        }
        return Causal(store: delta, context: deltaContext)
    }

    /// The winning value of the register under `key`.
    public func value<V>(_ key: Key) -> V? where Store == DotFun<V> { self[key]?.value }
}

extension Array {
    /// True when every element is ordered before the next by `areInOrder`.
    func isSorted(by areInOrder: (Element, Element) -> Bool) -> Bool {
        var index = startIndex
        while index + 1 < endIndex {
            if !areInOrder(self[index], self[index + 1]) { return false }
            index += 1
        }
        return true
    }
}

/// An add-wins observed-remove set: a remove removes only the adds it has
/// observed; an add concurrent with a remove survives. No tombstones: removed
/// adds live on only as dots in the causal context.
public struct AWORSet<Element: Hashable & Comparable & Sendable>: Sendable, Equatable {
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
public struct ORMap<Key: Hashable & Comparable & Sendable, Value: Sendable & Equatable>: Sendable, Equatable {
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
