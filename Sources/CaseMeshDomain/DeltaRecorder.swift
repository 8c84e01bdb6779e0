import CaseMeshCRDT

/// Applies mutations to a case in place while collecting the delta that
/// describes them, so a command yields exactly one delta to persist and ship.
struct DeltaRecorder {
    var state: CaseState
    var delta: CaseState
    let context: CommandContext
    private var eventIndex = 0

    init(state: CaseState, context: CommandContext) {
        self.state = state
        self.context = context
        delta = CaseState(header: state.header)
    }

    private mutating func record(_ part: Causal<CaseStore>) {
        delta.causal.join(part)
    }

    mutating func write(_ field: CaseField, _ value: FieldValue) {
        let write = FieldWrite(value: value, observed: state.causal.context)
        let d = state.causal.store.fields.assign(field, write, time: context.time, replica: context.replica, context: &state.causal.context)
        var store = CaseStore(); store.fields = d.store
        record(Causal(store: store, context: d.context))
    }

    /// Writes an entry of one of the keyed add-wins collections (notes, attendees, steps, approvals).
    mutating func put<Key, Value>(_ path: WritableKeyPath<CaseStore, DotMap<Key, DotFun<Value>>>, _ key: Key, _ value: Value) {
        let d = state.causal.store[keyPath: path].assign(key, value, time: context.time, replica: context.replica, context: &state.causal.context)
        var store = CaseStore(); store[keyPath: path] = d.store
        record(Causal(store: store, context: d.context))
    }

    /// Observed-removes an entry of one of the keyed collections.
    mutating func remove<Key, Value>(_ path: WritableKeyPath<CaseStore, DotMap<Key, DotFun<Value>>>, _ key: Key) {
        let d = state.causal.store[keyPath: path].remove(key)
        var store = CaseStore(); store[keyPath: path] = d.store
        record(Causal(store: store, context: d.context))
    }

    /// Adds to or removes from one of the plain add-wins sets.
    mutating func updateSet<Element>(_ path: WritableKeyPath<CaseStore, DotMap<Element, DotSet>>, add element: Element) {
        let d = state.causal.store[keyPath: path].add(element, replica: context.replica, context: &state.causal.context)
        var store = CaseStore(); store[keyPath: path] = d.store
        record(Causal(store: store, context: d.context))
    }

    mutating func updateSet<Element>(_ path: WritableKeyPath<CaseStore, DotMap<Element, DotSet>>, remove element: Element) {
        let d = state.causal.store[keyPath: path].remove(element)
        var store = CaseStore(); store[keyPath: path] = d.store
        record(Causal(store: store, context: d.context))
    }

    mutating func event(_ event: TimelineEvent) {
        let key = EventKey(time: context.time, replica: context.replica, discriminator: String(eventIndex))
        eventIndex += 1
        state.timeline.insert(event, for: key)
        delta.timeline.insert(event, for: key)
    }
}
