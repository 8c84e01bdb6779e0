import CaseMeshReplication
import Synchronization

/// Bytes and frames a transport sent and received, by message kind (for
/// metrics and the replication benchmark). Frame bytes include the 4-byte
/// length prefix, not TLS record overhead.
public final class WireCounters: Sendable {
    public struct Count: Sendable, Equatable {
        public var frames = 0
        public var bytes = 0
        public init(frames: Int = 0, bytes: Int = 0) {
            self.frames = frames
            self.bytes = bytes
        }
    }

    private let state = Mutex<(sent: [String: Count], received: [String: Count])>(([:], [:]))

    public init() {}

    static func kind(_ message: WireMessage) -> String {
        switch message {
        case .hello: return "hello"
        case let .replication(message):
            switch message {
            case .applied: return "applied"
            case .entries: return "entries"
            case .catchUpOffer: return "catchUpOffer"
            case .catchUpRequest: return "catchUpRequest"
            case .catchUpCases: return "catchUpCases"
            case .catchUpAck: return "catchUpAck"
            }
        }
    }

    func record(sent message: WireMessage, bytes: Int) {
        state.withLock { $0.sent[Self.kind(message), default: Count()].add(bytes) }
    }

    func record(received message: WireMessage, bytes: Int) {
        state.withLock { $0.received[Self.kind(message), default: Count()].add(bytes) }
    }

    private let refusals = Mutex(0)

    /// Incoming connections refused (bad certificate, wrong identity, bad hello or frame).
    public var refusedConnections: Int { refusals.withLock { $0 } }

    func recordRefusal() { refusals.withLock { $0 += 1 } }

    public var sent: [String: Count] { state.withLock { $0.sent } }
    public var received: [String: Count] { state.withLock { $0.received } }

    public func reset() { state.withLock { $0 = ([:], [:]) } }
}

extension WireCounters.Count {
    mutating func add(_ frameBytes: Int) {
        frames += 1
        bytes += frameBytes + 4
    }
}
