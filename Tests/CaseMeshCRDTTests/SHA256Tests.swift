// Replay a failure with the `.fixedSeed(...)` trait PropertyBased prints; see Generators.swift.

import PropertyBased
import Testing
@testable import CaseMeshCRDT

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

/// Splits `data` at the given cut points (taken modulo its length).
func chunks(of data: [UInt8], at cuts: [Int]) -> [ArraySlice<UInt8>] {
    guard !data.isEmpty else { return [data[...]] }
    let points = Set(cuts.map { $0 % (data.count + 1) } + [0, data.count]).sorted()
    return zip(points, points.dropFirst()).map { data[$0..<$1] }
}

/// Replicas compare state by SHA-256 digest; a wrong or chunking-dependent
/// hash makes equal replicas look different (endless repair) or — worse —
/// lets different states look equal.
@Suite struct SHA256Tests {
    /// Known answers: FIPS 180-2 examples, the one-million-"a" vector, and
    /// lengths around the 55/56/64-byte padding boundaries (bytes
    /// (7·i + 3) mod 256, digests computed with Python's hashlib).
    @Test func knownAnswers() {
        #expect(hex(SHA256.hash([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(hex(SHA256.hash(Array(
            "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu".utf8)))
                == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        let boundaries: [(Int, String)] = [
            (55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"),
            (56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"),
            (63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"),
            (64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"),
            (65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"),
            (119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"),
            (120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"),
            (127, "a8d23e75d936f303d248888d9b165ee543f4cbafcad3c9dd2a79bd84faa11d07"),
            (128, "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6"),
        ]
        for (length, expected) in boundaries {
            let data = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 7 + 3) }
            #expect(hex(SHA256.hash(data)) == expected, "length \(length)")
        }
        #expect(StateDigest(bytes: SHA256.hash(Array("abc".utf8))).hex
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func oneMillionAs() {
        var hasher = SHA256()
        let block = [UInt8](repeating: 0x61, count: 1000)
        for _ in 0..<1000 { hasher.update(block) }
        #expect(hex(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Feeding the same bytes in any chunking, as arrays or array slices,
    /// gives the one-shot digest.
    @Test func chunkingDoesNotChangeTheDigest() async {
        await propertyCheck(count: 1000, input: bytesGen(0...300), Gen.int(in: 0...400).array(of: 0...8), Gen.bool) {
            data, cuts, slices in
            var hasher = SHA256()
            for chunk in chunks(of: data, at: cuts) {
                if slices { hasher.update(chunk) } else { hasher.update(Array(chunk)) }
            }
            #expect(hasher.finalize() == SHA256.hash(data))
        }
    }

    /// Where the CPU has SHA instructions, full blocks go through them:
    /// for any bytes fed in any chunking, the digest equals the portable
    /// code's. (On a CPU without them both sides are the portable code;
    /// the line below says which ran.)
    @Test func hardwareBlocksMatchThePortableCode() async {
        print("SHA256 hardware blocks: \(SHA256.hardware ? "in use" : "not available on this CPU")")
        await propertyCheck(count: 1000, input: bytesGen(0...1_100), Gen.int(in: 0...1_200).array(of: 0...6)) { data, cuts in
            var hardware = SHA256(), portable = SHA256(hardware: false)
            for chunk in chunks(of: data, at: cuts) {
                hardware.update(Array(chunk))
                portable.update(Array(chunk))
            }
            #expect(hardware.finalize() == portable.finalize(), "\(data.count) bytes")
        }
    }

    /// `update(_: some Sequence<UInt8>)` accepts any sequence, e.g. bytes
    /// streamed from a reader; fed that way the digest must not change.
    @Test func sequenceInputGivesTheSameDigest() async {
        await propertyCheck(count: 1000, input: bytesGen(1...300), Gen.int(in: 0...400).array(of: 0...4)) { data, cuts in
            var hasher = SHA256()
            for chunk in chunks(of: data, at: cuts) { hasher.update(IteratorSequence(chunk.makeIterator())) }
            #expect(hasher.finalize() == SHA256.hash(data), "\(data.count) bytes streamed in \(chunks(of: data, at: cuts).count) chunks")
        }
    }

    /// A set digest is the XOR of member digests: independent of the order
    /// members are toggled in, and toggling a member twice takes it out again.
    @Test func setDigestIgnoresOrderAndToggleUndoes() async {
        let members = zip(bytesGen(0...6), bytesGen(0...20)).array(of: 0...8)
        await propertyCheck(count: 1000, input: members, Gen.uint64(in: .min ... .max)) { members, seed in
            var rng = SplitMix64(seed: seed)
            let digests = members.map { StateDigest.member(key: $0.0, content: $0.1) }
            var forward = StateDigest.zero, shuffled = StateDigest.zero
            for digest in digests { forward.toggle(digest) }
            for digest in digests.shuffled(using: &rng) { shuffled.toggle(digest) }
            #expect(forward == shuffled)
            for digest in digests { shuffled.toggle(digest) }
            #expect(shuffled == .zero)
            #expect(forward.hex.count == 64 && forward.hex.allSatisfy { "0123456789abcdef".contains($0) })
        }
    }

    /// Member digests are length-prefixed: moving bytes between key and
    /// content gives a different digest, so ("ab", "c") and ("a", "bc")
    /// cannot cancel out or stand in for each other.
    @Test func memberDigestSeparatesKeyAndContent() async {
        await propertyCheck(count: 1000, input: bytesGen(1...40), Gen.int(in: 0...40), Gen.int(in: 0...40)) { bytes, i, j in
            let a = i % (bytes.count + 1), b = j % (bytes.count + 1)
            guard a != b else { return }
            let first = StateDigest.member(key: Array(bytes[..<a]), content: Array(bytes[a...]))
            let second = StateDigest.member(key: Array(bytes[..<b]), content: Array(bytes[b...]))
            #expect(first != second)
        }
    }
}
