/// A grow-only map whose keys identify immutable values (timeline events,
/// conflict records). Join is union. Keys are built so that one key always
/// carries one value; should two replicas ever disagree, the value with the
/// smaller canonical encoding wins on both, so join stays commutative.
///
/// The entries are one array sorted by key, not a hash table: a case's
/// timeline is decoded, extended by an event or two and encoded again on
/// every write, and with a hash table each of those hashed every key and
/// the encoding sorted them all. New events carry the newest time, so an
/// insert is almost always an append; lookups are a binary search; joining
/// walks both maps in key order.
public struct GrowOnlyMap<Key: Hashable & Comparable & Sendable & BinaryCodable, Value: Sendable & Equatable & BinaryCodable>: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public let key: Key
        public internal(set) var value: Value
    }

    /// Sorted by key, keys unique.
    public private(set) var entries: [Entry]

    public init() { entries = [] }
    public init(_ storage: [Key: Value]) {
        entries = storage.map { Entry(key: $0.key, value: $0.value) }.sorted { $0.key < $1.key }
    }

    /// Entries already sorted by key with unique keys (the decoder).
    init(sortedEntries: [Entry]) { entries = sortedEntries }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    /// The entry with the greatest key.
    public var last: Entry? { entries.last }

    public subscript(key: Key) -> Value? {
        let (index, found) = position(of: key)
        return found ? entries[index].value : nil
    }

    /// Where `key` is, or where it would be inserted.
    private func position(of key: Key) -> (index: Int, found: Bool) {
        // Most keys asked about (new events) come after every stored one.
        if let last = entries.last, last.key < key { return (entries.count, false) }
        return entries.sortedPosition(of: key) { $0.key }
    }

    /// Inserts a value; returns the delta (the single entry) or nil if present.
    @discardableResult
    public mutating func insert(_ value: Value, for key: Key) -> GrowOnlyMap? {
        let (index, found) = position(of: key)
        if found {
            let existing = entries[index].value
            let winner = Self.pick(existing, value)
            if winner == existing { return nil }
            entries[index].value = winner
            return GrowOnlyMap(sortedEntries: [Entry(key: key, value: winner)])
        }
        entries.insert(Entry(key: key, value: value), at: index)
        return GrowOnlyMap(sortedEntries: [Entry(key: key, value: value)])
    }

    public mutating func join(_ other: GrowOnlyMap) {
        if other.entries.isEmpty { return }
        if entries.isEmpty { entries = other.entries; return }
        // Most joins bring only newer entries (a delta's new events).
        if let last = entries.last, let first = other.entries.first, last.key < first.key {
            entries.append(contentsOf: other.entries)
            return
        }
        entries = .mergingSorted(entries, other.entries, keyOf: { $0.key }) { mine, theirs in
            Entry(key: mine.key, value: Self.pick(mine.value, theirs.value))
        }
    }

    private static func pick(_ a: Value, _ b: Value) -> Value {
        if a == b { return a }
        return a.canonicalBytes.lexicographicallyPrecedes(b.canonicalBytes) ? a : b
    }
}
