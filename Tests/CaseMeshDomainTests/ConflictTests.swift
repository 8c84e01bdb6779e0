import PropertyBased
import Testing
import CaseMeshCRDT
@testable import CaseMeshDomain

/// Concurrent writes from two regions: the LWW winner is the same
/// everywhere, and the losing value stays visible as one `conflict` event.
@Suite struct ConflictTests {
    /// emea and amer, both holding the freshly created case.
    func twoReplicas() throws -> (emea: ReplicaCase, amer: ReplicaCase) {
        let emea = try ReplicaCase()
        return (emea, ReplicaCase(receiving: emea.deltas[0], as: .amer, clock: base))
    }

    /// Whichever replica writes later wins, on both replicas and whichever
    /// of them merges first; each gets exactly one conflict event naming the
    /// losing value (from) and the winner (to); after exchanging the
    /// follow-up deltas the two states and digests are equal.
    @Test(arguments: [(true, true), (true, false), (false, true), (false, false)])
    func concurrentWritesConvergeToTheLaterStamp(emeaWritesLater: Bool, emeaMergesFirst: Bool) throws {
        var (emea, amer) = try twoReplicas()
        let early = base + 10 * minute, late = base + 20 * minute
        let fromEmea = try emea.set([.owner: .text("Erin")], at: emeaWritesLater ? late : early)
        let fromAmer = try amer.set([.owner: .text("Ahmed")], at: emeaWritesLater ? early : late)
        let (winner, loser, loserReplica) = emeaWritesLater ? ("Erin", "Ahmed", "amer") : ("Ahmed", "Erin", "emea")

        let followUpAtEmea: CaseState?, followUpAtAmer: CaseState?
        if emeaMergesFirst {
            followUpAtEmea = emea.state.merge(fromAmer)
            followUpAtAmer = amer.state.merge(fromEmea)
        } else {
            followUpAtAmer = amer.state.merge(fromEmea)
            followUpAtEmea = emea.state.merge(fromAmer)
        }

        for replica in [emea, amer] {
            #expect(replica.state.owner == winner)
            #expect(replica.state.conflictEvents.count == 1)
            let conflict = try #require(replica.state.conflictEvents.first)
            #expect(conflict.field == "owner")
            #expect(conflict.from == loser)
            #expect(conflict.to == winner)
            #expect(conflict.ref == loserReplica)
            #expect(conflict.reason?.contains("\(loserReplica)'s value") == true)
            #expect(replica.state.unresolvedConflicts[.owner]?.map(\.value) == [.text(loser)])
        }
        // Both detected the conflict, so both have a follow-up carrying the same event.
        let atEmea = try #require(followUpAtEmea)
        let atAmer = try #require(followUpAtAmer)
        #expect(atEmea.timeline == atAmer.timeline)
        #expect(atEmea.causal.store.isBottom)

        #expect(emea.state.merge(atAmer) == nil)
        #expect(amer.state.merge(atEmea) == nil)
        #expect(emea.state == amer.state)
        #expect(emea.state.digest == amer.state.digest)
        #expect(emea.state.conflictEvents.count == 1)
    }

    /// A third replica receiving both writes, in either order, picks the same
    /// winner and records the very same conflict event.
    @Test(arguments: [true, false])
    func thirdReplicaReceivingBothInEitherOrder(amerFirst: Bool) throws {
        var (emea, amer) = try twoReplicas()
        let fromEmea = try emea.set([.severity: .text("sev2")], at: base + 10 * minute)
        let fromAmer = try amer.set([.severity: .text("sev1")], at: base + 20 * minute)
        var apac = ReplicaCase(receiving: emea.deltas[0], as: .apac, clock: base)
        var followUps: [CaseState] = []
        for delta in amerFirst ? [fromAmer, fromEmea] : [fromEmea, fromAmer] {
            if let followUp = apac.state.merge(delta) { followUps.append(followUp) }
        }
        #expect(followUps.count == 1)
        #expect(apac.state.severity == .sev1)
        let conflict = try #require(apac.state.conflictEvents.first)
        #expect(apac.state.conflictEvents.count == 1)
        #expect(conflict.from == "sev2")
        #expect(conflict.to == "sev1")

        let emeaMerge = emea.state.merge(fromAmer)
        let emeaFollowUp = try #require(emeaMerge)
        amer.state.merge(fromEmea)
        emea.state.merge(followUps[0])
        amer.state.merge(followUps[0])
        apac.state.merge(emeaFollowUp)
        #expect(emea.state == apac.state)
        #expect(amer.state == apac.state)
        #expect(amer.state.digest == apac.state.digest)
    }

    /// With equal hybrid timestamps the higher replica id wins ("emea" > "amer"
    /// in byte order), identically on both replicas.
    @Test func equalTimestampsAreBrokenByReplicaID() throws {
        var (emea, amer) = try twoReplicas()
        let at = base + 10 * minute
        let fromEmea = try emea.set([.owner: .text("Erin")], at: at)
        let fromAmer = try amer.set([.owner: .text("Ahmed")], at: at)
        let followUpA = amer.state.merge(fromEmea)
        let followUpE = emea.state.merge(fromAmer)
        #expect(emea.state.owner == "Erin")
        #expect(amer.state.owner == "Erin")
        #expect(emea.state.conflictEvents.map(\.from) == ["Ahmed"])
        #expect(amer.state.conflictEvents == emea.state.conflictEvents)
        emea.state.merge(try #require(followUpA))
        amer.state.merge(try #require(followUpE))
        #expect(emea.state.digest == amer.state.digest)
    }

    /// The logical part of the HLC orders writes within one millisecond,
    /// before the replica id is consulted.
    @Test func logicalCounterOrdersWritesInTheSameMillisecond() throws {
        var (emea, amer) = try twoReplicas()
        let at = base + 10 * minute
        let fromEmea = try emea.run(.setFields([.owner: .text("Erin")]), at: at, logical: 0)
        let fromAmer = try amer.run(.setFields([.owner: .text("Ahmed")]), at: at, logical: 1)
        emea.state.merge(fromAmer)
        amer.state.merge(fromEmea)
        #expect(emea.state.owner == "Ahmed")
        #expect(amer.state.owner == "Ahmed")
        #expect(emea.state.conflictEvents.first?.from == "Erin")
    }

    /// A replica that only ever sees the later overwrite (which observed both
    /// writes) still learns about the conflict through the follow-up delta.
    @Test func thirdReplicaLearnsTheConflictFromTheFollowUp() throws {
        var (emea, amer) = try twoReplicas()
        let fromEmea = try emea.set([.owner: .text("Erin")], at: base + 10 * minute)
        let fromAmer = try amer.set([.owner: .text("Ahmed")], at: base + 20 * minute)
        let merged = emea.state.merge(fromAmer)
        let followUp = try #require(merged)
        let overwrite = try emea.set([.owner: .text("Erin Engineer")], at: base + 30 * minute)

        var apac = ReplicaCase(receiving: emea.deltas[0], as: .apac, clock: base)
        #expect(apac.state.merge(overwrite) == nil)
        #expect(apac.state.owner == "Erin Engineer")
        #expect(apac.state.conflictEvents.isEmpty)

        #expect(apac.state.merge(followUp) == nil)
        #expect(apac.state.conflictEvents.count == 1)
        #expect(apac.state.conflictEvents == emea.state.conflictEvents)
        #expect(apac.state.conflictEvents.first?.from == "Erin")
        #expect(apac.state.conflictEvents.first?.to == "Ahmed")

        // The original writes arriving late change neither the value nor the conflicts.
        apac.state.merge(fromEmea)
        apac.state.merge(fromAmer)
        #expect(apac.state.owner == "Erin Engineer")
        #expect(apac.state.unresolvedConflicts.isEmpty)
        #expect(apac.state.conflictEvents.count == 1)
    }

    /// A later write that observed both sides settles the conflict (even when
    /// it writes the winning value again); the conflict event stays as history.
    @Test(arguments: ["Ahmed", "Someone else"])
    func laterWriteClearsUnresolvedConflictButKeepsTheEvent(value: String) throws {
        var (emea, amer) = try twoReplicas()
        let fromEmea = try emea.set([.owner: .text("Erin")], at: base + 10 * minute)
        let fromAmer = try amer.set([.owner: .text("Ahmed")], at: base + 20 * minute)
        emea.state.merge(fromAmer)
        amer.state.merge(fromEmea)
        #expect(emea.state.unresolvedConflicts.keys.sorted() == [.owner])

        let settle = try emea.set([.owner: .text(value)], at: base + 30 * minute)
        #expect(settle.causal.store.fields[.owner]?.entries.count == 1)
        #expect(emea.state.unresolvedConflicts.isEmpty)
        #expect(emea.state.conflictEvents.count == 1)
        #expect(emea.state.owner == value)

        amer.state.merge(settle)
        #expect(amer.state.unresolvedConflicts.isEmpty)
        #expect(amer.state.conflictEvents.count == 1)
        #expect(amer.state.owner == value)
    }

    /// Non-conflicting concurrent writes to different fields merge without conflict events.
    @Test func differentFieldsDoNotConflict() throws {
        var (emea, amer) = try twoReplicas()
        let fromEmea = try emea.set([.owner: .text("Erin")], at: base + 10 * minute)
        let fromAmer = try amer.set([.rootCause: .text("Config")], at: base + 20 * minute)
        #expect(emea.state.merge(fromAmer) == nil)
        #expect(amer.state.merge(fromEmea) == nil)
        #expect(emea.state == amer.state)
        #expect(emea.state.owner == "Erin")
        #expect(emea.state.text(.rootCause) == "Config")
        #expect(emea.state.conflictEvents.isEmpty)
    }

    /// Add wins: a note removed on one replica while the other removed and
    /// re-added it (a new add the remover never saw) survives the merge.
    @Test func concurrentNoteAddWinsOverRemove() throws {
        var (emea, amer) = try twoReplicas()
        let added = try emea.run(.addNote(id: noteID("n1"), text: "Callback at 3pm", visibility: .customer))
        amer.state.merge(added)
        let removedAtAmer = try amer.run(.removeNote(noteID("n1")))
        let removedAtEmea = try emea.run(.removeNote(noteID("n1")))
        let readdedAtEmea = try emea.run(.addNote(id: noteID("n1"), text: "Callback at 4pm", visibility: .customer))
        for delta in [removedAtEmea, readdedAtEmea] { amer.state.merge(delta) }
        emea.state.merge(removedAtAmer)
        for replica in [emea, amer] {
            #expect(replica.state.notes.map(\.text) == ["Callback at 4pm"])
        }
        #expect(emea.state == amer.state)
    }

    /// A removal takes away only what the remover saw: a concurrent update of
    /// that attendee, and an attendee added concurrently, both survive.
    @Test func concurrentAttendeeRemovalKeepsWhatTheRemoverDidNotSee() throws {
        var (emea, amer) = try twoReplicas()
        for attendee in ["att-1", "att-3"] {
            let put = try emea.run(.putAttendee(id: attendeeID(attendee), name: "Cara", email: "cara@acme.example", role: "IT"))
            amer.state.merge(put)
        }
        let updated = try emea.run(.putAttendee(id: attendeeID("att-1"), name: "Cara", email: "cara@acme.example", role: "CTO"))
        let added = try emea.run(.putAttendee(id: attendeeID("att-2"), name: "Dev", email: "dev@acme.example", role: "Ops"))
        let removed1 = try amer.run(.removeAttendee(attendeeID("att-1")))
        let removed3 = try amer.run(.removeAttendee(attendeeID("att-3")))
        for delta in [updated, added] { amer.state.merge(delta) }
        for delta in [removed3, removed1] { emea.state.merge(delta) }
        for replica in [emea, amer] {
            #expect(replica.state.attendees.map(\.id) == [attendeeID("att-1"), attendeeID("att-2")])
            #expect(replica.state.attendees.first?.role == "CTO")
        }
        #expect(emea.state == amer.state)
    }

    /// Tags are add-wins too: a concurrent re-add survives a remove.
    @Test func concurrentTagAddWinsOverRemove() throws {
        var (emea, amer) = try twoReplicas()
        amer.state.merge(try emea.run(.addTag("vip")))
        let removed = try amer.run(.removeTag("vip"))
        let readded = try emea.run(.addTag("vip"))
        amer.state.merge(readded)
        emea.state.merge(removed)
        #expect(emea.state.tags == ["vip"])
        #expect(amer.state.tags == ["vip"])
        #expect(emea.state == amer.state)
    }

    /// Deltas may arrive out of order (DESIGN §3). Two sequential writes of
    /// one replica are never concurrent, so a replica that receives them out
    /// of order must not record a conflict: here the second title change
    /// arrives first, then the create delta, then the first change. The
    /// register briefly holds the create's title next to the last one (the
    /// delta that overwrote the create's title has not arrived yet), and that
    /// transient state must not be reported as a conflict.
    @Test func outOfOrderSequentialWritesAreNotAConflict() throws {
        var emea = try ReplicaCase()
        let first = try emea.set([.title: .text("Payments slow")])
        let second = try emea.set([.title: .text("Payments down")])
        var apac = CaseState(header: emea.state.header)
        var followUps: [CaseState] = []
        for delta in [second, emea.deltas[0], first] {
            if let followUp = apac.merge(delta) { followUps.append(followUp) }
        }
        #expect(apac.title == "Payments down")
        #expect(apac.conflictEvents.isEmpty)
        #expect(followUps.isEmpty)
        #expect(apac == emea.state)
        #expect(apac.digest == emea.state.digest)
    }

    /// The same across replicas: emea sets A, amer (having seen A) sets B,
    /// emea (having seen B) sets C — a causal chain, no concurrency. apac
    /// receives the create, then C, then A, then B, and must show no conflict.
    @Test func outOfOrderCausalChainAcrossReplicasIsNotAConflict() throws {
        var (emea, amer) = try twoReplicas()
        let a = try emea.set([.owner: .text("A")], at: base + 10 * minute)
        amer.state.merge(a)
        let b = try amer.set([.owner: .text("B")], at: base + 20 * minute)
        emea.state.merge(b)
        let c = try emea.set([.owner: .text("C")], at: base + 30 * minute)
        #expect(emea.state.conflictEvents.isEmpty)

        var apac = ReplicaCase(receiving: emea.deltas[0], as: .apac, clock: base)
        for delta in [c, a, b] { apac.state.merge(delta) }
        #expect(apac.state.owner == "C")
        #expect(apac.state.conflictEvents.isEmpty)
        amer.state.merge(c)
        #expect(apac.state == amer.state)
    }

    /// Property form of the above: one replica's deltas merged in any order,
    /// with duplicates, give exactly the origin's state — no invented conflicts.
    @Test func mergingOneReplicasDeltasInAnyOrderRebuildsTheState() async {
        await propertyCheck(count: 500, input: commandSeedGen.array(of: 0...25), Gen.uint64(in: .min ... .max), Gen.bool) { seeds, shuffleSeed, vendorReady in
            var origin = try ReplicaCase.randomStart(vendorReady: vendorReady)
            for seed in seeds { origin.attempt(seed) }
            var rng = SplitMix64(seed: shuffleSeed)
            var received = CaseState(header: origin.deltas[0].header)
            for delta in (origin.deltas + origin.deltas.prefix(3)).shuffled(using: &rng) { received.merge(delta) }
            #expect(received.conflictEvents.isEmpty)
            #expect(received.digest == origin.state.digest)
        }
    }

    /// Random concurrent command sequences on two replicas, exchanged as
    /// deltas in random order plus the conflict follow-ups, converge to equal
    /// states and digests, and every value still losing a conflict is shown
    /// by a conflict event.
    @Test func randomConcurrentCommandsConverge() async {
        await propertyCheck(
            count: 500, input: commandSeedGen.array(of: 0...20), commandSeedGen.array(of: 0...20),
            Gen.int64(in: -30...30), zip(Gen.uint64(in: .min ... .max), Gen.bool)
        ) { emeaSeeds, amerSeeds, skewMinutes, options in
            var rng = SplitMix64(seed: options.0)
            var emea = try ReplicaCase.randomStart(vendorReady: options.1)
            var amer = ReplicaCase(receiving: emea.deltas[0], as: .amer, clock: base + skewMinutes * minute)
            var shippedFromEmea = 1, shippedFromAmer = 0
            func exchange() {
                var followUps: [CaseState] = []
                for delta in emea.deltas[shippedFromEmea...].shuffled(using: &rng) {
                    if let followUp = amer.state.merge(delta) { followUps.append(followUp) }
                }
                for delta in amer.deltas[shippedFromAmer...].shuffled(using: &rng) {
                    if let followUp = emea.state.merge(delta) { followUps.append(followUp) }
                }
                for followUp in followUps {
                    emea.state.merge(followUp)
                    amer.state.merge(followUp)
                }
                shippedFromEmea = emea.deltas.count
                shippedFromAmer = amer.deltas.count
            }
            // Two rounds: concurrent work, sync, more concurrent work, sync.
            let half = (emeaSeeds.count / 2, amerSeeds.count / 2)
            for seed in emeaSeeds[..<half.0] { emea.attempt(seed) }
            for seed in amerSeeds[..<half.1] { amer.attempt(seed) }
            exchange()
            #expect(emea.state == amer.state)
            for seed in emeaSeeds[half.0...] { emea.attempt(seed) }
            for seed in amerSeeds[half.1...] { amer.attempt(seed) }
            exchange()
            #expect(emea.state == amer.state)
            #expect(emea.state.digest == amer.state.digest)

            let conflicts = emea.state.conflictEvents
            for (field, losers) in emea.state.unresolvedConflicts {
                for loser in losers {
                    #expect(conflicts.contains { $0.field == field.rawValue && $0.from == loser.value.description
                        && $0.ref == loser.stamp.replica.rawValue }, "no conflict event for \(field) = \(loser.value)")
                }
            }
        }
    }
}
