import CaseMeshCRDT
import CaseMeshDomain

/// The input to open a case through the store, which assigns the number.
public struct CaseDraft: Sendable {
    /// Client-chosen id for idempotent retries; the store makes one if nil.
    public var id: CaseID?
    public var title: String
    public var customer: String
    public var product: String
    public var severity: Severity
    public var level: EscalationLevel
    public var fields: [CaseField: FieldValue]

    public init(id: CaseID? = nil, title: String, customer: String, product: String, severity: Severity,
                level: EscalationLevel = .l1, fields: [CaseField: FieldValue] = [:]) {
        self.id = id
        self.title = title
        self.customer = customer
        self.product = product
        self.severity = severity
        self.level = level
        self.fields = fields
    }
}

/// One unit of work for the group committer.
enum WriteJob: Sendable {
    case create(CaseDraft, actor: String)
    case command(CaseID, CaseCommand, actor: String)
    case remote(origin: ReplicaID, counter: UInt64, delta: CaseState)
    /// Full states from a digest catch-up, and the sender's positions they cover.
    case catchUp(states: [CaseState], positions: [ReplicaID: UInt64])
}

/// What the group committer answers for one job.
enum JobOutcome: Sendable {
    case write(WriteOutcome)
    case caughtUp(followUp: LogPosition?)
}

/// A position in the replicated delta log: the `counter`-th delta of `origin`.
public struct LogPosition: Hashable, Sendable, CustomStringConvertible {
    public var origin: ReplicaID
    public var counter: UInt64
    public init(origin: ReplicaID, counter: UInt64) {
        self.origin = origin
        self.counter = counter
    }
    public var description: String { "\(origin):\(counter)" }
}

/// What an acknowledged write did. Returned only after the commit is durable.
public struct WriteOutcome: Sendable {
    /// The case after the write.
    public var state: CaseState
    /// The delta written to the log (nil when nothing changed, e.g. an
    /// idempotent create retry or a duplicate remote delta).
    public var delta: CaseState?
    /// Where the delta sits in the log; for causal tokens and replication.
    public var position: LogPosition?
    /// A conflict follow-up produced by a remote merge, logged as our own delta.
    public var followUpPosition: LogPosition?
    /// False when a create found the id already present (an idempotent retry).
    public var created: Bool
}
