import NIOCore

/// Why a connection's byte stream was refused.
public enum FrameError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooLarge(length: UInt32, limit: Int)
    case empty

    public var description: String {
        switch self {
        case let .tooLarge(length, limit): return "a frame of \(length) bytes exceeds the limit of \(limit)"
        case .empty: return "an empty frame"
        }
    }
}

/// Splits the stream into frames: a 4-byte big-endian length, then that
/// many bytes. A length over the limit closes the connection before any of
/// the frame is buffered, so a peer cannot make us allocate what it claims.
public struct FrameDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = ByteBuffer
    public let maxFrameBytes: Int

    public init(maxFrameBytes: Int) { self.maxFrameBytes = maxFrameBytes }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard length > 0 else { throw FrameError.empty }
        guard Int(length) <= maxFrameBytes else { throw FrameError.tooLarge(length: length, limit: maxFrameBytes) }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        let frame = buffer.readSlice(length: Int(length))!
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }
}

/// Prefixes each outgoing frame with its length.
public struct FrameEncoder: MessageToByteEncoder, Sendable {
    public typealias OutboundIn = ByteBuffer

    public init() {}

    public func encode(data: ByteBuffer, out: inout ByteBuffer) throws {
        out.writeInteger(UInt32(data.readableBytes))
        out.writeImmutableBuffer(data)
    }
}
