import CaseMeshNode
import Foundation

extension LocalCluster {
    /// `cluster up`: prepares the directory the first time, starts every
    /// node that is not running, and seeds the demo escalations into a new
    /// cluster (including one cross-region conflict).
    public func up(apiPort: Int, gossipPort: Int, seed: Bool, progress: Progress) async throws -> (manifest: Manifest, seeded: Bool) {
        let (manifest, fresh) = try await progress.step(fresh(apiPort, gossipPort) ? "creating certificates and tokens in \(directory)" : "reading \(manifestPath)") {
            try prepare(apiPort: apiPort, gossipPort: gossipPort)
        }
        let stopped = manifest.nodes.filter { runningPID($0) == nil }
        if !stopped.isEmpty {
            for node in stopped {
                if let busy = Self.portInUse(node.apiPort) ?? Self.portInUse(node.gossipPort) {
                    throw CLIError("port \(busy) is taken by another program; stop it, or remove \(directory) and run cluster up with --api-port/--gossip-port")
                }
            }
            try await progress.step("starting \(stopped.map { $0.region }.joined(separator: ", "))") {
                for node in stopped { try start(node, in: manifest) }
                for node in stopped { try await waitUntilServing(node) }
            }
        } else {
            progress.note("all three nodes are already running")
        }
        guard fresh && seed else { return (manifest, false) }
        let plans = DemoSeed.plans(now: Int64(Date().timeIntervalSince1970 * 1000))
        try await progress.step("seeding \(plans.count) escalations across the three regions") {
            try await seedCases(plans, manifest)
        }
        try await progress.step("recording a cross-region conflict on \(plans[0].id)") {
            try await seedConflict(on: plans[0].id, manifest)
        }
        try await progress.step("waiting until the three nodes hold the same cases") {
            try await waitForConvergence(manifest)
        }
        return (manifest, true)
    }

    private func fresh(_ apiPort: Int, _ gossipPort: Int) -> Bool { !FileManager.default.fileExists(atPath: manifestPath) }

    func client(_ manifest: Manifest, region: String, _ role: Role) throws(CLIError) -> NodeClient {
        guard let node = manifest.nodes.first(where: { $0.region == region }),
              let token = manifest.token(role, region: role == .engineer || role == .regionalManager ? region : nil) else {
            throw CLIError("the manifest has no \(role.rawValue) for \(region)")
        }
        return try NodeClient(node: node.url, token: token)
    }

    /// Each region's engineers write their own cases on their own node.
    func seedCases(_ plans: [DemoSeed.Plan], _ manifest: Manifest) async throws {
        for plan in plans {
            let engineer = try client(manifest, region: plan.region, .engineer)
            let manager = try client(manifest, region: plan.region, .regionalManager)
            try await engineer.send("POST", "/v1/cases", body: plan.create)
            for step in plan.steps {
                do {
                    try await (step.manager ? manager : engineer).send(step.method, "/v1/cases/\(plan.id)\(step.path)", body: step.body)
                } catch {
                    throw CLIError("seeding \(plan.id): \(step.method) \(step.path): \(error)")
                }
            }
        }
    }

    /// Two regions change one field without hearing each other: AMER is
    /// stopped while EMEA writes, then runs alone while a global manager
    /// writes there, then rejoins. Every node then shows the same winner and
    /// the losing value as a conflict.
    func seedConflict(on id: String, _ manifest: Manifest) async throws {
        guard let amer = manifest.nodes.first(where: { $0.region == "AMER" }), let global = manifest.token(.globalManager) else {
            throw CLIError("the manifest has no AMER node or global manager")
        }
        try await waitForConvergence(manifest)
        await stop(amer)
        try await client(manifest, region: "EMEA", .engineer).send("PATCH", "/v1/cases/\(id)", body: .object(["owner": .string("Lars Berg")]))
        try start(amer, in: manifest, withPeers: false)
        try await waitUntilServing(amer)
        try await NodeClient(node: amer.url, token: global).send("PATCH", "/v1/cases/\(id)", body: .object(["owner": .string("Maya Lopez")]))
        await stop(amer)
        try start(amer, in: manifest)
        try await waitUntilServing(amer)
    }

    /// `cluster down`: SIGTERM to each running node; the names of those stopped.
    public func down(progress: Progress) async throws -> [String] {
        guard let manifest = try manifest() else { throw CLIError("no local cluster in \(directory) (casemesh cluster up creates one)") }
        let running = manifest.nodes.filter { runningPID($0) != nil }
        guard !running.isEmpty else { return [] }
        await progress.step("stopping \(running.map(\.region).joined(separator: ", "))") {
            await withTaskGroup(of: Void.self) { group in
                for node in running { group.addTask { await stop(node) } }
            }
        }
        return running.map(\.id)
    }

    /// The port's number if something on loopback already accepts on it.
    static func portInUse(_ port: Int) -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        return connected ? port : nil
    }
}
