/// A grow-only map whose keys identify immutable values (timeline events,
/// conflict records). Join is union. Keys are built so that one key always
/// carries one value; should two replicas ever disagree, the value with the
/// smaller canonical encoding wins on both, so join stays commutative.
public struct GrowOnlyMap<Key: Hashable & Comparable & Sendable & BinaryCodable, Value: Sendable & Equatable & BinaryCodable>: Sendable, Equatable {
    public private(set) var storage: [Key: Value]

    public init() { storage = [:] }
    public init(_ storage: [Key: Value]) { self.storage = storage }

    public var count: Int { storage.count }
    public subscript(key: Key) -> Value? { storage[key] }
    public var sortedByKey: [(key: Key, value: Value)] { storage.sorted { $0.key < $1.key } }

    /// Inserts a value; returns the delta (the single entry) or nil if present.
    @discardableResult
    public mutating func insert(_ value: Value, for key: Key) -> GrowOnlyMap? {
        if let existing = storage[key] {
            let winner = Self.pick(existing, value)
            if winner == existing { return nil }
            storage[key] = winner
            return GrowOnlyMap([key: winner])
        }
        storage[key] = value
        return GrowOnlyMap([key: value])
    }

    public mutating func join(_ other: GrowOnlyMap) {
        if storage.isEmpty { storage = other.storage; return }
        for (key, value) in other.storage {
            if let existing = storage[key] {
                if existing != value { storage[key] = Self.pick(existing, value) }
            } else {
                storage[key] = value
            }
        }
    }

    private static func pick(_ a: Value, _ b: Value) -> Value {
        if a == b { return a }
        return a.canonicalBytes.lexicographicallyPrecedes(b.canonicalBytes) ? a : b
    }
}
