/// Text shared within one document: a string that recurs is written in full
/// until the reader has been told to keep it, then as a reference to it.
///
/// Shipping a whole replica spends most of its decoding time building strings,
/// and most of them repeat: every case has the same field names and draws its
/// status, severity, region and customer from a short list. With a table the
/// reader builds each distinct string once and hands out that one copy.
///
/// Encoding: a string is a varint tag. A tag `4n` is followed by `n` bytes of
/// UTF-8; so is a tag `4n + 2`, and the reader then appends the string to its
/// table. An odd tag `2i + 1` is the table's `i`th string.
///
/// The writer asks the reader to keep a string the second time it writes it.
/// Text seen once (case ids, titles: half the strings of a batch) never enters
/// the reader's table, so the table holds only text that recurs, stays small,
/// and its references fit in one byte.
enum TextTable {
    /// Remembers recently written strings in a small direct-mapped cache
    /// rather than a dictionary of everything: a lookup hashes and compares
    /// the string's 16 bytes of representation (its text when short, its
    /// storage otherwise), with no hashing or comparing of whole strings and
    /// no table that grows with the document. Copies of one string share
    /// their storage, so they meet in one slot; an equal string stored
    /// elsewhere, or one whose slot another string holds, is simply written
    /// in full (and, if kept, the reader holds it twice). A kept string
    /// keeps its slot for the rest of the document.
    struct Writer: ~Copyable {
        static let slotBits = 10
        static let slotCount = 1 << slotBits

        /// Nil when the document does not share text.
        private let slots: UnsafeMutablePointer<String>?
        /// Per slot: the reader's index of its string, or `seenOnce`, or
        /// `empty`.
        private let indices: UnsafeMutablePointer<Int>?
        private static let empty = -1
        private static let seenOnce = -2
        /// How many strings the reader's table holds so far.
        private var written = 0

        init(enabled: Bool) {
            guard enabled else {
                slots = nil
                indices = nil
                return
            }
            let slots = UnsafeMutablePointer<String>.allocate(capacity: Self.slotCount)
            slots.initialize(repeating: "", count: Self.slotCount)
            let indices = UnsafeMutablePointer<Int>.allocate(capacity: Self.slotCount)
            indices.initialize(repeating: Self.empty, count: Self.slotCount)
            self.slots = slots
            self.indices = indices
        }

        deinit {
            guard let slots, let indices else { return }
            slots.deinitialize(count: Self.slotCount)
            slots.deallocate()
            indices.deallocate()
        }

        var isEnabled: Bool { slots != nil }

        enum Reference: Equatable {
            /// The reader's table holds this string at `index`.
            case earlier(Int)
            /// Write it in full; the reader adds it to its table.
            case keep
            /// Write it in full, once: it has not been seen before.
            case once
        }

        /// Only when enabled.
        mutating func reference(to string: String) -> Reference {
            let slots = slots.unsafelyUnwrapped, indices = indices.unsafelyUnwrapped
            let bits = Self.representation(of: string)
            let hash = (bits.low &* 0x9E37_79B9_7F4A_7C15 ^ bits.high) &* 0xBF58_476D_1CE4_E5B9
            let slot = Int(truncatingIfNeeded: hash >> (64 - UInt64(Self.slotBits)))
            let index = indices[slot]
            // The same representation is the same text (the slot keeps its
            // string alive, so its storage cannot be reused for other text).
            if index != Self.empty && Self.representation(of: slots[slot]) == bits {
                if index >= 0 { return .earlier(index) }
                indices[slot] = written
                written += 1
                return .keep
            }
            // Text the reader keeps stays in its slot: ids and titles, seen
            // once each, would otherwise evict the field names and statuses
            // that recur, and the reader would keep those again and again.
            if index >= 0 { return .once }
            slots[slot] = string
            indices[slot] = Self.seenOnce
            return .once
        }

        /// A string's 16 bytes: its text when short, its storage otherwise.
        /// Only compared and hashed, never turned back into a string.
        @inline(__always)
        static func representation(of string: String) -> (low: UInt64, high: UInt64) {
            unsafeBitCast(string, to: (low: UInt64, high: UInt64).self)
        }
    }
}
