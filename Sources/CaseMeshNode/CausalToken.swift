import CaseMeshCRDT
import CaseMeshReplication
import Foundation

/// The `CaseMesh-Causal-Token` of a write: the log positions that hold it,
/// as opaque base64url text. A read with `?after=TOKEN` on any node waits
/// until that node has applied at least these positions.
enum CausalToken {
    static let header = "CaseMesh-Causal-Token"

    static func encode(_ positions: LogPositions) -> String {
        let text = positions.sorted { $0.key < $1.key }.map { "\($0.key.rawValue):\($0.value)" }.joined(separator: ",")
        return Base64URL.encode(text.utf8)
    }

    static func decode(_ token: String) throws(APIError) -> LogPositions {
        let invalid = APIError.badRequest("after is not a causal token (use the CaseMesh-Causal-Token header of a write)", field: "after")
        guard token.utf8.count <= 4_096 else { throw invalid }
        guard let data = Base64URL.decode(token), let text = String(data: data, encoding: .utf8), !text.isEmpty else { throw invalid }
        var positions: LogPositions = [:]
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, parts[0].utf8.count <= 64, let counter = UInt64(parts[1]),
                  counter > 0, counter <= UInt64(Int64.max) else { throw invalid }
            positions[ReplicaID(String(parts[0]))] = counter
        }
        return positions
    }

    static func covers(_ applied: LogPositions, _ wanted: LogPositions) -> Bool {
        wanted.allSatisfy { (applied[$0.key] ?? 0) >= $0.value }
    }
}
