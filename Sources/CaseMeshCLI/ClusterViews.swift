import CaseMeshNode

/// What `cluster up` prints: where each node is, a token per role, and what to try.
public enum ClusterViews {
    public static func summary(_ manifest: LocalCluster.Manifest, directory: String, seeded: Bool) -> String {
        var lines = ["CaseMesh local cluster is up (\(directory))" + (seeded ? ", seeded with sample escalations" : ""), ""]
        var nodes = Table(["  REGION", "API", "REPLICATION", "LOG"])
        for node in manifest.nodes {
            nodes.add(["  \(node.region)", node.url, "127.0.0.1:\(node.gossipPort)", "\(directory)/\(node.id).log"])
        }
        lines.append(nodes.render())
        lines.append("")
        var tokens = Table(["  ROLE", "REGION", "NAME", "TOKEN"])
        for credential in manifest.tokens {
            tokens.add(["  \(credential.role)", credential.region ?? "all", credential.name, credential.token])
        }
        lines.append(tokens.render())
        let global = manifest.token(.globalManager) ?? "TOKEN"
        lines.append("")
        lines.append("Try (commands default to the EMEA node and the global manager's token):")
        lines.append("  casemesh case list --breached          # past an SLA deadline")
        lines.append("  casemesh case show demo-emea-01        # a cross-region conflict, shown not hidden")
        lines.append("  casemesh report daily --region APAC")
        lines.append("  casemesh cluster status")
        lines.append("  curl -H 'Authorization: Bearer \(global)' \(manifest.nodes.first?.url ?? "")/v1/cases")
        lines.append("  casemesh cluster down")
        return lines.joined(separator: "\n")
    }
}
