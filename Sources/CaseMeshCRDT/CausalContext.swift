/// The set of dots a state has seen: a version vector for the contiguous
/// prefix plus a "dot cloud" for dots that arrived out of order.
///
/// A dot in the context but absent from the store means "this write was seen
/// and has since been removed or overwritten" — that is how observed-remove
/// works without tombstones. The context compacts itself: cloud dots that
/// extend the vector's prefix are folded into it.
public struct CausalContext: Hashable, Sendable, CustomStringConvertible {
    public private(set) var versionVector: VersionVector
    public private(set) var cloud: Set<Dot>

    public init() {
        versionVector = VersionVector()
        cloud = []
    }

    public init(versionVector: VersionVector, cloud: Set<Dot> = []) {
        self.versionVector = versionVector
        self.cloud = cloud
        compact()
    }

    public init<S: Sequence>(dots: S) where S.Element == Dot {
        self.init()
        for dot in dots { insertWithoutCompacting(dot) }
        compact()
    }

    public var isEmpty: Bool { versionVector.isEmpty && cloud.isEmpty }

    public func contains(_ dot: Dot) -> Bool {
        versionVector.contains(dot) || (!cloud.isEmpty && cloud.contains(dot))
    }

    /// The highest counter seen from `replica`, in the vector or the cloud.
    public func maxCounter(for replica: ReplicaID) -> UInt64 {
        var result = versionVector[replica]
        if !cloud.isEmpty {
            for dot in cloud where dot.replica == replica && dot.counter > result { result = dot.counter }
        }
        return result
    }

    /// A fresh dot for `replica`, recorded in this context.
    public mutating func nextDot(for replica: ReplicaID) -> Dot {
        let dot = Dot(replica, maxCounter(for: replica) + 1)
        insert(dot)
        return dot
    }

    public mutating func insert(_ dot: Dot) {
        insertWithoutCompacting(dot)
        if !cloud.isEmpty { compact() }
    }

    private mutating func insertWithoutCompacting(_ dot: Dot) {
        let current = versionVector[dot.replica]
        if dot.counter <= current { return }
        if dot.counter == current + 1 {
            versionVector[dot.replica] = dot.counter
        } else {
            cloud.insert(dot)
        }
    }

    public mutating func formUnion(_ other: CausalContext) {
        versionVector.formUnion(other.versionVector)
        if !other.cloud.isEmpty {
            cloud.formUnion(other.cloud)
        }
        if !cloud.isEmpty { compact() }
    }

    public func union(_ other: CausalContext) -> CausalContext {
        var copy = self
        copy.formUnion(other)
        return copy
    }

    /// Folds cloud dots that extend the contiguous prefix into the vector and
    /// drops cloud dots the vector already covers.
    public mutating func compact() {
        guard !cloud.isEmpty else { return }
        var changed = true
        var remaining = cloud
        while changed {
            changed = false
            for dot in remaining {
                let current = versionVector[dot.replica]
                if dot.counter <= current {
                    remaining.remove(dot)
                    changed = true
                } else if dot.counter == current + 1 {
                    versionVector[dot.replica] = dot.counter
                    remaining.remove(dot)
                    changed = true
                }
            }
        }
        cloud = remaining
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
        cloud.isEmpty ? versionVector.description : "\(versionVector) + \(cloud.sorted())"
    }
}
