import CaseMeshDomain
import CaseMeshNode
import Foundation
import Testing

@Suite struct TokenFileTests {
    func temporaryFile() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("casemesh-tokens-\(UUID().uuidString)").path
    }

    @Test func tokensAreStoredHashedWithOwnerOnlyPermissions() throws {
        let path = temporaryFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let token = try TokenFile.add(to: path, name: "ana", role: .engineer, region: Region("EMEA"))
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(!text.contains(token), "the token itself must not be written down")
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let file = try TokenFile.load(path)
        #expect(file.principal(for: token) == Principal(name: "ana", role: .engineer, region: try Region("EMEA")))
        #expect(file.principal(for: token + "x") == nil)
    }

    @Test func badRequestsAreRefusedAndLeaveTheFileAlone() throws {
        let path = temporaryFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try TokenFile.add(to: path, name: "ana", role: .viewer, region: nil)
        let before = try String(contentsOfFile: path, encoding: .utf8)
        #expect(throws: TokenFile.Failure.invalid("an engineer token needs --region (e.g. --region EMEA)")) {
            try TokenFile.add(to: path, name: "bo", role: .engineer, region: nil)
        }
        #expect(throws: TokenFile.Failure.self) { try TokenFile.add(to: path, name: "cy", role: .globalManager, region: try Region("EMEA")) }
        #expect(throws: TokenFile.Failure.self) { try TokenFile.add(to: path, name: "ana", role: .viewer, region: nil) }
        #expect(throws: TokenFile.Failure.self) { try TokenFile.add(to: path, name: "  ", role: .viewer, region: nil) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == before)
    }

    @Test func aDamagedFileIsReportedWithItsLine() throws {
        let path = temporaryFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "{\"name\":\"a\",\"role\":\"viewer\",\"sha256\":\"\(String(repeating: "a", count: 64))\"}\nnot json\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: TokenFile.Failure.malformed(path: path, line: 2, reason: "not a token entry")) { try TokenFile.load(path) }
        #expect(try TokenFile.load(temporaryFile()).count == 0, "a missing file holds no tokens")
    }
}
