/// A store of dots whose meaning depends on a causal context — the building
/// block of delta-state causal CRDTs (Almeida, Shoker, Baquero, "Delta State
/// Replicated Data Types", §6).
///
/// Joining two stores keeps a dot if both have it, or if one has it and the
/// other's context has not seen it. A dot one side has seen but no longer
/// holds was removed, and stays removed: no tombstones needed.
public protocol DotStore: Sendable, Equatable {
    init()
    /// True when the store holds no dots (the bottom element).
    var isBottom: Bool { get }
    /// Calls `body` with every dot the store holds.
    func forEachDot(_ body: (Dot) -> Void)
    /// Joins `other` (with context `otherContext`) into `self` (with `context`).
    mutating func join(_ other: Self, context: CausalContext, otherContext: CausalContext)
}

extension DotStore {
    public var dots: [Dot] {
        var result: [Dot] = []
        forEachDot { result.append($0) }
        return result
    }
}

/// A set of dots: the presence of one element of an add-wins set.
public struct DotSet: DotStore, Hashable {
    public private(set) var dots: Set<Dot>

    public init() { dots = [] }
    public init(_ dots: Set<Dot>) { self.dots = dots }

    public var isBottom: Bool { dots.isEmpty }

    public func forEachDot(_ body: (Dot) -> Void) { for dot in dots { body(dot) } }

    public mutating func join(_ other: DotSet, context: CausalContext, otherContext: CausalContext) {
        if dots == other.dots { return }
        var result = Set<Dot>()
        for dot in dots where other.dots.contains(dot) || !otherContext.contains(dot) { result.insert(dot) }
        for dot in other.dots where !context.contains(dot) { result.insert(dot) }
        dots = result
    }
}

/// A map from dots to immutable, timestamped values: the concurrent writes of
/// one LWW register.
///
/// Usually holds one entry; two or more mean concurrent writes that nobody has
/// overwritten yet. The register's value is the entry with the highest
/// (HLC, replica id) stamp; the others are the losing sides of a conflict,
/// kept until a later write that observed them replaces them all. The first
/// entry is stored inline so the common single-entry register allocates
/// nothing of its own.
public struct DotFun<Value: Sendable & Equatable>: DotStore {
    public struct Entry: Sendable, Equatable {
        public var dot: Dot
        public var time: HLCTimestamp
        public var value: Value
        public init(dot: Dot, time: HLCTimestamp, value: Value) {
            self.dot = dot
            self.time = time
            self.value = value
        }
        /// The LWW order of this write: (HLC, writer replica).
        public var stamp: LWWStamp { LWWStamp(time: time, replica: dot.replica) }
    }

    /// The entry with the smallest dot, if any.
    var head: Entry?
    /// The other entries, sorted by dot (empty for a single-entry register).
    var tail: [Entry]

    public init() {
        head = nil
        tail = []
    }

    public init(_ entries: [Entry]) {
        self.init()
        setEntries(entries.count > 1 ? entries.sorted { $0.dot < $1.dot } : entries)
    }

    public init(_ entry: Entry) {
        head = entry
        tail = []
    }

    /// All entries, sorted by dot.
    public var entries: [Entry] {
        guard let head else { return [] }
        if tail.isEmpty { return [head] }
        return [head] + tail
    }

    public var count: Int { isBottom ? 0 : 1 + tail.count }

    /// Checked without copying the entry (which would retain its strings).
    public var isBottom: Bool {
        switch head {
        case .none: return true
        case .some: return false
        }
    }

    public func forEachDot(_ body: (Dot) -> Void) {
        guard let head else { return }
        body(head.dot)
        for entry in tail { body(entry.dot) }
    }

    private mutating func setEntries(_ sorted: [Entry]) {
        head = sorted.first
        tail = sorted.count > 1 ? Array(sorted.dropFirst()) : []
    }

    private func contains(dot: Dot) -> Bool {
        guard let head else { return false }
        if head.dot == dot { return true }
        return tail.contains { $0.dot == dot }
    }

    public mutating func join(_ other: DotFun, context: CausalContext, otherContext: CausalContext) {
        guard let otherHead = other.head else {
            // Only removals can come from the other side.
            guard let head else { return }
            if tail.isEmpty {
                if otherContext.contains(head.dot) { self.head = nil }
                return
            }
            setEntries(entries.filter { !otherContext.contains($0.dot) })
            return
        }
        if let head, tail.isEmpty, other.tail.isEmpty {
            if head.dot == otherHead.dot { return }  // same write on both sides
        } else if head == nil {
            // Nothing here: keep what we have not seen.
            if other.tail.isEmpty {
                if !context.contains(otherHead.dot) { self.head = otherHead }
                return
            }
            setEntries(other.entries.filter { !context.contains($0.dot) })
            return
        }
        var result: [Entry] = []
        result.reserveCapacity(count + other.count)
        for entry in entries where other.contains(dot: entry.dot) || !otherContext.contains(entry.dot) {
            result.append(entry)
        }
        for entry in other.entries where !context.contains(entry.dot) && !contains(dot: entry.dot) {
            result.append(entry)
        }
        if result.count > 1 { result.sort { $0.dot < $1.dot } }
        setEntries(result)
    }

    /// Replaces every entry with one: the in-place effect of a write that
    /// observed all current entries.
    mutating func replaceAll(with entry: Entry) {
        head = entry
        if !tail.isEmpty { tail = [] }
    }
}

/// A map from keys to dot stores, all sharing one causal context: the shape of
/// an observed-remove map, and (with `DotSet` values) of an add-wins set.
public struct DotMap<Key: Hashable & Sendable, Store: DotStore>: DotStore {
    public internal(set) var storage: [Key: Store]

    public init() { storage = [:] }
    public init(_ storage: [Key: Store]) {
        self.storage = storage.values.contains(where: { $0.isBottom }) ? storage.filter { !$0.value.isBottom } : storage
    }

    /// One non-empty entry: the shape of most deltas.
    init(key: Key, store: Store) { storage = [key: store] }

    /// Storage already known to hold no empty stores (decoders, mutators).
    init(unchecked storage: [Key: Store]) { self.storage = storage }

    public var isBottom: Bool { storage.isEmpty }
    public var count: Int { storage.count }
    public var keys: Dictionary<Key, Store>.Keys { storage.keys }

    public subscript(key: Key) -> Store? { storage[key] }

    public func forEachDot(_ body: (Dot) -> Void) {
        for store in storage.values { store.forEachDot(body) }
    }

    public mutating func join(_ other: DotMap, context: CausalContext, otherContext: CausalContext) {
        // Keys only we hold lose the dots the other side has seen (removals).
        if !otherContext.isEmpty {
            var emptied: [Key] = []
            for (key, var store) in storage where other.storage[key] == nil {
                var touched = false
                store.forEachDot { if otherContext.contains($0) { touched = true } }
                guard touched else { continue }
                store.join(Store(), context: context, otherContext: otherContext)
                if store.isBottom { emptied.append(key) } else { storage[key] = store }
            }
            for key in emptied { storage[key] = nil }
        }
        for (key, theirs) in other.storage {
            if var mine = storage.removeValue(forKey: key) {
                mine.join(theirs, context: context, otherContext: otherContext)
                if !mine.isBottom { storage[key] = mine }
            } else {
                var mine = Store()
                mine.join(theirs, context: context, otherContext: otherContext)
                if !mine.isBottom { storage[key] = mine }
            }
        }
    }
}

/// A dot store paired with the causal context that gives it meaning. Both full
/// states and deltas have this shape, so they join with the same function.
public struct Causal<Store: DotStore>: Sendable, Equatable {
    public var store: Store
    public var context: CausalContext

    public init(store: Store = Store(), context: CausalContext = CausalContext()) {
        self.store = store
        self.context = context
    }

    public mutating func join(_ other: Causal<Store>) {
        if other.context.isEmpty && other.store.isBottom { return }
        if context.isEmpty && store.isBottom {
            // Joining into nothing: the result is the other side, as is.
            self = other
            return
        }
        store.join(other.store, context: context, otherContext: other.context)
        context.formUnion(other.context)
    }

    public func joined(_ other: Causal<Store>) -> Causal<Store> {
        var copy = self
        copy.join(other)
        return copy
    }
}
