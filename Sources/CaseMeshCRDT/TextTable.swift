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
    /// rather than a dictionary of everything: a lookup is a hash of the
    /// string's 16 bytes of representation (its text when short, its storage
    /// otherwise) and one comparison, with no hashing of whole strings and no
    /// table that grows with the document. Copies of one string share their
    /// storage, so they meet in one slot; an equal string stored elsewhere, or
    /// a string evicted by another, is simply written in full again (and the
    /// reader holds it twice).
    final class Writer {
        static let slotBits = 10
        static let slotCount = 1 << slotBits

        private let slots: UnsafeMutableBufferPointer<String>
        private let indices: UnsafeMutableBufferPointer<Int>
        /// How many strings the reader's table holds so far.
        private var written = 0

        init() {
            slots = .allocate(capacity: Self.slotCount)
            slots.initialize(repeating: "")
            indices = .allocate(capacity: Self.slotCount)
            indices.initialize(repeating: -1)
        }

        deinit {
            slots.deinitialize()
            slots.deallocate()
            indices.deallocate()
        }

        enum Reference: Equatable {
            /// The reader's table holds this string at `index`.
            case earlier(Int)
            /// Write it in full; the reader adds it to its table.
            case new
        }

        func reference(to string: String) -> Reference {
            let slot = Self.slot(of: string)
            if indices[slot] >= 0 && slots[slot] == string { return .earlier(indices[slot]) }
            slots[slot] = string
            indices[slot] = written
            written += 1
            return .new
        }

        static func slot(of string: String) -> Int {
            // The representation only picks a slot; equality is still checked
            // on the text, so any layout of `String` gives correct output.
            let (low, high) = unsafeBitCast(string, to: (UInt64, UInt64).self)
            let hash = (low &* 0x9E37_79B9_7F4A_7C15 ^ high) &* 0xBF58_476D_1CE4_E5B9
            return Int(truncatingIfNeeded: hash >> (64 - UInt64(slotBits)))
        }
    }
}
