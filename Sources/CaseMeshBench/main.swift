// casemesh-bench-core: the CaseMesh side of the core CRDT benchmark.
//
// The same workload runs on pycrdt in scripts/bench/pycrdt_bench.py, and
// scripts/bench-core runs both and compares them:
//
//   (a) create N cases, each an ORMap of four short string fields — one
//       operation (one HLC reading, one four-field write, one delta) per case;
//   (b) one field update (status) per case — one operation per update;
//   (c) merge the whole state into an empty replica: encode the replica's
//       cases to one `SegmentedBatch` (segments encoded in parallel on every
//       core), decode it and join every decoded ORMap into the empty replica
//       (segments decoded in parallel, each joined as soon as it is decoded
//       while the later ones are still decoding). The same merge in one
//       segment (one core), the decode alone and the in-memory join alone
//       (no codec) are measured separately.
//
// Each phase runs --runs times on fresh replicas; medians are reported. The
// merged replica is compared with the source and the process exits non-zero
// if they differ. Build in release:
//
//   swift build -c release --product casemesh-bench-core

import CaseMeshCRDT
import CaseMeshDomain
import Foundation

// MARK: - Workload data (mirrored exactly in scripts/bench/pycrdt_bench.py)

let issues = [
    "Login loop after SSO",
    "Invoice PDF is blank",
    "Sync stalls on mobile",
    "Export times out",
    "Wrong VAT on order",
    "Webhook retries storm",
    "Search misses new docs",
    "Password reset fails",
]
let customers = [
    "Northwind Traders",
    "Contoso Pharma AG",
    "Fabrikam Logistics",
    "Globex Retail Ltd",
    "Initech Insurance",
    "Umbrella Health",
    "Stark Components",
]
let products = [
    "Billing Suite 4.2",
    "Mobile App (iOS)",
    "Mobile App (Android)",
    "Data Export API",
    "Identity Gateway",
]
let createStatus = "new - awaiting triage"
let updateStatuses = [
    "escalated to tier 2",
    "waiting on customer",
    "fix in progress (eng)",
    "resolved - fix shipped",
]

struct CaseFields {
    var title: String
    var customer: String
    var product: String
    var status: String
}

func caseID(_ i: Int) -> String {
    let digits = String(i)
    return "case-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
}

func fields(_ i: Int) -> CaseFields {
    CaseFields(
        title: "\(issues[i % issues.count]) #\(i)",
        customer: customers[(i * 3) % customers.count],
        product: products[(i * 7) % products.count],
        status: createStatus
    )
}

func updatedStatus(_ i: Int) -> String { updateStatuses[i % updateStatuses.count] }

// MARK: - Replica

typealias CaseMap = ORMap<String, String>

/// A replica's cases, kept in the order it first saw them with an index by
/// id (as the node's store keeps them in row order): walking every case, as
/// shipping the whole state does, then reads memory front to back instead of
/// in hash order.
struct Replica {
    let id: ReplicaID
    var clock: HybridLogicalClock
    private(set) var ids: [String] = []
    private(set) var maps: [CaseMap] = []
    private var index = CaseIndex()

    init(_ id: String) {
        self.id = ReplicaID(id)
        clock = HybridLogicalClock(wallClock: SystemWallClock())
    }

    var count: Int { maps.count }
    subscript(caseID: String) -> CaseMap? { index.position(of: caseID, in: ids).map { maps[$0] } }

    mutating func reserveCapacity(_ count: Int) {
        ids.reserveCapacity(count)
        maps.reserveCapacity(count)
        index.reserveCapacity(count)
    }

    /// Joins `map` into the case `caseID`. A case the replica lacks is `map`
    /// itself (a join into nothing), stored as given: taken, not copied.
    mutating func join(_ caseID: String, _ map: consuming CaseMap) {
        if let position = existingPosition(of: caseID) {
            maps[position].join(map)
        } else {
            maps.append(map)
        }
    }

    /// Where `caseID` is stored; or nil, once it is given the next position
    /// (the caller then appends its map). One probe of the index, found or not.
    private mutating func existingPosition(of caseID: String) -> Int? {
        if let position = index.position(of: caseID, in: ids, orInsertAt: ids.count) { return position }
        ids.append(caseID)
        return nil
    }

    /// One operation: one HLC reading, a fresh ORMap with four fields set
    /// in one multi-field write. Returns how many keys its delta carries (so
    /// the delta is produced and looked at, as replication would ship it).
    @inline(never)
    mutating func create(_ caseID: String, _ f: CaseFields) -> Int {
        let time = clock.now().timestamp
        var map = CaseMap()
        let delta = map.set([("title", f.title), ("customer", f.customer), ("product", f.product), ("status", f.status)],
                            time: time, replica: id)
        // Created over an existing case (the bench never does), the replica
        // still keeps one entry per id.
        if let position = existingPosition(of: caseID) { maps[position] = map } else { maps.append(map) }
        return delta.count
    }

    /// One operation: one HLC reading, one `set` on the stored ORMap in place.
    @inline(never)
    mutating func update(_ caseID: String, _ key: String, _ value: String) -> Int {
        let time = clock.now().timestamp
        guard let position = index.position(of: caseID, in: ids) else { return 0 }
        return maps[position].set(key, value, time: time, replica: id).count
    }
}

/// Positions of a replica's cases by id, as a table of 8-byte slots (32
/// bits of the id's hash, the position) probed linearly. The index of tens of
/// thousands of cases stays within a core's cache, one probe touches one
/// cache line, and an id is compared only when its hash matches. A Swift
/// dictionary of the same ids spreads each entry over three arrays and
/// hashes with SipHash: joining a replica into an empty one spent most of
/// its time there. (The hash is seeded per process; it is not built to
/// withstand ids chosen to collide, which a bench replica does not meet.)
struct CaseIndex {
    private var slots: [UInt64] = []
    private var mask = -1
    private var count = 0
    private static let seed = UInt64.random(in: .min ... .max)

    mutating func reserveCapacity(_ capacity: Int) {
        var size = 16
        while size < 2 * capacity { size *= 2 }
        if size > slots.count { rehash(to: size) }
    }

    /// The position of `id`, whose text is `ids[position]`.
    func position(of id: String, in ids: [String]) -> Int? {
        count > 0 ? probe(id, tag: Self.tag(of: id), in: ids).found : nil
    }

    /// The position of `id`; or nil, once `position` is recorded for it.
    mutating func position(of id: String, in ids: [String], orInsertAt position: Int) -> Int? {
        if 2 * (count + 1) > slots.count { rehash(to: max(16, 2 * slots.count)) }
        let tag = Self.tag(of: id)
        let (slot, found) = probe(id, tag: tag, in: ids)
        if let found { return found }
        slots[slot] = tag << 32 | UInt64(position + 1)
        count += 1
        return nil
    }

    /// The slot holding `id`'s position, or the empty slot where it would go.
    private func probe(_ id: String, tag: UInt64, in ids: [String]) -> (slot: Int, found: Int?) {
        var slot = Int(truncatingIfNeeded: tag) & mask
        while slots[slot] != 0 {
            if slots[slot] >> 32 == tag, case let position = Int(truncatingIfNeeded: slots[slot] & 0xFFFF_FFFF) - 1, ids[position] == id {
                return (slot, position)
            }
            slot = (slot + 1) & mask
        }
        return (slot, nil)
    }

    private mutating func rehash(to size: Int) {
        let old = slots
        slots = Array(repeating: 0, count: size)
        mask = size - 1
        for entry in old where entry != 0 {
            var slot = Int(truncatingIfNeeded: entry >> 32) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = entry
        }
    }

    /// 32 bits of a seeded multiply-mix hash of the id's UTF-8.
    private static func tag(of id: String) -> UInt64 {
        var id = id
        let hash = id.withUTF8 { bytes -> UInt64 in
            let raw = UnsafeRawBufferPointer(bytes)
            var h = seed ^ (UInt64(raw.count) &* 0x9E37_79B9_7F4A_7C15)
            var offset = 0
            while offset + 8 <= raw.count {
                h = (h ^ raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
                h ^= h >> 29
                offset += 8
            }
            var rest: UInt64 = 0
            let left = raw.count - offset
            if left > 0 && raw.count >= 8 {
                // The last 8 bytes in one load, shifted down to the ones not yet mixed.
                rest = raw.loadUnaligned(fromByteOffset: raw.count - 8, as: UInt64.self) >> (8 * UInt64(8 - left))
            } else {
                for (shift, byte) in raw[offset...].enumerated() { rest |= UInt64(byte) << (8 * UInt64(shift)) }
            }
            h = (h ^ rest) &* 0x94D0_49BB_1331_11EB
            return h ^ (h >> 32)
        }
        return hash & 0xFFFF_FFFF
    }
}

// MARK: - Merge

/// Every case, in `segments` parts encoded in parallel.
@inline(never)
func encodeCases(_ replica: Replica, segments: Int) -> [UInt8] {
    SegmentedBatch.encode(keys: replica.ids, values: replica.maps, segments: segments)
}

/// Decodes every segment (in parallel) without joining: the decode's share.
@inline(never)
func decodeCases(_ bytes: [UInt8]) throws(CodecError) -> [SegmentedBatch.Segment<String, CaseMap>] {
    try SegmentedBatch.decode(bytes, as: (String, CaseMap).self)
}

/// Decodes the batch and joins each segment's cases into the replica as soon
/// as that segment is decoded, while later segments are still decoding.
@inline(never)
func decodeAndJoinCases(_ bytes: [UInt8], into replica: inout Replica) throws(CodecError) {
    try SegmentedBatch.decode(
        bytes, as: (String, CaseMap).self,
        start: { replica.reserveCapacity(replica.count + $0) },
        each: { segment in replica.join(segment) })
}

extension Replica {
    /// Joins every case of a decoded segment. The decoded cases are taken,
    /// not copied: copying one would touch its memory (a reference count),
    /// which the thread that decoded it wrote last.
    mutating func join(_ segment: consuming SegmentedBatch.Segment<String, CaseMap>) {
        var keys: [String] = [], values: [CaseMap] = []
        swap(&keys, &segment.keys)
        swap(&values, &segment.values)
        // Popped from the back (moved out), so reversed first to keep the order.
        keys.reverse()
        values.reverse()
        while let map = values.popLast() { join(keys.removeLast(), map) }
    }
}

/// Joins every case of `source` into `replica`, in memory.
@inline(never)
func joinCases(_ source: Replica, into replica: inout Replica) {
    replica.reserveCapacity(replica.count + source.count)
    for i in 0..<source.count { replica.join(source.ids[i], source.maps[i]) }
}

// MARK: - Measurement

let clock = ContinuousClock()

func seconds(_ d: Duration) -> Double {
    let c = d.components
    return Double(c.seconds) + Double(c.attoseconds) / 1e18
}

func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    let m = s.count / 2
    return s.count % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("casemesh-bench: VERIFICATION FAILED: \(message)\n".utf8))
    exit(1)
}

struct RunResult {
    var create: Double
    var update: Double
    var merge: Double
    var encode: Double
    var decodeJoin: Double
    var decodeOnly: Double
    var mergeOneCore: Double
    var join: Double
    var encodedBytes: Int
    var mergedCount: Int
}

/// Encodes every case of `source` in `segments` parts, decodes them and
/// joins them into an empty replica; the encode and the (overlapped) decode
/// and join in seconds.
func mergeThroughCodec(_ source: Replica, segments: Int) -> (encode: Double, decodeJoin: Double, bytes: [UInt8], target: Replica) {
    var target = Replica("apac")
    let m0 = clock.now
    let bytes = encodeCases(source, segments: segments)
    let m1 = clock.now
    do { try decodeAndJoinCases(bytes, into: &target) } catch { fail("decoding the encoded state failed: \(error)") }
    let m2 = clock.now
    return (seconds(m1 - m0), seconds(m2 - m1), bytes, target)
}

/// The decode alone, in seconds: every segment decoded in parallel, nothing joined.
func decodeOnly(_ bytes: [UInt8], expecting count: Int) -> Double {
    let d0 = clock.now
    let decoded: [SegmentedBatch.Segment<String, CaseMap>]
    do { decoded = try decodeCases(bytes) } catch { fail("decoding the encoded state failed: \(error)") }
    let d1 = clock.now
    let decodedCount = decoded.reduce(0) { $0 + $1.count }
    guard decodedCount == count else { fail("decoding alone gave \(decodedCount) cases, expected \(count)") }
    return seconds(d1 - d0)
}

func verify(_ merged: Replica, against source: Replica, ids: [String], rows: [CaseFields], newStatuses: [String], what: String) {
    let n = ids.count
    guard merged.count == n else { fail("\(what): merged replica has \(merged.count) cases, expected \(n)") }
    for (id, map) in zip(source.ids, source.maps) where merged[id] != map {
        fail("\(what): merged replica's case \(id) differs from the source replica's")
    }
    for i in [0, n / 2, n - 1] {
        guard let map = merged[ids[i]] else { fail("\(what): case \(ids[i]) missing") }
        let expected = ["title": rows[i].title, "customer": rows[i].customer, "product": rows[i].product, "status": newStatuses[i]]
        for (key, value) in expected where map[key] != value {
            fail("\(what): case \(ids[i]) field \(key) is \(map[key].map { "\"\($0)\"" } ?? "missing"), expected \"\(value)\"")
        }
        guard map.count == 4 else { fail("\(what): case \(ids[i]) has \(map.count) fields, expected 4") }
    }
}

func runOnce(ids: [String], rows: [CaseFields], newStatuses: [String], segmentCount: Int) -> RunResult {
    let n = ids.count
    var source = Replica("emea")
    var deltaKeys = 0

    // (a) creates
    let t0 = clock.now
    for i in 0..<n {
        deltaKeys &+= source.create(ids[i], rows[i])
    }
    let t1 = clock.now
    // (b) updates
    for i in 0..<n {
        deltaKeys &+= source.update(ids[i], "status", newStatuses[i])
    }
    let t2 = clock.now
    guard deltaKeys == 5 * n else { fail("deltas carried \(deltaKeys) keys, expected \(5 * n)") }

    // (c) merge through the codec into an empty replica, on every core, then on one
    let merge = mergeThroughCodec(source, segments: segmentCount)
    verify(merge.target, against: source, ids: ids, rows: rows, newStatuses: newStatuses, what: "merge via codec")
    let single = mergeThroughCodec(source, segments: 1)
    verify(single.target, against: source, ids: ids, rows: rows, newStatuses: newStatuses, what: "merge via codec on one core")
    let decodeAlone = decodeOnly(merge.bytes, expecting: n)

    // in-memory join alone
    var joined = Replica("apac")
    let j0 = clock.now
    joinCases(source, into: &joined)
    let j1 = clock.now
    verify(joined, against: source, ids: ids, rows: rows, newStatuses: newStatuses, what: "in-memory join")

    return RunResult(
        create: seconds(t1 - t0), update: seconds(t2 - t1),
        merge: merge.encode + merge.decodeJoin, encode: merge.encode, decodeJoin: merge.decodeJoin, decodeOnly: decodeAlone,
        mergeOneCore: single.encode + single.decodeJoin,
        join: seconds(j1 - j0), encodedBytes: merge.bytes.count, mergedCount: merge.target.count
    )
}

// MARK: - Main

func usage() -> Never {
    FileHandle.standardError.write(Data("usage: casemesh-bench-core [--cases N] [--runs N] [--segments N] [--json]\n".utf8))
    exit(2)
}

var caseCount = 20_000
var runCount = 5
var emitJSON = false
var segmentCount = SegmentedBatch.defaultSegmentCount
var argIterator = CommandLine.arguments.dropFirst().makeIterator()
while let arg = argIterator.next() {
    switch arg {
    case "--cases":
        guard let v = argIterator.next().flatMap(Int.init), v >= 1 else { usage() }
        caseCount = v
    case "--runs":
        guard let v = argIterator.next().flatMap(Int.init), v >= 1 else { usage() }
        runCount = v
    case "--segments":
        guard let v = argIterator.next().flatMap(Int.init), v >= 1, v <= SegmentedBatch.maximumSegments else { usage() }
        segmentCount = v
    case "--json": emitJSON = true
    case "-h", "--help": usage()
    default:
        FileHandle.standardError.write(Data("casemesh-bench: unknown argument \(arg)\n".utf8))
        usage()
    }
}

let ids = (1...caseCount).map(caseID)
let rows = (1...caseCount).map(fields)
let newStatuses = (1...caseCount).map(updatedStatus)

if let phase = ProcessInfo.processInfo.environment["PHASE"] {
    var source = Replica("emea")
    for i in 0..<ids.count { _ = source.create(ids[i], rows[i]) }
    for i in 0..<ids.count { _ = source.update(ids[i], "status", newStatuses[i]) }
    let bytes = encodeCases(source, segments: 1)
    var total = 0
    var reserveTime = 0.0, joinTime = 0.0
    for _ in 0..<(ProcessInfo.processInfo.environment["REPS"].flatMap(Int.init) ?? 200) {
        switch phase {
        case "encode": total &+= encodeCases(source, segments: 1).count
        case "decode": total &+= (try! decodeCases(bytes))[0].count
        default:
            let segments = try! decodeCases(bytes)
            var target = Replica("apac")
            let t0 = clock.now
            target.reserveCapacity(ids.count)
            let t1 = clock.now
            for segment in segments { target.join(segment) }
            let t2 = clock.now
            reserveTime += seconds(t1 - t0); joinTime += seconds(t2 - t1)
            total &+= target.count
        }
    }
    print(total, "reserve ms per rep", reserveTime * 1e3 / 200, "join ms per rep", joinTime * 1e3 / 200)
    exit(0)
}


var results: [RunResult] = []
for _ in 0..<runCount {
    results.append(runOnce(ids: ids, rows: rows, newStatuses: newStatuses, segmentCount: segmentCount))
}

let n = Double(caseCount)
let createS = median(results.map(\.create))
let updateS = median(results.map(\.update))
let mergeMs = median(results.map(\.merge)) * 1e3
let encodeMs = median(results.map(\.encode)) * 1e3
let decodeJoinMs = median(results.map(\.decodeJoin)) * 1e3
let decodeOnlyMs = median(results.map(\.decodeOnly)) * 1e3
let mergeOneCoreMs = median(results.map(\.mergeOneCore)) * 1e3
let joinMs = median(results.map(\.join)) * 1e3
let encodedBytes = results.last!.encodedBytes
let mergedCount = results.last!.mergedCount

func f(_ v: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", v) }
func grouped(_ v: Double) -> String {
    let digits = String(Int(v.rounded()))
    var out = ""
    for (i, ch) in digits.reversed().enumerated() {
        if i > 0 && i % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return String(out.reversed())
}
func pad(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }

print("CaseMesh (release), \(caseCount) cases, median of \(runCount) runs")
print("  (a) create   \(pad(grouped(n / createS), 12)) ops/s   (\(f(createS * 1e3, 1)) ms)")
print("  (b) update   \(pad(grouped(n / updateS), 12)) ops/s   (\(f(updateS * 1e3, 1)) ms)")
print("  (c) merge    \(pad(f(mergeMs, 2), 12)) ms      (encode \(f(encodeMs, 2)) + decode and join \(f(decodeJoinMs, 2)) ms, \(grouped(Double(encodedBytes))) bytes, \(segmentCount) segments)")
print("      merge on one core \(pad(f(mergeOneCoreMs, 2), 3)) ms      (the same in one segment)")
print("      decode   \(pad(f(decodeOnlyMs, 2), 12)) ms      (alone, nothing joined)")
print("      join     \(pad(f(joinMs, 2), 12)) ms      (in memory, no codec)")
print("  merged replica: \(mergedCount) cases, content verified")

if emitJSON {
    func list(_ values: [Double]) -> String { "[" + values.map { "\($0)" }.joined(separator: ",") + "]" }
    let fieldsJSON: [String] = [
        "\"system\":\"casemesh\"",
        "\"cases\":\(caseCount)",
        "\"runs\":\(runCount)",
        "\"create_ops_per_s\":\(n / createS)",
        "\"update_ops_per_s\":\(n / updateS)",
        "\"merge_ms\":\(mergeMs)",
        "\"merge_encode_ms\":\(encodeMs)",
        "\"merge_decode_join_ms\":\(decodeJoinMs)",
        "\"decode_only_ms\":\(decodeOnlyMs)",
        "\"join_ms\":\(joinMs)",
        "\"merge_one_core_ms\":\(mergeOneCoreMs)",
        "\"segments\":\(segmentCount)",
        "\"create_s_runs\":\(list(results.map(\.create)))",
        "\"update_s_runs\":\(list(results.map(\.update)))",
        "\"merge_ms_runs\":\(list(results.map { $0.merge * 1e3 }))",
        "\"join_ms_runs\":\(list(results.map { $0.join * 1e3 }))",
        "\"encoded_bytes\":\(encodedBytes)",
        "\"merged_cases\":\(mergedCount)",
        "\"verified\":true",
    ]
    print("{" + fieldsJSON.joined(separator: ",") + "}")
}
