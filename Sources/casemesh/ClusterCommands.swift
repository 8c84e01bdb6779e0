import ArgumentParser
import CaseMeshCLI
import CaseMeshNode
import Foundation

/// `casemesh cluster …`: the local three-region cluster, and any cluster's status.
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Run a local three-region cluster (EMEA, AMER, APAC) on loopback, or show a cluster's state.",
        subcommands: [Up.self, Down.self, Status.self]
    )

    /// This executable, which the nodes run as `casemesh serve`.
    static var executable: String {
        let path = CommandLine.arguments[0]
        if path.contains("/") { return URL(fileURLWithPath: path).standardizedFileURL.path }
        return (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
            .map { "\($0)/\(path)" }.first { FileManager.default.isExecutableFile(atPath: $0) } ?? path
    }

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start EMEA, AMER and APAC on loopback; the first time, create certificates and tokens and seed about 50 escalations.",
            discussion: "Nodes keep running after this command returns (logs and pid files in DIR); stop them with casemesh cluster down. Running it again starts any node that is not running and prints the same URLs and tokens.")
        @Option(help: "Where the cluster lives.") var dir = ".casemesh/local"
        @Option(name: .customLong("api-port"), help: "First HTTP port (EMEA; AMER and APAC take the next two). Only used the first time.") var apiPort = 8080
        @Option(name: .customLong("gossip-port"), help: "First replication port. Only used the first time.") var gossipPort = 7080
        @Flag(name: .customLong("no-seed"), help: "Start empty instead of with the sample escalations.") var noSeed = false

        func run() async throws {
            let cluster = LocalCluster(directory: dir, executable: ClusterCommand.executable)
            let (manifest, seeded) = try await cluster.up(apiPort: apiPort, gossipPort: gossipPort, seed: !noSeed, progress: Progress())
            print(ClusterViews.summary(manifest, directory: dir, seeded: seeded))
        }
    }

    struct Down: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the local cluster's nodes (SIGTERM: in-flight writes finish); data stays for the next cluster up.")
        @Option(help: "Where the cluster lives.") var dir = ".casemesh/local"

        func run() async throws {
            let stopped = try await LocalCluster(directory: dir, executable: ClusterCommand.executable).down(progress: Progress())
            print(stopped.isEmpty ? "no node of \(dir) was running" : "stopped \(stopped.joined(separator: ", ")); data kept in \(dir)")
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Each node's view: cases, digest, and its peers' state, last contact and lag.",
            discussion: "With --node, that node's view; otherwise every node of the local cluster.")
        @OptionGroup var options: NodeOptions

        func run() async throws {
            var targets: [String] = []
            if let node = options.node ?? ProcessInfo.processInfo.environment["CASEMESH_NODE"] {
                targets = [node]
            } else if let manifest = NodeOptions.localManifest {
                targets = manifest.nodes.map(\.url)
            }
            let base = try options.client()
            if targets.isEmpty { targets = [base.base.absoluteString] }
            var views: [JSONValue] = []
            var texts: [String] = []
            var failures = 0
            for url in targets {
                let client = try NodeClient(node: url, token: base.token, timeout: 5)
                do {
                    let reply = try await client.send("GET", "/v1/cluster")
                    views.append(reply.body)
                    texts.append(CaseViews.cluster(reply.body, url: url))
                } catch {
                    failures += 1
                    views.append(.object(["url": .string(url), "error": .string(error.description)]))
                    texts.append("\(url): DOWN (\(error.description))")
                }
            }
            if options.json {
                print(JSONValue.array(views).prettyText)
            } else {
                print(texts.joined(separator: "\n\n"))
                let digests = Swift.Set(views.compactMap { $0["digest"]?.string })
                if views.count > 1 && failures == 0 {
                    print(digests.count == 1 ? "\nall \(views.count) nodes hold the same cases" : "\nthe nodes differ (replication is catching up)")
                }
            }
            if failures > 0 { throw ExitCode(1) }
        }
    }
}

/// `casemesh report …`.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "Reports for escalation managers.", subcommands: [Daily.self])

    struct Daily: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The Regional Escalation Manager's daily status: open cases by status and severity, the breached and the escalated.")
        @OptionGroup var options: NodeOptions
        @Option(help: "The region (default: the node's).") var region: String?

        func run() async throws {
            let reply = try await options.client().send("GET", "/v1/reports/daily", query: region.map { [("region", $0)] } ?? [])
            options.output(reply) { CaseViews.report($0, now: nowMillis, width: width) }
        }
    }
}
