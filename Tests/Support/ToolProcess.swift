import Foundation

/// Runs the built `casemesh` executable as a separate process, the way a
/// person or a script would, off the cooperative pool.
public enum ToolProcess {
    /// `casemesh` next to the test bundle (or in $CASEMESH_BIN_DIR).
    public static let casemesh: URL = {
        let directory = ProcessInfo.processInfo.environment["CASEMESH_BIN_DIR"].map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return directory.appendingPathComponent("casemesh")
    }()

    public static var isBuilt: Bool { FileManager.default.isExecutableFile(atPath: casemesh.path) }

    public struct Result: Sendable {
        public var status: Int32
        public var output: String
        public var error: String
    }

    /// Runs `casemesh arguments…` to completion on a thread of its own.
    public static func run(_ arguments: [String], environment: [String: String] = [:], directory: String? = nil) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                do {
                    continuation.resume(returning: try runBlocking(arguments, environment: environment, directory: directory))
                } catch {
                    continuation.resume(throwing: error)
                }
            }.start()
        }
    }

    public static func runBlocking(_ arguments: [String], environment: [String: String] = [:], directory: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = casemesh
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        for name in ["CASEMESH_NODE", "CASEMESH_TOKEN", "CASEMESH_CLUSTER_DIR"] { merged[name] = nil }
        merged.merge(environment) { $1 }
        process.environment = merged
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes fully before waiting, so a chatty process cannot block on a full pipe.
        final class Collected: @unchecked Sendable { var data = Data() }
        let errorData = Collected()
        let done = DispatchSemaphore(value: 0)
        Thread {
            errorData.data = err.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }.start()
        let outputData = out.fileHandleForReading.readDataToEndOfFile()
        done.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, output: String(decoding: outputData, as: UTF8.self),
                      error: String(decoding: errorData.data, as: UTF8.self))
    }
}
