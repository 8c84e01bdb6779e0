/// Text shared within one document: the first copy of a string is written in
/// full, later copies as a reference to it.
///
/// Shipping a whole replica spends most of its decoding time building strings,
/// and most of them repeat: every case has the same field names and draws its
/// status, severity, region and customer from a short list. With a table the
/// reader builds each distinct string once and hands out that one copy.
///
/// Encoding: a string is a varint tag. An even tag `2n` is followed by `n`
/// bytes of UTF-8, and the reader appends that string to its table; an odd tag
/// `2i + 1` is the table's `i`th string.
enum TextTable {
    /// Remembers recently written strings in a small direct-mapped cache
    /// rather than a dictionary of everything: a lookup is a cheap hash of a
    /// few bytes and one comparison, with no hashing of whole strings and no
    /// table that grows with the document. A string evicted by another is
    /// simply written in full again (and the reader holds it twice).
    struct Writer {
        static let slotCount = 1024

        private var slots: [String]
        private var indices: [Int]
        /// How many strings the reader's table holds so far.
        private var written = 0

        init() {
            slots = Array(repeating: "", count: Self.slotCount)
            indices = Array(repeating: -1, count: Self.slotCount)
        }

        enum Reference: Equatable {
            /// The reader's table holds this string at `index`.
            case earlier(Int)
            /// Write it in full; the reader adds it to its table.
            case new
        }

        mutating func reference(to string: String) -> Reference {
            let slot = Self.slot(of: string)
            if indices[slot] >= 0 && slots[slot] == string { return .earlier(indices[slot]) }
            slots[slot] = string
            indices[slot] = written
            written += 1
            return .new
        }

        /// A hash of the length and the first and last eight bytes: enough to
        /// tell field names and list values apart, and cheap for long text.
        static func slot(of string: String) -> Int {
            let hash = string.utf8.withContiguousStorageIfAvailable { bytes -> UInt64 in
                let count = bytes.count
                var h = UInt64(count) &* 0x9E37_79B9_7F4A_7C15
                if count >= 8 {
                    let raw = UnsafeRawBufferPointer(bytes)
                    h = (h ^ raw.loadUnaligned(as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
                    h = (h ^ raw.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)) &* 0x94D0_49BB_1331_11EB
                } else {
                    for byte in bytes { h = (h ^ UInt64(byte)) &* 0xBF58_476D_1CE4_E5B9 }
                }
                return h ^ (h >> 31)
            } ?? UInt64(truncatingIfNeeded: string.hashValue)
            return Int(truncatingIfNeeded: hash >> 54) & (slotCount - 1)
        }
    }
}
