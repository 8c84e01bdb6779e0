// casemesh-fuzz-wire: the wire decoder under libFuzzer.
//
// Built by scripts/fuzz-wire with `--sanitize=fuzzer -Xswiftc -DFUZZING`,
// libFuzzer calls `LLVMFuzzerTestOneInput` with mutated frames. In a normal
// build the same check runs over files named on the command line (to replay
// a crash or a corpus), and `--write-seeds DIR` writes valid frames of every
// kind as a starting corpus.

import CaseMeshCRDT
import CaseMeshDomain
import CaseMeshReplication
import Foundation

/// Decoding never traps; what decodes re-encodes to the same message.
func check(_ bytes: [UInt8]) {
    if let message = try? WireMessage(decoding: bytes) {
        guard let again = try? WireMessage(decoding: message.encoded), again == message else {
            fatalError("a decoded frame does not survive re-encoding: \(message)")
        }
        if case let .replication(.entries(entries)) = message {
            // The shell decodes every delta it is handed.
            for entry in entries { _ = try? CaseState(decoding: entry.delta) }
        }
    }
    _ = try? CaseState(decoding: bytes)
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWire(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    check(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
#else
@main
struct ReplayWireInputs {
    static func main() throws {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "--write-seeds", arguments.count == 2 {
            try writeSeeds(to: arguments[1])
            return
        }
        if arguments.isEmpty {
            FileHandle.standardError.write(Data("usage: casemesh-fuzz-wire FILE... | --write-seeds DIR\n".utf8))
            exit(2)
        }
        var checked = 0
        while let path = arguments.first {
            arguments.removeFirst()
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                arguments += try FileManager.default.contentsOfDirectory(atPath: path).map { path + "/" + $0 }
                continue
            }
            check([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
            checked += 1
        }
        print("casemesh-fuzz-wire: \(checked) inputs decoded without a fault")
    }

    static func writeSeeds(to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let emea = ReplicaID("emea")
        let state = try CaseState.create(
            NewCase(id: try CaseID("seed-1"), number: "EMEA-000001", region: try Region("EMEA"), title: "Login loop after SSO",
                    customer: "Contoso", product: "Identity Gateway", severity: .sev2),
            context: CommandContext(replica: emea, time: HLCTimestamp(wallMillis: 1_768_212_000_000), actor: "ana"))
        let seeds: [WireMessage] = [
            .hello(node: emea, cluster: "casemesh"),
            .replication(.applied([emea: 12, ReplicaID("amer"): 3])),
            .replication(.entries([LogEntry(origin: emea, counter: 1, delta: state.encodedBytes)])),
            .replication(.catchUpOffer(session: 7, positions: [emea: 12], buckets: Array(repeating: state.digest, count: CaseBucket.count))),
            .replication(.catchUpRequest(session: 7, part: 0, parts: 1, buckets: [3, 200], have: [CaseFingerprint(id: state.id, digest: state.digest)])),
            .replication(.catchUpCases(session: 7, part: 0, last: true, cases: [state.encodedBytes])),
            .replication(.catchUpAck(session: 7, parts: 1)),
        ]
        for (index, seed) in seeds.enumerated() {
            try Data(seed.encoded).write(to: URL(fileURLWithPath: "\(directory)/seed-\(index)"))
        }
        print("casemesh-fuzz-wire: wrote \(seeds.count) seeds to \(directory)")
    }
}
#endif
