extension UInt64: BinaryCodable {
    public func encode(to writer: inout ByteWriter) { writer.write(varint: self) }
    public init(from reader: inout ByteReader) throws(CodecError) { self = try reader.readVarint() }
}

extension UInt32: BinaryCodable {
    public func encode(to writer: inout ByteWriter) { writer.write(varint: UInt64(self)) }
    @inline(__always)
    public init(from reader: inout ByteReader) throws(CodecError) {
        let value = try reader.readVarint()
        guard let narrowed = UInt32(exactly: value) else { throw .invalidValue("\(value) does not fit in 32 bits") }
        self = narrowed
    }
}

extension Int64: BinaryCodable {
    public func encode(to writer: inout ByteWriter) {
        writer.write(varint: UInt64(bitPattern: (self << 1) ^ (self >> 63)))  // zig-zag
    }
    public init(from reader: inout ByteReader) throws(CodecError) {
        let raw = try reader.readVarint()
        self = Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }
}

extension Int: BinaryCodable {
    public func encode(to writer: inout ByteWriter) { Int64(self).encode(to: &writer) }
    public init(from reader: inout ByteReader) throws(CodecError) {
        let value = try Int64(from: &reader)
        guard let narrowed = Int(exactly: value) else { throw .invalidValue("\(value) does not fit in Int") }
        self = narrowed
    }
}

extension Bool: BinaryCodable {
    public func encode(to writer: inout ByteWriter) { writer.write(byte: self ? 1 : 0) }
    public init(from reader: inout ByteReader) throws(CodecError) {
        switch try reader.readByte() {
        case 0: self = false
        case 1: self = true
        case let other: throw .invalidValue("boolean byte \(other)")
        }
    }
}

extension String: BinaryCodable {
    public func encode(to writer: inout ByteWriter) { writer.write(string: self) }
    public init(from reader: inout ByteReader) throws(CodecError) { self = try reader.readString() }
}

extension Optional: BinaryEncodable where Wrapped: BinaryEncodable {
    public func encode(to writer: inout ByteWriter) {
        switch self {
        case .none: writer.write(byte: 0)
        case let .some(value): writer.write(byte: 1); value.encode(to: &writer)
        }
    }
}

extension Optional: BinaryDecodable where Wrapped: BinaryDecodable {
    public init(from reader: inout ByteReader) throws(CodecError) {
        switch try reader.readByte() {
        case 0: self = .none
        case 1: self = .some(try Wrapped(from: &reader))
        case let other: throw .invalidValue("optional tag \(other)")
        }
    }
}

extension Array: BinaryEncodable where Element: BinaryEncodable {
    public func encode(to writer: inout ByteWriter) {
        writer.write(varint: UInt64(count))
        for element in self { element.encode(to: &writer) }
    }
}

extension Array: BinaryDecodable where Element: BinaryDecodable {
    public init(from reader: inout ByteReader) throws(CodecError) {
        let count = try reader.readCount()
        self = []
        reserveCapacity(count)
        for _ in 0..<count { append(try Element(from: &reader)) }
    }
}

extension ReplicaID: BinaryCodable {
    public func encode(to writer: inout ByteWriter) { writer.write(replica: self) }
    public init(from reader: inout ByteReader) throws(CodecError) { self = try reader.readReplica() }
}

extension HLCTimestamp: BinaryCodable {
    public func encode(to writer: inout ByteWriter) {
        writer.write(millis: wallMillis)
        writer.write(varint: UInt64(logical))
    }
    @inline(__always)
    public init(from reader: inout ByteReader) throws(CodecError) {
        self.init(wallMillis: try reader.readMillis(), logical: try UInt32(from: &reader))
    }
}

extension LWWStamp: BinaryCodable {
    public func encode(to writer: inout ByteWriter) {
        time.encode(to: &writer)
        replica.encode(to: &writer)
    }
    public init(from reader: inout ByteReader) throws(CodecError) {
        self.init(time: try HLCTimestamp(from: &reader), replica: try ReplicaID(from: &reader))
    }
}

extension Dot: BinaryCodable {
    public func encode(to writer: inout ByteWriter) {
        replica.encode(to: &writer)
        writer.write(varint: counter)
    }
    public init(from reader: inout ByteReader) throws(CodecError) { self = try reader.readDot() }
}

extension VersionVector: BinaryCodable {
    public func encode(to writer: inout ByteWriter) {
        writer.write(varint: UInt64(entries.count))
        // By index: copying an entry out would retain its replica id.
        for index in entries.indices {
            entries[index].replica.encode(to: &writer)
            writer.write(varint: entries[index].counter)
        }
    }
    /// A vector equal to the last one this reader read shares its storage:
    /// cases written alike (created by one replica with the same number of
    /// writes) have equal vectors, and each would otherwise allocate its own.
    public init(from reader: inout ByteReader) throws(CodecError) {
        let count = try reader.readCount(minimumItemSize: 2)
        let last = reader.lastVersionVector.entries
        var sameAsLast = count == last.count
        var entries: [Entry] = []
        var previous: ReplicaID?
        for index in 0..<count {
            let replica = try ReplicaID(from: &reader)
            let counter = try reader.readVarint()
            if let previous, !(previous < replica) { throw .invalidValue("version vector entries out of order") }
            guard counter > 0 else { throw .invalidValue("version vector entry with counter 0") }
            previous = replica
            if sameAsLast {
                if last[index].counter == counter && last[index].replica == replica { continue }
                sameAsLast = false
                entries.reserveCapacity(count)
                entries.append(contentsOf: last[..<index])
            }
            entries.append(Entry(replica: replica, counter: counter))
        }
        if sameAsLast {
            self = reader.lastVersionVector
            return
        }
        self.init(sortedEntries: entries)
        reader.lastVersionVector = self
    }
}

extension CausalContext: BinaryCodable {
    public func encode(to writer: inout ByteWriter) {
        versionVector.encode(to: &writer)
        writer.write(varint: UInt64(cloud.count))
        for dot in cloud { dot.encode(to: &writer) }  // kept sorted
    }
    public init(from reader: inout ByteReader) throws(CodecError) {
        let vv = try VersionVector(from: &reader)
        let count = try reader.readCount(minimumItemSize: 2)
        if count == 0 {
            self.init(versionVector: vv)
            return
        }
        var cloud: [Dot] = []
        cloud.reserveCapacity(count)
        for _ in 0..<count { cloud.append(try Dot(from: &reader)) }
        self.init(versionVector: vv, cloud: cloud)
    }
}

extension DotSet: BinaryCodable {
    public func encode(to writer: inout ByteWriter) {
        writer.write(varint: UInt64(dots.count))
        if writer.canonical && dots.count > 1 {
            for dot in dots.sorted() { dot.encode(to: &writer) }
        } else {
            for dot in dots { dot.encode(to: &writer) }
        }
    }
    public init(from reader: inout ByteReader) throws(CodecError) {
        let count = try reader.readCount(minimumItemSize: 2)
        var dots = Set<Dot>(minimumCapacity: count)
        for _ in 0..<count {
            guard dots.insert(try reader.readHeldDot()).inserted else { throw .invalidValue("duplicate dot in a dot set") }
        }
        self.init(dots)
    }
}

extension DotFun: BinaryEncodable where Value: BinaryEncodable {
    public func encode(to writer: inout ByteWriter) {
        writer.write(varint: UInt64(count))
        // Chained through the optional, the entry is encoded in place rather
        // than copied out (a copy retains and releases its strings).
        head?.encode(to: &writer)
        for entry in tail { entry.encode(to: &writer) }
    }
}

extension DotFun.Entry: BinaryEncodable where Value: BinaryEncodable {
    public func encode(to writer: inout ByteWriter) {
        dot.encode(to: &writer)
        time.encode(to: &writer)
        value.encode(to: &writer)
    }
}

extension DotFun: BinaryDecodable where Value: BinaryDecodable {
    public init(from reader: inout ByteReader) throws(CodecError) {
        let count = try reader.readCount(minimumItemSize: 4)
        if count == 1 {
            // The usual register: one write, stored inline.
            self.init(Entry(dot: try reader.readHeldDot(), time: try HLCTimestamp(from: &reader), value: try Value(from: &reader)))
            return
        }
        self.init()
        var last: Dot?
        for index in 0..<count {
            let dot = try reader.readHeldDot()
            if let last, !(last < dot) { throw .invalidValue("register entries out of order") }
            let entry = Entry(dot: dot, time: try HLCTimestamp(from: &reader), value: try Value(from: &reader))
            if index == 0 { head = entry } else { tail.append(entry) }
            last = dot
        }
    }
}

extension DotMap: BinaryEncodable where Key: BinaryEncodable, Store: BinaryEncodable {
    /// Entries in key order, in both modes: the map keeps them sorted.
    public func encode(to writer: inout ByteWriter) {
        writer.write(varint: UInt64(entries.count))
        // Through the buffer, each entry is borrowed rather than copied (a
        // copy would retain and release every string in it).
        entries.withUnsafeBufferPointer { buffer in
            for index in buffer.indices {
                buffer[index].key.encode(to: &writer)
                buffer[index].store.encode(to: &writer)
            }
        }
    }
}

extension DotMap: BinaryDecodable where Key: BinaryDecodable, Store: BinaryDecodable {
    public init(from reader: inout ByteReader) throws(CodecError) {
        let count = try reader.readCount(minimumItemSize: 2)
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        var sorted = true
        let duplicate = CodecError.invalidValue("duplicate key in a map")
        for _ in 0..<count {
            let key = try Key(from: &reader)
            if try !entries.decodedKey(key, follows: { $0.key }, duplicate: duplicate) { sorted = false }
            // Decoded straight into the entry: a store held in a local first
            // was copied into it (retaining everything in it) and then released.
            entries.append(Entry(key: key, store: try Store(from: &reader)))
            if entries[entries.count - 1].store.isBottom { throw .invalidValue("empty entry in a map") }
        }
        if !sorted { try entries.sortDecoded(by: { $0.key }, duplicate: duplicate) }
        self.init(sortedEntries: entries)
    }
}

extension Causal: BinaryEncodable where Store: BinaryEncodable {
    public func encode(to writer: inout ByteWriter) {
        context.encode(to: &writer)
        store.encode(to: &writer)
    }
}

extension Causal: BinaryDecodable where Store: BinaryDecodable {
    public init(from reader: inout ByteReader) throws(CodecError) {
        let context = try CausalContext(from: &reader)
        // Every dot a state holds is one its context has seen; joins rely on
        // it (a delta that names no dot we have seen removes nothing).
        reader.beginHeldDots(within: context)
        let store: Store
        do { store = try Store(from: &reader) } catch {
            _ = reader.endHeldDots(within: context)
            throw error
        }
        if let outside = reader.endHeldDots(within: context) { throw .invalidValue("dot \(outside) held but not in its context") }
        self.init(store: store, context: context)
    }
}

extension LWWRegister: BinaryEncodable where Value: BinaryEncodable {
    public func encode(to writer: inout ByteWriter) { state.encode(to: &writer) }
}
extension LWWRegister: BinaryDecodable where Value: BinaryDecodable {
    public init(from reader: inout ByteReader) throws(CodecError) { self.init(state: try Causal(from: &reader)) }
}
extension AWORSet: BinaryEncodable where Element: BinaryEncodable {
    public func encode(to writer: inout ByteWriter) { state.encode(to: &writer) }
}
extension AWORSet: BinaryDecodable where Element: BinaryDecodable {
    public init(from reader: inout ByteReader) throws(CodecError) { self.init(state: try Causal(from: &reader)) }
}
extension ORMap: BinaryEncodable where Key: BinaryEncodable, Value: BinaryEncodable {
    public func encode(to writer: inout ByteWriter) { state.encode(to: &writer) }
}
extension ORMap: BinaryDecodable where Key: BinaryDecodable, Value: BinaryDecodable {
    public init(from reader: inout ByteReader) throws(CodecError) { self.init(state: try Causal(from: &reader)) }
}

extension GrowOnlyMap: BinaryCodable {
    /// Entries in key order, in both modes: the map keeps them sorted.
    public func encode(to writer: inout ByteWriter) {
        writer.write(varint: UInt64(entries.count))
        // Through the buffer, each entry is borrowed rather than copied.
        entries.withUnsafeBufferPointer { buffer in
            for index in buffer.indices {
                buffer[index].key.encode(to: &writer)
                buffer[index].value.encode(to: &writer)
            }
        }
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        let count = try reader.readCount(minimumItemSize: 2)
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        var sorted = true
        let duplicate = CodecError.invalidValue("duplicate key in a grow-only map")
        for _ in 0..<count {
            let key = try Key(from: &reader)
            if try !entries.decodedKey(key, follows: { $0.key }, duplicate: duplicate) { sorted = false }
            entries.append(Entry(key: key, value: try Value(from: &reader)))
        }
        if !sorted { try entries.sortDecoded(by: { $0.key }, duplicate: duplicate) }
        self.init(sortedEntries: entries)
    }
}

/// Maps decode their entries in turn, in key order as they are written now.
/// Documents written before the maps kept their keys sorted list them in
/// any order; they still read, into the same map. A repeated key is refused
/// either way.
private extension Array {
    /// Whether `key`, just read, comes after the last entry's key (true for
    /// the first entry); throws `duplicate` when it repeats it. Compared in
    /// place: a copy of the entry would retain everything in it.
    func decodedKey<Key: Comparable>(_ key: Key, follows keyOf: (Element) -> Key, duplicate: CodecError) throws(CodecError) -> Bool {
        let last: Key? = withUnsafeBufferPointer { buffer in buffer.isEmpty ? nil : keyOf(buffer[buffer.count - 1]) }
        guard let last, !(last < key) else { return true }
        if last == key { throw duplicate }
        return false
    }

    /// Sorts entries read out of key order; throws `duplicate` when a key repeats.
    mutating func sortDecoded<Key: Comparable>(by keyOf: (Element) -> Key, duplicate: CodecError) throws(CodecError) {
        sort { keyOf($0) < keyOf($1) }
        for index in indices.dropFirst() where keyOf(self[index - 1]) == keyOf(self[index]) { throw duplicate }
    }
}
