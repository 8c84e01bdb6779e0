import CaseMeshSHA

/// SHA-256 (FIPS 180-4), so the pure core can hash state digests without
/// linking a crypto library. Used for equality checks between replicas, where
/// a collision would make two different states look equal. Full blocks go
/// through the CPU's SHA instructions where it has them.
public struct SHA256: Sendable {
    /// This CPU has SHA instructions.
    static let hardware = casemesh_sha256_has_hardware() != 0
    private let useHardware: Bool

    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
    )
    private var buffer: [UInt8] = []
    private var length: UInt64 = 0

    private static let k: [UInt32] = withUnsafeBytes(of: casemesh_sha256_k) { Array($0.bindMemory(to: UInt32.self)) }

    public init() { self.init(hardware: Self.hardware) }

    /// `hardware: false` always uses the portable code (to compare the two).
    init(hardware: Bool) {
        useHardware = hardware && Self.hardware
        buffer.reserveCapacity(64)
    }

    public mutating func update(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            buffer.append(byte)
            length &+= 1
            if buffer.count == 64 {
                compressBuffer()
            }
        }
    }

    public mutating func update(_ bytes: [UInt8]) {
        length &+= UInt64(bytes.count)
        var index = 0
        if !buffer.isEmpty {
            while index < bytes.count && buffer.count < 64 { buffer.append(bytes[index]); index += 1 }
            if buffer.count == 64 { compressBuffer() }
        }
        let whole = (bytes.count - index) / 64
        if whole > 0 {
            let start = index
            bytes.withUnsafeBufferPointer { compress(UnsafeBufferPointer(rebasing: $0[start..<(start + whole * 64)])) }
            index += whole * 64
        }
        while index < bytes.count { buffer.append(bytes[index]); index += 1 }
    }

    public mutating func finalize() -> [UInt8] {
        let bitLength = length &* 8
        var tail = buffer
        tail.append(0x80)
        while tail.count % 64 != 56 { tail.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        tail.withUnsafeBufferPointer { compress($0) }
        buffer = []
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for word in [state.0, state.1, state.2, state.3, state.4, state.5, state.6, state.7] {
            out.append(UInt8(truncatingIfNeeded: word >> 24))
            out.append(UInt8(truncatingIfNeeded: word >> 16))
            out.append(UInt8(truncatingIfNeeded: word >> 8))
            out.append(UInt8(truncatingIfNeeded: word))
        }
        return out
    }

    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    private mutating func compressBuffer() {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { block in
            _ = block.initialize(from: buffer)
            compress(UnsafeBufferPointer(block))
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Compresses whole blocks (`blocks.count` is a multiple of 64).
    private mutating func compress(_ blocks: UnsafeBufferPointer<UInt8>) {
        if useHardware {
            withUnsafeMutablePointer(to: &state) { words in
                words.withMemoryRebound(to: UInt32.self, capacity: 8) { casemesh_sha256_blocks_hardware($0, blocks.baseAddress, blocks.count / 64) }
            }
            return
        }
        var index = 0
        while index < blocks.count {
            compress(blocks[index..<(index + 64)])
            index += 64
        }
    }

    private mutating func compress<C: Collection<UInt8>>(_ block: C) where C.Index == Int {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
            compress(block, schedule: w)
        }
    }

    private mutating func compress<C: Collection<UInt8>>(_ block: C, schedule w: UnsafeMutableBufferPointer<UInt32>) where C.Index == Int {
        let base = block.startIndex
        for i in 0..<16 {
            w[i] = UInt32(block[base + 4 * i]) << 24 | UInt32(block[base + 4 * i + 1]) << 16
                | UInt32(block[base + 4 * i + 2]) << 8 | UInt32(block[base + 4 * i + 3])
        }
        for i in 16..<64 {
            let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
            let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
            w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
        }
        var (a, b, c, d, e, f, g, h) = state
        for i in 0..<64 {
            let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
            let ch = (e & f) ^ (~e & g)
            let t1 = h &+ s1 &+ ch &+ Self.k[i] &+ w[i]
            let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
            let maj = (a & b) ^ (a & c) ^ (b & c)
            let t2 = s0 &+ maj
            h = g; g = f; f = e; e = d &+ t1
            d = c; c = b; b = a; a = t1 &+ t2
        }
        state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d, state.4 &+ e, state.5 &+ f, state.6 &+ g, state.7 &+ h)
    }

    @inline(__always)
    private func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
}
