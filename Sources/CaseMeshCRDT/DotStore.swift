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
    /// Whether the store holds a dot that `context` has seen. The same
    /// answer as a `forEachDot` walk, without a closure or copies of the
    /// entries: a join asks it of every entry a delta may have removed.
    func holdsDot(seenBy context: CausalContext) -> Bool
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

    public func holdsDot(seenBy context: CausalContext) -> Bool {
        dots.contains { context.contains($0) }
    }

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
        /// Called through `head?.`, these read the dot without copying the entry.
        func passDot(to body: (Dot) -> Void) { body(dot) }
        func isSeen(by context: CausalContext) -> Bool { context.contains(dot) }

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

    /// Reads each dot in place: copying an entry out (even through
    /// `head?.dot`) would retain and release its value.
    public func forEachDot(_ body: (Dot) -> Void) {
        head?.passDot(to: body)
        for index in tail.indices { tail[index].passDot(to: body) }
    }

    public func holdsDot(seenBy context: CausalContext) -> Bool {
        if head?.isSeen(by: context) == true { return true }
        for index in tail.indices where tail[index].isSeen(by: context) { return true }
        return false
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
///
/// The entries are one array sorted by key rather than a hash table. Most maps
/// are small (a case's fields, a delta's one key), and a sorted array is one
/// allocation with no hashing: building, copying and walking it is what
/// decoding, encoding and shipping a replica do to every case. Lookups are a
/// binary search; joining two maps walks both in key order.
public struct DotMap<Key: Hashable & Comparable & Sendable, Store: DotStore>: DotStore {
    public struct Entry: Sendable, Equatable {
        public let key: Key
        public internal(set) var store: Store
    }

    /// Sorted by key, keys unique, no empty stores.
    public internal(set) var entries: [Entry]

    public init() { entries = [] }
    public init(_ storage: [Key: Store]) {
        entries = storage.filter { !$0.value.isBottom }.map { Entry(key: $0.key, store: $0.value) }.sorted { $0.key < $1.key }
    }

    /// One non-empty entry: the shape of most deltas.
    init(key: Key, store: Store) { entries = [Entry(key: key, store: store)] }

    /// Entries already sorted by key, unique and non-empty (decoders, mutators).
    init(sortedEntries: [Entry]) { entries = sortedEntries }

    public var isBottom: Bool { entries.isEmpty }
    public var count: Int { entries.count }
    /// The keys, in order.
    public var keys: LazyMapSequence<[Entry], Key> { entries.lazy.map { $0.key } }
    /// The stores, in key order.
    public var stores: LazyMapSequence<[Entry], Store> { entries.lazy.map { $0.store } }

    public subscript(key: Key) -> Store? {
        let (index, found) = position(of: key)
        return found ? entries[index].store : nil
    }

    /// Where `key` is, or where it would be inserted.
    func position(of key: Key) -> (index: Int, found: Bool) { entries.sortedPosition(of: key) { $0.key } }

    /// Updates the store under `key` in place (starting from an empty store
    /// if absent), dropping the entry if it ends up empty.
    @discardableResult
    mutating func update<R>(_ key: Key, _ body: (inout Store) -> R) -> R {
        let (index, found) = position(of: key)
        if !found {
            var store = Store()
            let result = body(&store)
            if !store.isBottom { entries.insert(Entry(key: key, store: store), at: index) }
            return result
        }
        let result = body(&entries[index].store)
        if entries[index].store.isBottom { entries.remove(at: index) }
        return result
    }

    /// Removes and returns the store under `key`.
    mutating func removeStore(_ key: Key) -> Store? {
        let (index, found) = position(of: key)
        return found ? entries.remove(at: index).store : nil
    }

    /// Visits each store in place, through the buffer: an array's subscript
    /// would copy the entry out, retaining and releasing its key and store.
    public func forEachDot(_ body: (Dot) -> Void) {
        entries.withUnsafeBufferPointer { buffer in
            for index in buffer.indices { buffer[index].store.forEachDot(body) }
        }
    }

    public func holdsDot(seenBy context: CausalContext) -> Bool {
        entries.withUnsafeBufferPointer { buffer in
            for index in buffer.indices where buffer[index].store.holdsDot(seenBy: context) { return true }
            return false
        }
    }

    /// Up to this many entries on the other side (a delta usually carries
    /// one), a join updates our entries where they are instead of building a
    /// new array: a note added to a case with hundreds of notes moves none.
    static var inPlaceJoinLimit: Int { 4 }

    /// Whether `otherContext` can name a dot we hold (and so remove it). Our
    /// dots are all in our `context`; a delta's context is usually a few
    /// cloud dots, and when we have seen none of them (a fresh write) no
    /// entry needs looking at.
    private static func mayRemove(_ otherContext: CausalContext, seenBy context: CausalContext) -> Bool {
        if otherContext.isEmpty { return false }
        if !otherContext.versionVector.isEmpty { return true }
        return otherContext.cloud.contains { context.contains($0) }
    }

    /// For a key only we hold: drops the dots the other side has seen (its
    /// removals), leaving the store alone when it has seen none of them.
    private static func dropRemoved(_ store: inout Store, context: CausalContext, otherContext: CausalContext) {
        guard !otherContext.isEmpty, store.holdsDot(seenBy: otherContext) else { return }
        store.join(Store(), context: context, otherContext: otherContext)
    }

    /// The same join as the walk in key order, entry by entry in place.
    private mutating func joinInPlace(_ other: DotMap, context: CausalContext, otherContext: CausalContext) {
        if Self.mayRemove(otherContext, seenBy: context) {
            var index = 0
            while index < entries.count {
                if !other.position(of: entries[index].key).found {
                    Self.dropRemoved(&entries[index].store, context: context, otherContext: otherContext)
                    if entries[index].store.isBottom {
                        entries.remove(at: index)
                        continue
                    }
                }
                index += 1
            }
        }
        for theirs in other.entries {
            update(theirs.key) { $0.join(theirs.store, context: context, otherContext: otherContext) }
        }
    }

    public mutating func join(_ other: DotMap, context: CausalContext, otherContext: CausalContext) {
        if entries.isEmpty && context.isEmpty {
            // Nothing seen here: the result is the other side, as is.
            entries = other.entries
            return
        }
        if otherContext.isEmpty && other.entries.isEmpty { return }
        if other.entries.count <= Self.inPlaceJoinLimit {
            joinInPlace(other, context: context, otherContext: otherContext)
            return
        }
        // Walk both in key order. Keys only we hold lose the dots the other
        // side has seen (removals); keys only they hold keep the dots we have
        // not seen; shared keys join.
        var mine: [Entry] = []
        swap(&mine, &entries)
        entries.reserveCapacity(mine.count + other.entries.count)
        var i = 0, j = 0
        while i < mine.count || j < other.entries.count {
            if j == other.entries.count || (i < mine.count && mine[i].key < other.entries[j].key) {
                Self.dropRemoved(&mine[i].store, context: context, otherContext: otherContext)
                if !mine[i].store.isBottom { entries.append(mine[i]) }
                i += 1
            } else if i == mine.count || other.entries[j].key < mine[i].key {
                var store = Store()
                store.join(other.entries[j].store, context: context, otherContext: otherContext)
                if !store.isBottom { entries.append(Entry(key: other.entries[j].key, store: store)) }
                j += 1
            } else {
                mine[i].store.join(other.entries[j].store, context: context, otherContext: otherContext)
                if !mine[i].store.isBottom { entries.append(mine[i]) }
                i += 1
                j += 1
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
