/// A compact summary of contiguous dots: for each replica, every counter from
/// 1 up to the stored maximum has been seen.
///
/// Stored as a sorted array because clusters have a handful of replicas: a
/// linear scan over a few entries beats hashing, and one allocation per vector
/// keeps millions of per-case contexts cheap.
public struct VersionVector: Hashable, Sendable, CustomStringConvertible {
    public struct Entry: Hashable, Sendable {
        public var replica: ReplicaID
        public var counter: UInt64
    }

    /// Sorted by replica, no zero counters, so equal vectors compare equal.
    public private(set) var entries: [Entry]

    public init() { entries = [] }

    /// Entries already sorted by replica with non-zero counters (decoders).
    init(sortedEntries: [Entry]) { entries = sortedEntries }

    public init(_ pairs: [ReplicaID: UInt64]) {
        entries = pairs.filter { $0.value > 0 }.map { Entry(replica: $0.key, counter: $0.value) }
            .sorted { $0.replica < $1.replica }
    }

    public var isEmpty: Bool { entries.isEmpty }

    public subscript(replica: ReplicaID) -> UInt64 {
        get {
            // By index: copying an entry out would retain its replica id.
            for index in entries.indices where entries[index].replica == replica { return entries[index].counter }
            return 0
        }
        set {
            if let i = entries.firstIndex(where: { $0.replica == replica }) {
                if newValue == 0 { entries.remove(at: i) } else { entries[i].counter = newValue }
            } else if newValue > 0 {
                let i = entries.firstIndex(where: { replica < $0.replica }) ?? entries.endIndex
                entries.insert(Entry(replica: replica, counter: newValue), at: i)
            }
        }
    }

    /// Adds one to `replica`'s counter (inserting it at 1) and returns the new counter.
    mutating func increment(_ replica: ReplicaID) -> UInt64 {
        for index in entries.indices where entries[index].replica == replica {
            entries[index].counter += 1
            return entries[index].counter
        }
        let index = entries.firstIndex(where: { replica < $0.replica }) ?? entries.endIndex
        entries.insert(Entry(replica: replica, counter: 1), at: index)
        return 1
    }

    public func contains(_ dot: Dot) -> Bool { dot.counter <= self[dot.replica] }

    /// Pointwise maximum.
    public mutating func formUnion(_ other: VersionVector) {
        if other.entries.isEmpty || other == self { return }
        if entries.isEmpty { entries = other.entries; return }
        entries = .mergingSorted(entries, other.entries, keyOf: { $0.replica }) { mine, theirs in
            Entry(replica: mine.replica, counter: Swift.max(mine.counter, theirs.counter))
        }
    }

    /// True when every dot this vector covers is also covered by `other`.
    public func isCovered(by other: VersionVector) -> Bool {
        entries.allSatisfy { $0.counter <= other[$0.replica] }
    }

    public var description: String {
        "[" + entries.map { "\($0.replica):\($0.counter)" }.joined(separator: ", ") + "]"
    }
}
