import Foundation
import Testing

/// `casemesh certs init`, run as the real executable.
@Suite struct CertsCommandTests {
    /// Where `swift build` put the executables: next to the test bundle.
    static let casemesh: URL = {
        let directory = ProcessInfo.processInfo.environment["CASEMESH_BIN_DIR"].map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return directory.appendingPathComponent("casemesh")
    }()

    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = casemesh
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func initWritesTheClusterAndRefusesBadInput() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.casemesh.path),
                     "the casemesh executable is built next to the tests (swift build --build-tests)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("casemesh-cli-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let made = try Self.run(["certs", "init", "--dir", dir, "--node", "emea", "--node", "amer", "--node", "apac", "--host", "127.0.0.1"])
        #expect(made.status == 0, "\(made.output)")
        for name in ["ca", "emea", "amer", "apac"] {
            let key = try FileManager.default.attributesOfItem(atPath: "\(dir)/\(name)-key.pem")[.posixPermissions] as? Int
            #expect(key == 0o600, "\(name)-key.pem")
            #expect(FileManager.default.fileExists(atPath: "\(dir)/\(name).pem"))
        }
        let again = try Self.run(["certs", "init", "--dir", dir, "--node", "emea"])
        #expect(again.status != 0)
        #expect(again.output.contains("already exists"), "\(again.output)")
        let badNode = try Self.run(["certs", "init", "--dir", dir + "-2", "--node", "EMEA"])
        #expect(badNode.status != 0)
        #expect(badNode.output.contains("node id \"EMEA\""), "\(badNode.output)")
        let noNode = try Self.run(["certs", "init", "--dir", dir + "-3"])
        #expect(noNode.status != 0)
        #expect(noNode.output.contains("--node"), "\(noNode.output)")
        #expect(!FileManager.default.fileExists(atPath: dir + "-2") && !FileManager.default.fileExists(atPath: dir + "-3"))
    }
}
