import PropertyBased
import Testing
import CaseMeshCRDT
@testable import CaseMeshDomain

/// Cases are persisted and shipped in the binary encoding: it must round
/// trip, and hostile or damaged bytes must end in a CodecError, not a crash.
@Suite struct CodecTests {
    /// A case exercising every part of the state: fields of every kind,
    /// notes, attendees, steps, approvals, tags, links, articles, a conflict.
    func richCase() throws -> CaseState {
        var c = try caseReadyForVendor()
        try c.set([.owner: .text("Erin"), .communicationMode: .text("phone"), .communicationFrequencyMinutes: .number(60),
                   .actionPlanAccepted: .flag(true), .owningRegion: .text("AMER")])
        try c.run(.addNote(id: noteID("n1"), text: "Grüße — 問題 🚑", visibility: .customer))
        try c.run(.putAttendee(id: attendeeID("att-1"), name: "Cara", email: "cara@acme.example", role: "IT"))
        try c.run(.addTag("vip"))
        try c.run(.linkCase(caseID("case-2")))
        try c.run(.addArticle("KB-1"))
        try c.run(.escalate(level: .l3Vendor, reason: "Vendor bug", approvedBy: "Tina Lead"))
        var amer = ReplicaCase(receiving: c.deltas[0], as: .amer, clock: base)
        let concurrent = try amer.set([.owner: .text("Ahmed")])
        c.state.merge(concurrent)
        #expect(!c.state.unresolvedConflicts.isEmpty)
        return c.state
    }

    /// Both encodings of a case with every kind of content decode to the same case, digest included.
    @Test func roundTripOfARichCase() throws {
        let state = try richCase()
        #expect(try CaseState(decoding: state.encodedBytes) == state)
        #expect(try CaseState(decoding: state.canonicalBytes) == state)
        #expect(try CaseState(decoding: state.encodedBytes).canonicalBytes == state.canonicalBytes)
        #expect(try CaseState(decoding: state.encodedBytes).digest == state.digest)
    }

    /// Any state reached by random commands round-trips through both encodings.
    @Test func roundTripOfRandomCases() async {
        await propertyCheck(count: 500, input: commandSeedGen.array(of: 0...30), Gen.bool) { seeds, vendorReady in
            var origin = try ReplicaCase.randomStart(vendorReady: vendorReady)
            for seed in seeds { origin.attempt(seed) }
            for bytes in [origin.state.encodedBytes, origin.state.canonicalBytes] {
                let decoded = try CaseState(decoding: bytes)
                #expect(decoded == origin.state)
                #expect(decoded.canonicalBytes == origin.state.canonicalBytes)
            }
            let delta = origin.deltas.last!
            #expect(try CaseState(decoding: delta.encodedBytes) == delta)
        }
    }

    /// Every strict prefix of a valid encoding is refused.
    /// A timeline event key from a peer must be ASCII: two Unicode
    /// spellings of one character (é, e + accent) are equal as strings but
    /// would sort as two keys, and the canonical encoding (NFC) would then
    /// write one key twice, leaving a case no replica can read. Keys the
    /// replicas make (an event's index, a conflict's field and dot) are ASCII.
    @Test(arguments: [["e\u{301}"], ["\u{E9}"], ["e\u{301}", "\u{E9}"], ["\u{E9}", "e\u{301}"]])
    func nonASCIIEventKeysAreRefused(discriminators: [String]) throws {
        var state = try richCase()
        for key in state.timeline.entries.map(\.key) { #expect(key.discriminator.utf8.allSatisfy { $0 < 0x80 }, "\(key)") }
        for discriminator in discriminators {
            let key = EventKey(time: state.updatedAt, replica: ReplicaID("emea"), discriminator: discriminator)
            state.timeline.insert(TimelineEvent(kind: .tagAdded, actor: "Mallory", to: "x"), for: key)
        }
        for bytes in [state.encodedBytes, state.canonicalBytes] {
            #expect(throws: CodecError.self) { try CaseState(decoding: bytes) }
        }
    }

    @Test func truncatedBytesThrow() throws {
        let bytes = try richCase().encodedBytes
        for length in 0..<bytes.count {
            #expect(throws: CodecError.self, "prefix of \(length) bytes") { try CaseState(decoding: Array(bytes[..<length])) }
        }
    }

    /// Extra bytes after a complete case mean a framing error and are refused.
    @Test func trailingBytesThrow() throws {
        let bytes = try richCase().encodedBytes
        #expect(throws: CodecError.trailingBytes(1)) { try CaseState(decoding: bytes + [0]) }
    }

    /// A later layout must not be misread as this one.
    @Test func unknownFormatVersionThrows() throws {
        var bytes = try richCase().encodedBytes
        // The version is the first byte of the body, after the replica table.
        let versionOffset = try ByteReader(bytes).position
        bytes[versionOffset] = 2
        #expect(throws: CodecError.invalidValue("case state format version 2")) { try CaseState(decoding: bytes) }
    }

    /// Random bytes after a valid version byte are refused.
    @Test func garbageThrows() async {
        await propertyCheck(count: 1000, input: Gen<UInt8>.value(in: 0...255).array(of: 0...200)) { garbage in
            #expect(throws: CodecError.self) { try CaseState(decoding: [1] + garbage) }
        }
    }

    /// Damaging a valid encoding (changing bytes) either throws or decodes to
    /// a state that itself round-trips; it never traps.
    @Test func damagedBytesNeverCrash() async throws {
        let bytes = try richCase().encodedBytes
        await propertyCheck(count: 1000, input: zip(Gen.int(in: 0...(bytes.count - 1)), Gen<UInt8>.value(in: 0...255)).array(of: 1...4)) { damage in
            var damaged = bytes
            for (position, value) in damage { damaged[position] = value }
            if let decoded = try? CaseState(decoding: damaged) {
                let again = try? CaseState(decoding: decoded.encodedBytes)
                #expect(again == decoded)
            }
        }
    }
}
