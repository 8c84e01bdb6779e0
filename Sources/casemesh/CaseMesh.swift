import ArgumentParser
import CaseMeshCRDT
import CaseMeshTransport
import Foundation

/// The one CaseMesh executable.
@main
struct CaseMesh: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "casemesh",
        abstract: "A replicated store of escalated customer cases, one node per regional office.",
        subcommands: [CaseCommand.self, ReportCommand.self, ClusterCommand.self, Serve.self, Tokens.self, Certs.self]
    )
}

struct Certs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Certificates for the mutual TLS between nodes.",
        subcommands: [Init.self]
    )

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a cluster CA and a certificate and key for each node.",
            discussion: """
                Writes ca.pem and ca-key.pem (the cluster's certificate authority) and, for each \
                node, <node>.pem and <node>-key.pem into DIR. Keys are readable by their owner \
                only (0600). Nodes trust this CA and nothing else; a node's identity is the \
                casemesh://node/<id> name in its certificate. Refuses to run over an existing CA.
                """
        )

        @Option(name: .long, help: ArgumentHelp("Folder to write the certificates into (created if missing).", valueName: "DIR"))
        var dir: String

        @Option(name: .customLong("node"), help: ArgumentHelp("A node id (a-z, 0-9, '-'); repeat for each node.", valueName: "ID"))
        var nodes: [String] = []

        @Option(name: .customLong("host"), help: ArgumentHelp("A DNS name or IP address the nodes are reached at, added to every node certificate; repeatable.", valueName: "HOST"))
        var hosts: [String] = []

        func validate() throws {
            guard !nodes.isEmpty else { throw ValidationError("name at least one node with --node ID") }
            for node in nodes {
                do { _ = try ReplicaID(validating: node) } catch { throw ValidationError("node id \"\(node)\" \(error.reason)") }
            }
            guard Set(nodes).count == nodes.count else { throw ValidationError("a node is named twice") }
        }

        func run() throws {
            let ids = nodes.map { ReplicaID($0) }
            do {
                let written = try ClusterCertificates.writeCluster(to: dir, nodes: ids, hosts: hosts)
                for path in written { print("wrote \(path)") }
            } catch let error as CocoaError where error.code == .fileWriteFileExists {
                throw ValidationError("\(dir)/ca.pem already exists; remove \(dir) to start a new cluster")
            }
        }
    }
}
