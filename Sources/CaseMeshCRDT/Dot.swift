/// One event of one replica: the `counter`-th event `replica` generated.
/// Dots identify every add and every register write, which is what lets a
/// remove (or overwrite) say exactly which writes it observed.
public struct Dot: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var replica: ReplicaID
    public var counter: UInt64

    public init(_ replica: ReplicaID, _ counter: UInt64) {
        self.replica = replica
        self.counter = counter
    }

    public static func < (lhs: Dot, rhs: Dot) -> Bool {
        if lhs.replica != rhs.replica { return lhs.replica < rhs.replica }
        return lhs.counter < rhs.counter
    }

    public var description: String { "\(replica):\(counter)" }
}
