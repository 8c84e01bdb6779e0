import CaseMeshCRDT
import CaseMeshNode
import CaseMeshTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// The movable clock behind `serve --fault-injection`, and its API.
@Suite struct FaultClockTests {
    @Test func offsetAndStrobeFollowTheRealClock() {
        let real = Mutex<UInt64>(1_000_000)
        let clock = FaultClock(base: FunctionWallClock { real.withLock { $0 } })
        #expect(clock.nowMillis() == 1_000_000)
        clock.set(.init(offsetMillis: -2_500))
        #expect(clock.nowMillis() == 997_500)
        // A strobe of +400 ms every other 100 ms of real time.
        clock.set(.init(offsetMillis: 0, strobeMillis: 400, strobePeriodMillis: 100))
        real.withLock { $0 = 1_000_050 }  // period 10,000: even, no shift
        #expect(clock.nowMillis() == 1_000_050)
        real.withLock { $0 = 1_000_150 }  // period 10,001: odd, shifted
        #expect(clock.nowMillis() == 1_000_550)
        real.withLock { $0 = 1_000_250 }
        #expect(clock.nowMillis() == 1_000_250)
        // Never below zero, however far back it is set.
        clock.set(.init(offsetMillis: -FaultClock.limitMillis))
        real.withLock { $0 = 5 }
        #expect(clock.nowMillis() == 0)
    }

    @Test func theRouteExistsOnlyWithFaultInjection() async throws {
        let fixture = try APIFixture.make()
        try await fixture.app.test(.router) { client in
            for method in [HTTPRequest.Method.get, .put] {
                try await client.execute(uri: "/v1/faults/clock", method: method, headers: fixture.headers("global"), body: ByteBuffer(string: "{}")) { response in
                    #expect(response.status == .notFound)
                }
            }
        }
        await fixture.close()
    }

    @Test func aGlobalManagerMovesTheClockAndWritesCarryTheMovedTime() async throws {
        let clock = FaultClock()
        let fixture = try APIFixture.make(faultClock: clock)
        try await fixture.app.test(.router) { client in
            // Only a global manager may move it.
            for who in ["viewer", "engineer", "manager"] {
                try await client.execute(uri: "/v1/faults/clock", method: .put, headers: fixture.headers(who), body: ByteBuffer(string: #"{"offsetMillis":1000}"#)) { response in
                    #expect(response.status == .forbidden, "\(who)")
                }
            }
            try await client.execute(uri: "/v1/faults/clock", method: .put, headers: fixture.headers(nil), body: ByteBuffer(string: "{}")) { response in
                #expect(response.status == .unauthorized)
            }
            #expect(clock.current == FaultClock.Setting())

            // Bad settings are refused and change nothing.
            for (body, field) in [(#"{"offsetMillis":86400001}"#, "offsetMillis"), (#"{"strobeMillis":300}"#, "strobePeriodMillis"),
                                  (#"{"strobeMillis":300,"strobePeriodMillis":-1}"#, "strobePeriodMillis")] {
                try await client.execute(uri: "/v1/faults/clock", method: .put, headers: fixture.headers("global"), body: ByteBuffer(string: body)) { response in
                    #expect(response.status == .unprocessableContent, "\(body)")
                    #expect(errorField(response) == field, "\(body)")
                }
            }
            try await client.execute(uri: "/v1/faults/clock", method: .put, headers: fixture.headers("global"), body: ByteBuffer(string: #"{"offsetMillis":"soon"}"#)) { response in
                #expect(response.status == .badRequest)
            }
            #expect(clock.current == FaultClock.Setting())

            // An hour ahead: the answer and the next write's timeline both show it.
            let hour: Int64 = 3_600_000
            let before = Int64(Date().timeIntervalSince1970 * 1000)
            try await client.execute(uri: "/v1/faults/clock", method: .put, headers: fixture.headers("global"), body: ByteBuffer(string: #"{"offsetMillis":3600000}"#)) { response in
                #expect(response.status == .ok)
                let wall = try #require(try json(response)["wallMillis"]?.int)
                #expect(wall >= before + hour && wall < before + hour + 60_000)
            }
            let id = try await createCase(fixture, client)
            try await client.execute(uri: "/v1/cases/\(id)", method: .get, headers: fixture.headers("viewer")) { response in
                let created = try #require(try json(response)["createdAt"]?.int)
                #expect(created >= before + hour, "the write's hybrid timestamp comes from the moved clock")
            }
            // `{}` puts the real clock back.
            try await client.execute(uri: "/v1/faults/clock", method: .put, headers: fixture.headers("global"), body: ByteBuffer(string: "{}")) { response in
                #expect(response.status == .ok)
                let offset = try json(response)["offsetMillis"]?.int
                #expect(offset == 0)
            }
            #expect(clock.current == FaultClock.Setting())
        }
        await fixture.close()
    }
}
