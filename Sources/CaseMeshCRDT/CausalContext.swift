/// The set of dots a state has seen: a version vector for the contiguous
/// prefix plus a "dot cloud" for dots that arrived out of order.
///
/// A dot in the context but absent from the store means "this write was seen
/// and has since been removed or overwritten" — that is how observed-remove
/// works without tombstones. The context compacts itself: cloud dots that
/// extend the vector's prefix are folded into it.
///
/// The cloud is a small sorted array rather than a hash set: clouds hold a
/// handful of dots (a delta's context is "the dots it overwrote plus its own"),
/// and an array avoids hashing replica ids and allocating hash tables on
/// every write.
public struct CausalContext: Hashable, Sendable, CustomStringConvertible {
    public private(set) var versionVector: VersionVector
    /// Sorted, unique, and never contiguous with the vector (compact).
    public private(set) var cloud: [Dot]

    public init() {
        versionVector = VersionVector()
        cloud = []
    }

    public init<S: Sequence>(versionVector: VersionVector, cloud: S) where S.Element == Dot {
        self.versionVector = versionVector
        self.cloud = Self.sortedUnique(Array(cloud))
        compact()
    }

    /// A context of cloud dots only, already sorted, unique and compact
    /// (no dot with counter 1, so nothing folds into the empty vector).
    init(compactCloud: [Dot]) {
        versionVector = VersionVector()
        cloud = compactCloud
    }

    public init(versionVector: VersionVector) {
        self.versionVector = versionVector
        cloud = []
    }

    public init<S: Sequence>(dots: S) where S.Element == Dot {
        self.init(versionVector: VersionVector(), cloud: dots)
    }

    /// The context of a single dot (a fresh write that overwrote nothing).
    public init(dot: Dot) {
        self.init()
        insert(dot)
    }

    public var isEmpty: Bool { versionVector.isEmpty && cloud.isEmpty }

    public func contains(_ dot: Dot) -> Bool {
        if versionVector.contains(dot) { return true }
        if cloud.isEmpty { return false }
        return Self.search(cloud, dot).found
    }

    /// The highest counter seen from `replica`, in the vector or the cloud.
    public func maxCounter(for replica: ReplicaID) -> UInt64 {
        var result = versionVector[replica]
        for dot in cloud where dot.replica == replica && dot.counter > result { result = dot.counter }
        return result
    }

    /// A fresh dot for `replica`, recorded in this context.
    public mutating func nextDot(for replica: ReplicaID) -> Dot {
        if cloud.isEmpty {
            // The common case: no gaps, so the next dot extends the vector.
            return Dot(replica, versionVector.increment(replica))
        }
        let dot = Dot(replica, maxCounter(for: replica) + 1)
        insert(dot)
        return dot
    }

    public mutating func insert(_ dot: Dot) {
        let current = versionVector[dot.replica]
        if dot.counter <= current { return }
        if dot.counter == current + 1 {
            versionVector[dot.replica] = dot.counter
            if !cloud.isEmpty { compact() }
            return
        }
        let (found, index) = Self.search(cloud, dot)
        if !found { cloud.insert(dot, at: index) }
    }

    public mutating func formUnion(_ other: CausalContext) {
        versionVector.formUnion(other.versionVector)
        if !other.cloud.isEmpty {
            cloud = cloud.isEmpty ? other.cloud : Self.mergeSorted(cloud, other.cloud)
        }
        if !cloud.isEmpty { compact() }
    }

    public func union(_ other: CausalContext) -> CausalContext {
        var copy = self
        copy.formUnion(other)
        return copy
    }

    /// Folds cloud dots that extend the contiguous prefix into the vector and
    /// drops cloud dots the vector already covers. One pass suffices because
    /// the cloud is sorted by replica, then counter.
    public mutating func compact() {
        guard !cloud.isEmpty else { return }
        var kept: [Dot] = []
        var changed = false
        for dot in cloud {
            let current = versionVector[dot.replica]
            if dot.counter <= current {
                changed = true
            } else if dot.counter == current + 1 {
                versionVector[dot.replica] = dot.counter
                changed = true
            } else {
                kept.append(dot)
            }
        }
        if changed { cloud = kept }
    }

    /// Every dot this context covers (expands the vector; for tests and small contexts).
    public var allDots: [Dot] {
        var result: [Dot] = []
        for entry in versionVector.entries where entry.counter > 0 {
            for counter in 1...entry.counter { result.append(Dot(entry.replica, counter)) }
        }
        result.append(contentsOf: cloud)
        return result.sorted()
    }

    public var description: String {
        cloud.isEmpty ? versionVector.description : "\(versionVector) + \(cloud)"
    }

    static func sortedUnique(_ dots: [Dot]) -> [Dot] {
        if dots.count < 2 { return dots }
        let sorted = dots.sorted()
        var result: [Dot] = [sorted[0]]
        result.reserveCapacity(sorted.count)
        for dot in sorted.dropFirst() where dot != result[result.count - 1] { result.append(dot) }
        return result
    }

    static func mergeSorted(_ a: [Dot], _ b: [Dot]) -> [Dot] {
        var result: [Dot] = []
        result.reserveCapacity(a.count + b.count)
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if j == b.count || (i < a.count && a[i] < b[j]) {
                result.append(a[i]); i += 1
            } else if i == a.count || b[j] < a[i] {
                result.append(b[j]); j += 1
            } else {
                result.append(a[i]); i += 1; j += 1
            }
        }
        return result
    }

    /// Binary search in a sorted cloud.
    static func search(_ cloud: [Dot], _ dot: Dot) -> (found: Bool, index: Int) {
        var low = 0, high = cloud.count
        while low < high {
            let mid = (low + high) / 2
            if cloud[mid] < dot { low = mid + 1 } else { high = mid }
        }
        return (low < cloud.count && cloud[low] == dot, low)
    }
}
