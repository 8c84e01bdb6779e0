import Testing
import CaseMeshCRDT
@testable import CaseMeshStore

/// The in-memory query index against a reference model: every row's latest
/// columns, filtered and sorted from scratch for each query.
@Suite struct QueryIndexTests {
    private static let statuses = ["new", "investigating", "escalated"]
    private static let severities = ["sev1", "sev2", "sev3"]
    private static let regions = ["EMEA", "AMER"]
    private static let owners: [String?] = [nil, "ana", "bo", "cy"]

    private static func randomColumns(rowid: Int64, time: Int64, random: inout SplitMix64) -> QueryIndex.Columns {
        QueryIndex.Columns(rowid: rowid, status: statuses.randomElement(using: &random)!,
                           severity: severities.randomElement(using: &random)!, region: regions.randomElement(using: &random)!,
                           owner: owners.randomElement(using: &random)!,
                           slaDueAt: Bool.random(using: &random) ? nil : Int64.random(in: 0..<100, using: &random),
                           updatedAt: time)
    }

    private struct Query {
        var status: String?, severity: String?, region: String?, owner: String?, slaDueBefore: Int64?
        func matches(_ c: QueryIndex.Columns) -> Bool {
            (status == nil || c.status == status) && (severity == nil || c.severity == severity)
                && (region == nil || c.region == region) && (owner == nil || c.owner == owner)
                && (slaDueBefore == nil || (c.slaDueAt.map { $0 < slaDueBefore! } ?? false))
        }
    }

    /// Pages through the index the way `list` does.
    private static func page(_ index: QueryIndex, _ query: Query, limit: Int) -> [Int64]? {
        var filter = QueryIndex.Filter(slaDueBefore: query.slaDueBefore)
        for (value, path) in [(query.status, \QueryIndex.Filter.status), (query.severity, \.severity), (query.region, \.region), (query.owner, \.owner)] {
            guard let value else { continue }
            guard let code = index.code(value) else { return [] }
            filter[keyPath: path] = code
        }
        var result: [Int64] = []
        var after: QueryIndex.Position?
        while true {
            let positions = index.positions(matching: filter, after: after, limit: limit)
            result += positions.map(\.rowid)
            guard positions.count == limit, let last = positions.last else { return result }
            after = last
            if result.count > index.count { return nil }  // not terminating
        }
    }

    /// Inserts, moves (including to older times and equal times) and bulk
    /// builds, with runs splitting past their capacity and (with small runs,
    /// many of them) drained runs merged and shrunk: every paged query
    /// equals the model's answer, in order.
    @Test(arguments: [UInt64(1), 2, 3, 4], [64, QueryIndex.defaultRunCapacity])
    func pagedQueriesMatchTheModel(seed: UInt64, runCapacity: Int) {
        var random = SplitMix64(seed: seed)
        var model: [Int64: QueryIndex.Columns] = [:]
        let initialRows = Int.random(in: 0..<1500, using: &random)
        for rowid in 1...Int64(max(initialRows, 1)) {
            model[rowid] = Self.randomColumns(rowid: rowid, time: Int64.random(in: 0..<50, using: &random), random: &random)
        }
        var index = QueryIndex(model.values, runCapacity: runCapacity)
        var time: Int64 = 50
        for step in 0..<4000 {
            let rowid = Int64.random(in: 1...Int64(model.count + 20), using: &random)
            // Mostly newer times (the common update), sometimes older or equal ones (remote merges, clock ties).
            let roll = Int.random(in: 0..<10, using: &random)
            if roll < 7 { time += Int64.random(in: 0...1, using: &random) }
            let at = roll == 9 ? Int64.random(in: 0..<time, using: &random) : time
            let columns = Self.randomColumns(rowid: rowid, time: at, random: &random)
            model[rowid] = columns
            index.upsert(columns)
            #expect(index.count == model.count, "seed \(seed) run capacity \(runCapacity) step \(step)")
            if step % 400 == 0 || step == 3999 {
                for _ in 0..<8 {
                    let query = Query(status: Bool.random(using: &random) ? Self.statuses.randomElement(using: &random) : nil,
                                      severity: Bool.random(using: &random) ? Self.severities.randomElement(using: &random) : nil,
                                      region: Int.random(in: 0..<3, using: &random) == 0 ? Self.regions.randomElement(using: &random) : nil,
                                      owner: Int.random(in: 0..<3, using: &random) == 0 ? (Self.owners.randomElement(using: &random)! ?? "nobody") : nil,
                                      slaDueBefore: Int.random(in: 0..<4, using: &random) == 0 ? Int64.random(in: 0..<100, using: &random) : nil)
                    let expected = model.values.filter(query.matches)
                        .sorted { ($0.updatedAt, $0.rowid) > ($1.updatedAt, $1.rowid) }.map(\.rowid)
                    let limit = [1, 7, 50, 1000].randomElement(using: &random)!
                    #expect(Self.page(index, query, limit: limit) == expected,
                            "seed \(seed) run capacity \(runCapacity) step \(step) query \(query) limit \(limit)")
                }
            }
        }
    }

    /// Updates take entries out of older runs for good (each moves to the
    /// newest), so without giving room back the runs' memory grows with
    /// every update: here, twelve updates per row, it stays within 3.2
    /// times the entries (about 2.6 with both merging and giving room back;
    /// merging alone settles near 3.8 with runs of 1,024), drained runs are merged (at least an eighth of a
    /// run's entries a run, on average), and lists still find every row in
    /// order. Small runs (64) lean on merging, large ones (1,024) on runs
    /// giving room back.
    @Test(arguments: [UInt64(7), 8], [64, QueryIndex.defaultRunCapacity])
    func memoryFollowsTheEntriesAfterManyUpdates(seed: UInt64, runCapacity: Int) {
        var random = SplitMix64(seed: seed)
        let rows = Int64(max(5_000, 20 * runCapacity))
        var time: Int64 = 0
        var index = QueryIndex((1...rows).map { Self.randomColumns(rowid: $0, time: 0, random: &random) }, runCapacity: runCapacity)
        var latest: [Int64: Int64] = [:]
        for _ in 0..<(12 * rows) {
            time += 1
            let rowid = Int64.random(in: 1...rows, using: &random)
            index.upsert(Self.randomColumns(rowid: rowid, time: time, random: &random))
            latest[rowid] = time
        }
        let label = "seed \(seed), runs of \(runCapacity)"
        #expect(index.count == Int(rows))
        #expect(index.reservedEntries * 10 <= 32 * index.count, "\(label): room for \(index.reservedEntries) entries holding \(index.count)")
        #expect(index.runCount * runCapacity <= 8 * index.count, "\(label): \(index.runCount) runs hold \(index.count) entries")
        let listed = Self.page(index, Query(), limit: 500)
        let expected = (1...rows).sorted { (latest[$0] ?? 0, $0) > (latest[$1] ?? 0, $1) }
        #expect(listed == expected, "\(label)")
    }

    /// Owners are free text: an index whose rows keep getting new owners
    /// holds codes for the owners in use only, a code given back is reused
    /// for a new owner, and a list by owner finds exactly the rows holding it
    /// now (none for an owner no row holds any more).
    @Test func replacedValuesGiveTheirCodesBack() {
        let rows: [Int64] = Array(1...20)
        func columns(_ rowid: Int64, owner: String?, time: Int64) -> QueryIndex.Columns {
            QueryIndex.Columns(rowid: rowid, status: "new", severity: "sev2", region: "EMEA", owner: owner, slaDueAt: nil, updatedAt: time)
        }
        var index = QueryIndex(rows.map { columns($0, owner: "first-\($0)", time: 0) })
        #expect(index.distinctValues == 3 + rows.count)
        var time: Int64 = 1
        var owners: [Int64: String?] = [:]
        for round in 0..<50 {
            for rowid in rows {
                // Some rows lose their owner, the rest get a new one; the same value twice keeps its code.
                let owner: String? = (rowid + Int64(round)) % 7 == 0 ? nil : "owner-\(round)-\(rowid)"
                index.upsert(columns(rowid, owner: owner, time: time))
                if round == 49 { index.upsert(columns(rowid, owner: owner, time: time + 1)) }
                owners[rowid] = owner
                time += 2
            }
        }
        let held = Set(owners.values.compactMap { $0 })
        #expect(index.distinctValues == 3 + held.count, "codes of owners no row holds were kept")
        #expect(index.code("first-1") == nil)
        #expect(index.code("owner-48-2") == nil)
        for (rowid, owner) in owners {
            guard let owner else { continue }
            let code = index.code(owner)
            #expect(code != nil)
            let found = index.positions(matching: QueryIndex.Filter(owner: code), after: nil, limit: 50).map(\.rowid)
            #expect(found == [rowid], "owner \(owner)")
        }
        let everyone = index.positions(matching: QueryIndex.Filter(status: index.code("new")), after: nil, limit: 100)
        #expect(everyone.count == rows.count)
    }

    /// An empty index answers every query with nothing, cursor or not.
    @Test func emptyIndexListsNothing() {
        let index = QueryIndex()
        #expect(index.positions(matching: QueryIndex.Filter(), after: nil, limit: 10).isEmpty)
        #expect(index.positions(matching: QueryIndex.Filter(), after: QueryIndex.Position(updatedAt: 5, rowid: 1), limit: 10).isEmpty)
    }
}
