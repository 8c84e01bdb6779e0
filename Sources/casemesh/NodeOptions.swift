import ArgumentParser
import CaseMeshCLI
import CaseMeshNode
import Foundation

/// Where the people's commands send their requests, and how they print.
struct NodeOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The node's URL. Default: $CASEMESH_NODE, else the local cluster's EMEA node.", valueName: "URL"))
    var node: String?

    @Option(name: .long, help: ArgumentHelp("An API token. Default: $CASEMESH_TOKEN, else the local cluster's global manager.", valueName: "TOKEN"))
    var token: String?

    @Flag(name: .long, help: "Print the node's JSON answer instead of text.")
    var json = false

    /// The local cluster `casemesh cluster up` made, if any ($CASEMESH_CLUSTER_DIR or .casemesh/local).
    static var localManifest: LocalCluster.Manifest? {
        let directory = ProcessInfo.processInfo.environment["CASEMESH_CLUSTER_DIR"] ?? ".casemesh/local"
        return try? LocalCluster(directory: directory, executable: "").manifest()
    }

    func client() throws -> NodeClient {
        let environment = ProcessInfo.processInfo.environment
        let local = Self.localManifest
        guard let url = node ?? environment["CASEMESH_NODE"] ?? local?.nodes.first?.url else {
            throw CLIError("no node: pass --node URL or set CASEMESH_NODE (or start a local cluster with casemesh cluster up)")
        }
        guard let token = token ?? environment["CASEMESH_TOKEN"] ?? local?.token(.globalManager) else {
            throw CLIError("no token: pass --token or set CASEMESH_TOKEN (casemesh tokens add makes one)")
        }
        return try NodeClient(node: url, token: token)
    }

    /// Prints the JSON answer with --json, else `text()`.
    func output(_ reply: NodeClient.Reply, _ text: (JSONValue) -> String) {
        print(json ? reply.body.prettyText : text(reply.body))
    }
}

var nowMillis: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
var width: Int { terminalWidth(ProcessInfo.processInfo.environment) }
