// Replay a failure with the `.fixedSeed(...)` trait PropertyBased prints; see Generators.swift.

import PropertyBased
import Testing
@testable import CaseMeshCRDT

/// Decodes without trapping, as a `Result`.
func decode<T: BinaryDecodable>(_: T.Type, _ bytes: [UInt8]) -> Result<T, CodecError> {
    Result { () throws(CodecError) -> T in try T(decoding: bytes) }
}

/// Both encodings decode back to the value and re-encode to the same
/// canonical bytes. With `damage`, also: strict prefixes are rejected (a
/// parse reads the same bytes, so it must run out), and so is one byte too many.
func roundTripProblems<T: BinaryCodable & Equatable>(_ value: T, _ name: String, damage: Bool = true) -> [String] {
    var problems: [String] = []
    let canonical = value.canonicalBytes
    for (mode, bytes) in [("encodedBytes", value.encodedBytes), ("canonicalBytes", canonical)] {
        switch decode(T.self, bytes) {
        case let .success(decoded):
            if decoded != value { problems.append("\(name) via \(mode): decoded \(decoded), encoded \(value)") }
            if decoded.canonicalBytes != canonical { problems.append("\(name) via \(mode): re-encodes to other canonical bytes") }
        case let .failure(error):
            problems.append("\(name) via \(mode): \(bytes) failed to decode: \(error)")
        }
        guard damage else { continue }
        let trailing = decode(T.self, bytes + [0])
        if trailing != .failure(.trailingBytes(1)) {
            problems.append("\(name) via \(mode): a trailing byte gave \(trailing)")
        }
    }
    guard damage else { return problems }
    let cuts = canonical.count <= 12 ? Array(0..<canonical.count) : (0..<12).map { $0 * canonical.count / 12 } + [canonical.count - 1]
    for cut in cuts {
        if case let .success(decoded) = decode(T.self, Array(canonical[..<cut])) {
            problems.append("\(name): the \(cut)-byte prefix of \(canonical) decoded to \(decoded)")
        }
    }
    return problems
}

/// Round-trips every replica state and some deltas of a run, and the
/// converged state with its context and vector also through prefixes and a
/// trailing byte.
func roundTripRun<State: SimulatedCRDT>(_: State.Type, _ scenario: Scenario) -> [String] {
    let run = ClusterRun<State>(scenario)
    var rng = SplitMix64(seed: scenario.seed)
    let name = String(describing: State.self)
    var problems: [String] = []
    for (i, state) in (run.states + run.deltas.shuffled(using: &rng).prefix(3)).enumerated() {
        problems += roundTripProblems(state, "\(name) #\(i)", damage: false)
    }
    let converged = run.converged
    problems += roundTripProblems(converged, "converged \(name)")
    if let context = converged.causalContext {
        problems += roundTripProblems(context, "context of converged \(name)")
        problems += roundTripProblems(context.versionVector, "vector of converged \(name)")
    }
    return problems
}

/// The wire and storage format: whatever a replica encodes, every replica must
/// decode to the same value; canonical bytes (what digests hash) must depend
/// only on the value; and bytes from a disk or a peer, however damaged, must
/// be rejected with a `CodecError`, never trap.
@Suite struct CodecTests {
    @Test func setAndMapStatesRoundTrip() async {
        await propertyCheck(count: 1000, input: Gens.scenario()) { scenario in
            let problems = roundTripRun(AWORSet<Int>.self, scenario) + roundTripRun(AWORSet<String>.self, scenario)
                + roundTripRun(ORMap<String, String>.self, scenario) + roundTripRun(ORMap<Int, Int>.self, scenario)
            #expect(problems.isEmpty, "\(problems.prefix(3))")
        }
    }

    @Test func registerAndGrowOnlyMapStatesRoundTrip() async {
        await propertyCheck(count: 1000, input: Gens.scenario()) { scenario in
            let problems = roundTripRun(LWWRegister<Int>.self, scenario) + roundTripRun(LWWRegister<String>.self, scenario)
                + roundTripRun(GrowOnlyMap<String, Int>.self, scenario) + roundTripRun(GrowOnlyMap<Int, String>.self, scenario)
            #expect(problems.isEmpty, "\(problems.prefix(3))")
        }
    }

    /// Scalars, text and the small value types round-trip; an array of
    /// integers has nothing unordered, so its two encodings coincide.
    @Test func primitivesRoundTrip() async {
        await propertyCheck(
            count: 1000,
            input: zip(Gen.uint64(in: .min ... .max), Gen.int64(in: .min ... .max), Gen<UInt32>.value(in: .min ... .max), Gen.bool),
            zip(unicodeStringGen, unicodeStringGen.optional, Gen.int(in: .min ... .max).array(of: 0...5)),
            zip(replicaIDGen, Gen.uint64(in: 1 ... UInt64(Int64.max)))
        ) { scalars, texts, ids in
            let (u64, i64, u32, bool) = scalars
            let (text, optional, ints) = texts
            let (replica, counter) = ids
            let time = HLCTimestamp(wallMillis: u64, logical: u32)
            var problems = roundTripProblems(u64, "UInt64") + roundTripProblems(i64, "Int64") + roundTripProblems(Int(i64), "Int")
                + roundTripProblems(u32, "UInt32") + roundTripProblems(bool, "Bool") + roundTripProblems(text, "String")
                + roundTripProblems(optional, "String?") + roundTripProblems(ints, "[Int]") + roundTripProblems(time, "HLCTimestamp")
                + roundTripProblems(LWWStamp(time: time, replica: replica), "LWWStamp") + roundTripProblems(Dot(replica, counter), "Dot")
                + roundTripProblems(DotSet([Dot(replica, counter)]), "DotSet")
            if ints.encodedBytes != ints.canonicalBytes { problems.append("[Int]: encodings differ") }
            #expect(problems.isEmpty, "\(problems.prefix(3))")
        }
    }

    /// Known answers from the formats the codec documents (LEB128 varints,
    /// zig-zag signed integers, length-prefixed UTF-8), as in the Protocol
    /// Buffers encoding guide — so another implementation can interoperate.
    /// Values are compared as the body of a document; whatever framing a
    /// document without replica ids has is taken from the encoding of 0.
    @Test func knownEncodings() {
        let framing = Array(UInt64(0).encodedBytes.dropLast())
        func document(_ body: [UInt8]) -> [UInt8] { framing + body }
        #expect(UInt64(0).encodedBytes.last == 0x00)
        #expect(UInt64(1).encodedBytes == document([0x01]))
        #expect(UInt64(127).encodedBytes == document([0x7F]))
        #expect(UInt64(128).encodedBytes == document([0x80, 0x01]))
        #expect(UInt64(300).encodedBytes == document([0xAC, 0x02]))
        #expect(UInt64.max.encodedBytes == document([UInt8](repeating: 0xFF, count: 9) + [0x01]))
        #expect(Int64(0).encodedBytes == document([0x00]))
        #expect(Int64(-1).encodedBytes == document([0x01]))
        #expect(Int64(1).encodedBytes == document([0x02]))
        #expect(Int64(-2).encodedBytes == document([0x03]))
        #expect(Int64(2_147_483_647).encodedBytes == document([0xFE, 0xFF, 0xFF, 0xFF, 0x0F]))
        #expect(Int64(-2_147_483_648).encodedBytes == document([0xFF, 0xFF, 0xFF, 0xFF, 0x0F]))
        #expect(Int64.min.encodedBytes == document([UInt8](repeating: 0xFF, count: 9) + [0x01]))
        #expect("\u{E9}t\u{E9}".encodedBytes == document([0x05, 0xC3, 0xA9, 0x74, 0xC3, 0xA9]))
        #expect(Int?.none.encodedBytes == document([0x00]))
        #expect(Int?.some(-3).encodedBytes == document([0x01, 0x05]))
        #expect(decode(UInt64.self, document([0x80, 0x00])) == .failure(.malformedVarint), "non-minimal zero")
        #expect(decode(UInt64.self, document([UInt8](repeating: 0xFF, count: 9) + [0x02])) == .failure(.malformedVarint), "2^64")
        #expect(decode(UInt64.self, document([UInt8](repeating: 0x80, count: 10) + [0x01])) == .failure(.malformedVarint), "11 bytes")
        #expect((try? decode(UInt32.self, document([0x80, 0x80, 0x80, 0x80, 0x10])).get()) == nil, "2^32 is no UInt32")
        #expect((try? decode(UInt32.self, document([0xFF, 0xFF, 0xFF, 0xFF, 0x0F])).get()) == UInt32.max)
        #expect((try? decode(ReplicaID.self, ReplicaID("node-7").encodedBytes).get()) == ReplicaID("node-7"))
        #expect((try? decode(ReplicaID.self, ReplicaID("Node").encodedBytes).get()) == nil, "upper-case replica ids are rejected")
        #expect((try? decode(ReplicaID.self, ReplicaID("").encodedBytes).get()) == nil, "empty replica ids are rejected")
    }

    /// One value, one encoding: padding a varint with a redundant zero group
    /// (which a naive decoder would accept) is rejected, so no two byte
    /// strings decode to the same canonical value.
    @Test func nonMinimalVarintsAreRejected() async {
        await propertyCheck(count: 1000, input: Gen.uint64(in: .min ... .max), Gen.int(in: 1...3)) { value, padding in
            var bytes = value.encodedBytes
            for _ in 0..<padding {
                bytes[bytes.count - 1] |= 0x80
                bytes.append(0x00)
            }
            #expect(decode(UInt64.self, bytes) == .failure(.malformedVarint), "\(bytes)")
        }
    }

    /// Runs of varints of every length, read with and without 8 bytes left
    /// after each (the one-load path and the byte-by-byte path), give back
    /// the values; a redundant zero group is refused on both paths.
    @Test func varintRunsReadBackOnBothPaths() async {
        // Values of 1 to 64 significant bits, so every encoded length occurs.
        let value = zip(Gen.uint64(in: .min ... .max), Gen.int(in: 0...63)).map { (raw: UInt64, shift: Int) -> UInt64 in
            raw >> UInt64(shift)
        }
        await propertyCheck(count: 1000, input: value.array(of: 1...12), Gen.int(in: 0...9)) { (values: [UInt64], padding: Int) in
            var writer = ByteWriter()
            for value in values { writer.write(varint: value) }
            let body = writer.finish()
            let bytes = body + [UInt8](repeating: 0, count: padding)
            let read = Result { () throws(CodecError) -> [UInt64] in
                var reader = try ByteReader(bytes)
                return try values.map { _ throws(CodecError) in try reader.readVarint() }
            }
            #expect((try? read.get()) == values, "\(bytes)")

            // The last value padded with a zero group, then `padding` bytes.
            var padded = body
            padded[padded.count - 1] |= 0x80
            padded.append(0x00)
            padded += [UInt8](repeating: 0x01, count: padding)
            let refused = Result { () throws(CodecError) -> [UInt64] in
                var reader = try ByteReader(padded)
                return try values.map { _ throws(CodecError) in try reader.readVarint() }
            }
            #expect(refused.failure == .malformedVarint, "\(padded)")
        }
    }

    /// Equal states reached through different delivery orders have equal
    /// canonical bytes, though their hash tables iterate differently.
    @Test func canonicalBytesDependOnlyOnTheValue() async {
        await propertyCheck(count: 1000, input: Gens.scenario()) { scenario in
            var rng = SplitMix64(seed: scenario.seed)
            func check<S: SimulatedCRDT>(_: S.Type) {
                let run = ClusterRun<S>(scenario)
                let inOrder = joinAll(run.deltas)
                let shuffled = joinAll(deliverySchedule(count: run.deltas.count, using: &rng).map { run.deltas[$0] })
                let viaStates = joinAll(run.states.shuffled(using: &rng))
                #expect(inOrder == shuffled && inOrder == viaStates, "\(S.self) states differ")
                #expect(inOrder.canonicalBytes == shuffled.canonicalBytes && inOrder.canonicalBytes == viaStates.canonicalBytes,
                        "\(S.self): equal states, different canonical bytes")
            }
            check(AWORSet<String>.self)
            check(ORMap<String, String>.self)
            check(ORMap<Int, Int>.self)
            check(GrowOnlyMap<String, Int>.self)

            var keys = Array(0..<12)
            var forward = GrowOnlyMap<Int, String>(), backward = GrowOnlyMap<Int, String>()
            keys.shuffle(using: &rng)
            for key in keys { forward.insert(.make(key), for: key) }
            for key in keys.reversed() { backward.insert(.make(key), for: key) }
            #expect(forward.canonicalBytes == backward.canonicalBytes)
        }
    }

    /// Decoding arbitrary bytes (biased towards small counts and letters, so
    /// that parses get deep) as every state type never traps; whatever does
    /// decode is a value that round-trips.
    @Test func decodingRandomBytesNeverTraps() async {
        let byte = zip(Gen.int(in: 0...3), Gen<UInt8>.value(in: 0...255)).map { kind, b -> UInt8 in
            switch kind {
            case 0: return b % 4
            case 1: return 0x61 + b % 26
            default: return b
            }
        }
        await propertyCheck(count: 1000, input: byte.array(of: 0...48)) { bytes in
            #expect(fuzzProblems(bytes).isEmpty, "\(fuzzProblems(bytes).prefix(3))")
        }
    }

    /// Valid encodings of real states, damaged (bits flipped, bytes replaced,
    /// inserted, deleted, truncated): decoding never traps, and whatever still
    /// decodes round-trips.
    @Test func decodingDamagedEncodingsNeverTraps() async {
        await propertyCheck(count: 1000, input: Gens.scenario(maxSteps: 12), Gen.int(in: 1...4)) { scenario, damage in
            var rng = SplitMix64(seed: scenario.seed)
            let sets = ClusterRun<AWORSet<String>>(scenario)
            let maps = ClusterRun<ORMap<String, Int>>(scenario)
            let registers = ClusterRun<LWWRegister<String>>(scenario)
            let grow = ClusterRun<GrowOnlyMap<String, Int>>(scenario)
            let encodings = [sets.converged.encodedBytes, maps.converged.canonicalBytes, registers.converged.encodedBytes,
                             grow.converged.canonicalBytes, maps.converged.causalContext!.canonicalBytes]
            var problems: [String] = []
            for original in encodings {
                var bytes = original
                for _ in 0..<damage { damageOnce(&bytes, using: &rng) }
                problems += fuzzProblems(bytes)
            }
            #expect(problems.isEmpty, "\(problems.prefix(3))")
        }
    }

    /// Swift's `String ==` is Unicode canonical equivalence, so "é" (U+00E9)
    /// and "e" + U+0301 are the same element, key and value to every
    /// collection, yet their UTF-8 differs. When two replicas add the two
    /// spellings, which one a replica keeps depends on join order; unless
    /// canonical bytes normalise, the converged states are `==` but their
    /// digests differ, and anti-entropy sees a difference no join can remove.
    /// (`canonicalBytes` promises "equal values give equal bytes".)
    @Test func equivalentSpellingsGiveEqualCanonicalBytes() async {
        let spellings: [(String, String)] = [
            ("\u{E9}", "e\u{301}"), ("\u{F1}", "n\u{303}"), ("\u{C5}", "\u{212B}"),
            ("\u{1EC7}", "e\u{323}\u{302}"), ("\u{FC}ber", "u\u{308}ber"),
        ]
        await propertyCheck(count: 1000, input: Gen.int(in: 0...4), Gen.letter.string(of: 0...3), Gen.bool) { index, prefix, swap in
            let (nfc, nfd) = spellings[index]
            let first = prefix + (swap ? nfd : nfc), second = prefix + (swap ? nfc : nfd)
            #expect(first == second, "the two spellings are one Swift string")
            #expect(first.canonicalBytes == second.canonicalBytes, "String")

            var a = AWORSet<String>(), b = AWORSet<String>()
            let addA = a.add(first, replica: replicaID(0))
            let addB = b.add(second, replica: replicaID(1))
            a.join(addB)
            b.join(addA)
            #expect(a == b)
            #expect(a.canonicalBytes == b.canonicalBytes, "AWORSet: \(a.canonicalBytes) vs \(b.canonicalBytes)")

            var m = ORMap<String, Int>(), n = ORMap<String, Int>()
            let setM = m.set(first, 1, time: HLCTimestamp(wallMillis: 5), replica: replicaID(0))
            let setN = n.set(second, 1, time: HLCTimestamp(wallMillis: 5), replica: replicaID(1))
            m.join(setN)
            n.join(setM)
            #expect(m == n)
            #expect(m.canonicalBytes == n.canonicalBytes, "ORMap keys")
        }
    }
}

/// Decodes `bytes` as every state type; anything that decodes must round-trip.
func fuzzProblems(_ bytes: [UInt8]) -> [String] {
    var problems: [String] = []
    func attempt<T: BinaryCodable & Equatable>(_: T.Type) {
        if case let .success(value) = decode(T.self, bytes) {
            problems += roundTripProblems(value, "\(T.self) decoded from \(bytes)")
        }
    }
    attempt(AWORSet<String>.self)
    attempt(AWORSet<Int>.self)
    attempt(ORMap<String, Int>.self)
    attempt(ORMap<Int, String>.self)
    attempt(LWWRegister<String>.self)
    attempt(LWWRegister<Int>.self)
    attempt(GrowOnlyMap<String, Int>.self)
    attempt(CausalContext.self)
    attempt(VersionVector.self)
    attempt(DotSet.self)
    attempt(HLCTimestamp.self)
    attempt(LWWStamp.self)
    attempt(Dot.self)
    attempt([String].self)
    attempt(Int?.self)
    attempt(String.self)
    attempt(Int.self)
    attempt(UInt32.self)
    attempt(Bool.self)
    return problems
}

/// One random corruption of `bytes`.
func damageOnce(_ bytes: inout [UInt8], using rng: inout SplitMix64) {
    guard !bytes.isEmpty else { bytes.append(UInt8.random(in: 0...255, using: &rng)); return }
    let i = Int.random(in: 0..<bytes.count, using: &rng)
    switch Int.random(in: 0..<5, using: &rng) {
    case 0: bytes[i] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
    case 1: bytes[i] = UInt8.random(in: 0...255, using: &rng)
    case 2: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: i)
    case 3: bytes.remove(at: i)
    default: bytes.removeLast(Int.random(in: 1...bytes.count, using: &rng))
    }
}

/// The reader's ASCII check looks at eight bytes per step (and the last
/// eight in one load): a byte of 0x80 or more anywhere, at any length, must
/// send the text to full UTF-8 validation.
@Suite struct ASCIICheckTests {
    @Test(arguments: 0...40)
    func everyPositionOfAHighByteIsSeen(length: Int) {
        let plain = [UInt8](repeating: UInt8(ascii: "a"), count: length)
        plain.withUnsafeBufferPointer { #expect(ByteReader.isASCII($0)) }
        for position in 0..<length {
            for high: UInt8 in [0x80, 0xC3, 0xFF] {
                var bytes = plain
                bytes[position] = high
                bytes.withUnsafeBufferPointer { #expect(!ByteReader.isASCII($0), "byte \(high) at \(position) of \(length)") }
            }
        }
    }

    /// The writer's check of a string (for the canonical encoding's NFC
    /// step) agrees with a byte-by-byte look, wherever the non-ASCII
    /// character is and however the string is stored.
    @Test(arguments: 0...20)
    func theWritersCheckSeesANonASCIICharacterAnywhere(length: Int) {
        let plain = String(repeating: "a", count: length)
        #expect(ByteWriter.isASCII(plain))
        for position in 0...length {
            let text = String(plain.prefix(position)) + "é" + String(plain.dropFirst(position))
            #expect(!ByteWriter.isASCII(text), "é at \(position) of \(length)")
            let bridged = text.utf16.map { $0 }.withUnsafeBufferPointer { String(decoding: $0, as: UTF16.self) }
            #expect(!ByteWriter.isASCII(bridged))
        }
    }

    /// Text read back whole, ASCII or not, and malformed UTF-8 refused, at
    /// lengths around the eight-byte steps.
    @Test(arguments: [1, 7, 8, 9, 15, 16, 17, 31])
    func textReadsBackAndMalformedTextIsRefused(length: Int) throws {
        for text in [String(repeating: "x", count: length), String(repeating: "x", count: length - 1) + "é"] {
            var writer = ByteWriter(canonical: false, capacity: 16)
            writer.write(string: text)
            let bytes = writer.finish()
            var reader = try ByteReader(bytes, range: 0..<bytes.count)
            #expect(try reader.readString() == text)
        }
        var writer = ByteWriter(canonical: false, capacity: 16)
        writer.write(string: String(repeating: "x", count: length))
        var bytes = writer.finish()
        bytes[bytes.count - 1] = 0xC3  // a lead byte with nothing after it
        var reader = try ByteReader(bytes, range: 0..<bytes.count)
        #expect(throws: CodecError.invalidUTF8) { try reader.readString() }
    }
}
