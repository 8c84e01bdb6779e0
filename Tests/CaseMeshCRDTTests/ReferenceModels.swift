// Replay a failure with the `.fixedSeed(...)` trait PropertyBased prints; see Generators.swift.

@testable import CaseMeshCRDT

/// The observed-remove semantics of add-wins sets, OR-maps and multi-value
/// registers, computed from a run's event history alone — no dots, no causal
/// contexts, nothing shared with the implementation.
///
/// Every write or remove "covers" the writes of the same key that were live at
/// its issuer when it was issued (a remove deletes what it saw; a new write
/// replaces what it saw). A write is live in a view (a set of known events) if
/// no known event covers it. A key is present iff it has a live write; its
/// value is the live write with the highest (HLC, replica-id bytes) stamp and
/// the other live writes are the visible losers, highest first.
struct ObservedRemoveModel {
    let events: [Event]
    private var covers: [Set<Int>] = []

    init(_ events: [Event]) {
        self.events = events
        for event in events {
            covers.append(Set(liveWrites(key: event.modelKey, in: event.seenBefore)))
        }
    }

    /// Indices of the live writes of `key` among the events in `view`.
    func liveWrites(key: Int, in view: Set<Int>) -> [Int] {
        view.filter { i in
            events[i].isWrite && events[i].modelKey == key && !view.contains { covers[$0].contains(i) }
        }.sorted()
    }

    func presentKeys(in view: Set<Int>) -> Set<Int> {
        Set(view.map { events[$0].modelKey }.filter { !liveWrites(key: $0, in: view).isEmpty })
    }

    /// The winning write and the losers, highest stamp first.
    func register(key: Int, in view: Set<Int>) -> (winner: Event, losers: [Event])? {
        let live = liveWrites(key: key, in: view).map { events[$0] }
            .sorted { stampPrecedes(($1.time, $1.replica), ($0.time, $0.replica)) }
        guard let winner = live.first else { return nil }
        return (winner, Array(live.dropFirst()))
    }
}

/// What a grow-only map should hold: every key inserted in the view, with the
/// documented tie rule for conflicting values (smaller canonical encoding wins).
func growOnlyModel<V: TestKey>(_ events: [Event], in view: Set<Int>, _: V.Type) -> [Int: V] {
    var result: [Int: V] = [:]
    for i in view {
        let candidate = V.make(events[i].value)
        if let existing = result[events[i].modelKey],
           !candidate.canonicalBytes.lexicographicallyPrecedes(existing.canonicalBytes) {
            continue
        }
        result[events[i].modelKey] = candidate
    }
    return result
}
