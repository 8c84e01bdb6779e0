// Replay a failure with the `.fixedSeed(...)` trait PropertyBased prints; see Generators.swift.

import PropertyBased
import Testing
@testable import CaseMeshCRDT

/// Text drawn mostly from a short list (as field names and statuses are), with
/// some arbitrary strings mixed in.
let sharedTextGen = zip(Gen.int(in: 0...9), unicodeStringGen)
    .map { pick, other in pick < 7 ? ["title", "status", "Northwind Traders", "", "é", "e\u{301}", "a much longer status text"][pick] : other }
    .array(of: 0...200)

func writeShared(_ strings: [String]) -> [UInt8] {
    var writer = ByteWriter(canonical: false, capacity: 16, batch: true)
    writer.write(varint: UInt64(strings.count))
    for string in strings { writer.write(string: string) }
    return writer.finish()
}

func readShared(_ bytes: [UInt8]) -> Result<[String], CodecError> {
    Result { () throws(CodecError) -> [String] in
        var reader = try ByteReader(bytes, range: 0..<bytes.count, batch: true)
        let count = try reader.readCount()
        var strings: [String] = []
        for _ in 0..<count { strings.append(try reader.readString()) }
        guard reader.isAtEnd else { throw .trailingBytes(reader.remaining) }
        return strings
    }
}

/// A document that shares its text writes a repeated string once and refers
/// to it after; the reader must get back exactly the strings written, in
/// order, whatever the writer's cache kept or evicted.
@Suite struct TextTableTests {
    @Test func sharedTextRoundTrips() async {
        await propertyCheck(count: 1000, input: sharedTextGen) { strings in
            let bytes = writeShared(strings)
            #expect(readShared(bytes) == .success(strings))
            // The same strings written in full are never shorter, but for
            // the tag: two bits more of length can take one byte more for a
            // literal of 32 bytes or more.
            var plain = ByteWriter(canonical: false, capacity: 16)
            plain.write(varint: UInt64(strings.count))
            for string in strings { plain.write(string: string) }
            #expect(bytes.count <= plain.finish().count + strings.filter { $0.utf8.count >= 32 }.count)
        }
    }

    @Test func repeatsAreWrittenTwiceThenReferred() throws {
        let strings = Array(repeating: "Northwind Traders", count: 1000)
        let bytes = writeShared(strings)
        // The replica table, the count, the literal seen once, the literal the
        // reader keeps, and 998 one-byte references.
        #expect(bytes.count == 1 + 2 + 2 * (1 + 17) + 998)
        #expect(try readShared(bytes).get() == strings)
    }

    /// Text written once never enters the reader's table: after 200 unique
    /// strings, the first one that recurs is the table's first, and each
    /// reference to it takes one byte (its index, were the unique strings
    /// kept, would take two).
    @Test func textSeenOnceIsNotKept() throws {
        let strings = (0..<200).map { "case-\(1000 + $0)" } + Array(repeating: "status", count: 1000)
        let bytes = writeShared(strings)
        // The replica table, the count, 200 nine-byte case ids written in
        // full, "status" in full twice, then 998 one-byte references.
        #expect(bytes.count == 1 + 2 + 200 * (1 + 9) + 2 * (1 + 6) + 998)
        #expect(try readShared(bytes).get() == strings)
    }

    /// Far more distinct strings than the writer's cache holds, with one
    /// string recurring between them: evicted entries are written again and
    /// the reader's table stays in step.
    @Test func evictionKeepsReaderInStep() throws {
        var strings: [String] = []
        for i in 0..<20_000 {
            strings.append("case-\(i)")
            strings.append(i % 3 == 0 ? "status" : "title #\(i % 1500)")
        }
        #expect(try readShared(writeShared(strings)).get() == strings)
    }

    /// Recurring text stays kept however much text seen once passes through
    /// the writer's cache: 20,000 unique ids between seven recurring
    /// statuses cost each status about two full copies, not one per eviction.
    @Test func keptTextOutlastsTextSeenOnce() throws {
        let statuses = ["new", "triage", "escalated to tier 2", "waiting on customer", "fix in progress", "resolved", "closed"]
        var strings: [String] = []
        for i in 0..<20_000 { strings += ["case-\(100_000 + i)", statuses[i % statuses.count]] }
        let bytes = writeShared(strings)
        #expect(try readShared(bytes).get() == strings)
        // Ideal: every id in full, every status in full twice, one-byte references.
        let ids = 20_000 * (1 + 11)
        let statusCopies = statuses.reduce(0) { $0 + 2 * (1 + $1.utf8.count) }
        let ideal = 1 + 3 + ids + statusCopies + (20_000 - 2 * statuses.count)
        // Allow each status to be written in full twice more (evicted once
        // before the reader was told to keep it).
        #expect(bytes.count <= ideal + statusCopies)
    }

    /// Short strings (their representation is their text, the same in every
    /// run) that fall in one set of the writer's cache, in the order found.
    static func sameSet(_ count: Int) -> [String] {
        var bySet: [Int: [String]] = [:]
        for k in 0... {
            let text = "recurring-\(k)"
            let set = TextTable.Writer.set(of: TextTable.Writer.representation(of: text))
            bySet[set, default: []].append(text)
            if bySet[set]!.count == count { return bySet[set]! }
        }
        fatalError("unreachable")
    }

    /// Two recurring strings that meet in one set of the cache are both kept:
    /// each is written in full twice, then referred to.
    @Test func twoRecurringStringsInOneSetAreBothKept() throws {
        let pair = Self.sameSet(2)
        let strings = [pair[0], pair[0], pair[1], pair[1]] + Array(repeating: pair, count: 500).flatMap { $0 }
        let bytes = writeShared(strings)
        #expect(try readShared(bytes).get() == strings)
        let literals = pair.reduce(0) { $0 + 2 * (1 + $1.utf8.count) }
        #expect(bytes.count == 1 + 2 + literals + 1000)
    }

    /// Text seen once is remembered through one other string of its set
    /// seen once in between: the recurring string is kept on its second
    /// sighting, not written in full until it recurs back to back.
    @Test func seenOnceSurvivesOneNeighbour() throws {
        let trio = Self.sameSet(3)
        let (status, id1, id2) = (trio[0], trio[1], trio[2])
        let strings = [status, id1, status, id2, status, status]
        let bytes = writeShared(strings)
        #expect(try readShared(bytes).get() == strings)
        let full = { (text: String) in 1 + text.utf8.count }
        // status once, id1 once, status kept, id2 once (the second way is
        // still free), then two references.
        #expect(bytes.count == 1 + 1 + full(status) + full(id1) + full(status) + full(id2) + 2)
    }

    /// A third recurring string in a set whose two slots the reader keeps is
    /// written in full every time, and still reads back.
    @Test func thirdRecurringStringInAFullSetIsWrittenInFull() throws {
        let trio = Self.sameSet(3)
        let strings = [trio[0], trio[0], trio[1], trio[1]] + Array(repeating: trio, count: 100).flatMap { $0 }
        let bytes = writeShared(strings)
        #expect(try readShared(bytes).get() == strings)
        let literals = trio[0...1].reduce(0) { $0 + 2 * (1 + $1.utf8.count) }
        #expect(bytes.count == 1 + 2 + literals + 200 + 100 * (1 + trio[2].utf8.count))
    }

    /// Strings freed as soon as they are written: the allocator hands their
    /// storage (and so their representation) to the next string, with other
    /// text. The writer must never refer the reader to the wrong text.
    @Test func temporaryStringsReadBack() throws {
        var writer = ByteWriter(canonical: false, capacity: 16, batch: true)
        var expected: [String] = []
        writer.write(varint: 4000)
        for i in 0..<4000 {
            let text = "temporary text number \(i % 37 == 0 ? i : i % 11), long enough to live on the heap"
            writer.write(string: text)
            // Kept in storage of its own, so `text` is freed here.
            expected.append(String(decoding: Array(text.utf8), as: UTF8.self))
        }
        #expect(try readShared(writer.finish()).get() == expected)
    }

    @Test(arguments: [
        // A reference to the first string when none has been read.
        ([0, 1, 1], CodecError.invalidValue("text reference 0 outside the 0 kept so far")),
        // One literal kept ("a"), then a reference to the second string.
        ([0, 2, 6, 0x61, 3], .invalidValue("text reference 1 outside the 1 kept so far")),
        // One literal not kept ("a"), then a reference to it.
        ([0, 2, 4, 0x61, 1], .invalidValue("text reference 0 outside the 0 kept so far")),
        // A literal of 5 bytes with 1 left.
        ([0, 1, 20, 0x61], .truncated(needed: 5, remaining: 1)),
        // Invalid UTF-8 in a literal.
        ([0, 1, 4, 0xFF], .invalidUTF8),
    ] as [([UInt8], CodecError)])
    func malformedTextIsRefused(bytes: [UInt8], expected: CodecError) {
        #expect(readShared(bytes) == .failure(expected))
    }

    @Test func canonicalWritersCannotShareText() async {
        await #expect(processExitsWith: .failure) {
            _ = ByteWriter(canonical: true, batch: true)
        }
    }
}

/// A map's entries are sorted by key. Documents written before that listed
/// them in any order; they read into the same map, and a repeated key is
/// refused however the keys are ordered.
@Suite struct DotMapOrderTests {
    func mapBytes(keys: [String]) -> [UInt8] {
        var writer = ByteWriter()
        writer.write(varint: UInt64(keys.count))
        for key in keys {
            writer.write(string: key)
            DotFun(DotFun.Entry(dot: Dot(ReplicaID("emea"), UInt64(key.unicodeScalars.first!.value)), time: HLCTimestamp(wallMillis: 5), value: key))
                .encode(to: &writer)
        }
        return writer.finish()
    }

    @Test(arguments: [["a", "b", "c"], ["b", "a", "c"], ["c", "b", "a"]])
    func keysInAnyOrderReadIntoTheSameMap(keys: [String]) throws {
        let map = try DotMap<String, DotFun<String>>(decoding: mapBytes(keys: keys))
        #expect(Array(map.keys) == ["a", "b", "c"])
        #expect(map == (try DotMap<String, DotFun<String>>(decoding: mapBytes(keys: ["a", "b", "c"]))))
        #expect(map.encodedBytes == mapBytes(keys: ["a", "b", "c"]))
    }

    @Test(arguments: [["a", "a"], ["b", "a", "b"], ["a", "c", "b", "c"]])
    func repeatedKeysAreRefused(keys: [String]) {
        #expect(decode(DotMap<String, DotFun<String>>.self, mapBytes(keys: keys)) == .failure(.invalidValue("duplicate key in a map")))
    }

    /// Built from a dictionary or by writes in any order, the entries end up sorted.
    @Test func entriesStaySorted() async {
        await propertyCheck(count: 1000, input: Gen.int(in: 0...50).array(of: 0...30)) { keys in
            var map = ORMap<Int, String>()
            for (index, key) in keys.enumerated() {
                map.set(key, "\(index)", time: HLCTimestamp(wallMillis: UInt64(index + 1)), replica: ReplicaID("emea"))
            }
            let stored = Array(map.state.store.keys)
            #expect(stored == Array(Set(keys)).sorted())
            let fromDictionary = DotMap<Int, DotFun<String>>(Dictionary(uniqueKeysWithValues: map.state.store.entries.map { ($0.key, $0.store) }))
            #expect(fromDictionary == map.state.store)
        }
    }
}

/// A grow-only map keeps its entries sorted by key too; documents written
/// while it was a hash table list them in any order and read into the same
/// map, and a repeated key is refused however the keys are ordered.
@Suite struct GrowOnlyMapOrderTests {
    func mapBytes(keys: [Int]) -> [UInt8] {
        var writer = ByteWriter()
        writer.write(varint: UInt64(keys.count))
        for key in keys {
            key.encode(to: &writer)
            writer.write(string: "value \(key)")
        }
        return writer.finish()
    }

    @Test(arguments: [[1, 2, 3], [2, 1, 3], [3, 2, 1], [1, 3, 2]])
    func keysInAnyOrderReadIntoTheSameMap(keys: [Int]) throws {
        let map = try GrowOnlyMap<Int, String>(decoding: mapBytes(keys: keys))
        #expect(map.entries.map(\.key) == [1, 2, 3])
        #expect(map[2] == "value 2")
        #expect(map == (try GrowOnlyMap<Int, String>(decoding: mapBytes(keys: [1, 2, 3]))))
        #expect(map.encodedBytes == mapBytes(keys: [1, 2, 3]))
    }

    @Test(arguments: [[1, 1], [2, 1, 2], [1, 3, 2, 3]])
    func repeatedKeysAreRefused(keys: [Int]) {
        #expect(decode(GrowOnlyMap<Int, String>.self, mapBytes(keys: keys)) == .failure(.invalidValue("duplicate key in a grow-only map")))
    }

    /// Inserted in any order, or joined from any split, the entries end up
    /// sorted, each key once, and lookups find every value.
    @Test func entriesStaySorted() async {
        await propertyCheck(count: 500, input: Gen.int(in: 0...40).array(of: 0...30)) { keys in
            var map = GrowOnlyMap<Int, String>()
            var halves = (GrowOnlyMap<Int, String>(), GrowOnlyMap<Int, String>())
            for (index, key) in keys.enumerated() {
                map.insert("v\(key)", for: key)
                if index % 2 == 0 { halves.0.insert("v\(key)", for: key) } else { halves.1.insert("v\(key)", for: key) }
            }
            #expect(map.entries.map(\.key) == Array(Set(keys)).sorted())
            for key in keys { #expect(map[key] == "v\(key)") }
            #expect(map[41] == nil && map[-1] == nil)
            var joined = halves.1
            joined.join(halves.0)
            #expect(joined == map)
        }
    }
}
