import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing
import CaseMeshTestSupport

/// Keeps every record logged through it (no global bootstrap).
final class CapturedLog: Sendable {
    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    private let records = Mutex<[Record]>([])
    var all: [Record] { records.withLock { $0 } }

    func logger(level: Logger.Level) -> Logger {
        var logger = Logger(label: "casemesh.api-tests") { _ in Handler(log: self) }
        logger.logLevel = level
        return logger
    }

    fileprivate func append(_ record: Record) { records.withLock { $0.append(record) } }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
                 file: String, function: String, line: UInt) {
            let merged = self.metadata.merging(metadata ?? [:]) { $1 }
            log.append(Record(level: level, message: message.description, metadata: merged.mapValues { "\($0)" }))
        }
    }
}

@Suite struct APILogTests {
    /// Writes are logged at info with the case id, method, route and status;
    /// reads only at debug; refusals carry their error code; no record at
    /// info or above holds what the user wrote.
    @Test func requestsAreLoggedWithIdsAndWithoutContent() async throws {
        let captured = CapturedLog()
        let fixture = try APIFixture.make(logger: captured.logger(level: .info))
        let secret = "Customer-Secret-7f3a"
        do {
            try await fixture.app.test(.router) { client in
                let id = try await createCase(fixture, client, body: #"{"title":"\#(secret)","customer":"Acme","product":"Payments","severity":"sev2"}"#)
                try await client.execute(uri: "/v1/cases/\(id)/notes", method: .post, headers: fixture.headers("engineer"),
                                         body: ByteBuffer(string: #"{"text":"\#(secret) called"}"#)) { response in
                    #expect(response.status == .created)
                }
                try await client.execute(uri: "/v1/cases/\(id)", method: .get, headers: fixture.headers("viewer")) { _ in }
                try await client.execute(uri: "/v1/cases/\(id)", method: .patch, headers: fixture.headers("engineer"),
                                         body: ByteBuffer(string: #"{"owner":7}"#)) { response in
                    #expect(response.status == .badRequest)
                }
                let records = captured.all
                #expect(records.count == 3, "\(records.map { "\($0.metadata)" })")
                let note = records.first { $0.metadata["route"] == "/v1/cases/{id}/notes" }
                #expect(note?.level == .info)
                #expect(note?.metadata["case"] == id)
                #expect(note?.metadata["status"] == "201")
                #expect(note?.metadata["method"] == "POST")
                let refused = records.first { $0.metadata["status"] == "400" }
                #expect(refused?.metadata["error"] == "bad_request")
                #expect(!records.contains { $0.metadata["method"] == "GET" }, "reads are logged at debug only")
                for record in records {
                    #expect(!record.message.contains(secret) && !record.metadata.values.contains { $0.contains(secret) })
                }
            }
        } catch {
            await fixture.close()
            throw error
        }
        await fixture.close()
    }
}
