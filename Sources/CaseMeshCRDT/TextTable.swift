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
    /// Remembers recently written strings in a small two-way set-associative
    /// cache rather than a dictionary of everything: a lookup hashes and
    /// compares the string's 16 bytes of representation (its text when short,
    /// its storage otherwise), with no hashing or comparing of whole strings
    /// and no table that grows with the document. Copies of one string share
    /// their storage, so they meet in one set; an equal string stored
    /// elsewhere is simply written in full (and, if kept, the reader holds it
    /// twice). A kept string keeps its slot for the rest of the document.
    ///
    /// Two ways, not one: a long string's storage address changes from run
    /// to run, so which strings share a set is chance. With one way, a
    /// recurring string whose slot a kept string already held was written in
    /// full every time, for the whole document (about one run in a hundred
    /// for a handful of recurring strings); with two, that needs three kept
    /// strings in one set. The second way also gives text seen once a second
    /// chance: the newest two such strings of a set are remembered.
    ///
    /// A string seen once is remembered by its representation alone, not
    /// retained: if its storage is freed and reused by other text, that text
    /// is taken for a second copy and written in full for the reader to keep,
    /// which costs a table entry but never misreads. A kept string is
    /// retained, so the representation a reference stands for stays its own.
    struct Writer: ~Copyable {
        static let slotBits = 10
        static let slotCount = 1 << slotBits

        /// Nil when the document does not share text.
        private let slots: UnsafeMutablePointer<Slot>?
        /// The strings the reader keeps, by slot (the others hold "").
        private let kept: UnsafeMutablePointer<String>?
        /// How many strings the reader's table holds so far.
        private var written = 0

        private struct Slot {
            var low: UInt64
            var high: UInt64
            /// The reader's index of the string, or `seenOnce`, or `empty`.
            var index: Int

            /// Whether this slot remembers the string of representation `bits`.
            @inline(__always)
            func holds(_ bits: (low: UInt64, high: UInt64)) -> Bool {
                index != TextTable.Writer.empty && low == bits.low && high == bits.high
            }
        }
        private static let empty = -1
        private static let seenOnce = -2

        init(enabled: Bool) {
            guard enabled else {
                slots = nil
                kept = nil
                return
            }
            let slots = UnsafeMutablePointer<Slot>.allocate(capacity: Self.slotCount)
            slots.initialize(repeating: Slot(low: 0, high: 0, index: Self.empty), count: Self.slotCount)
            let kept = UnsafeMutablePointer<String>.allocate(capacity: Self.slotCount)
            kept.initialize(repeating: "", count: Self.slotCount)
            self.slots = slots
            self.kept = kept
        }

        deinit {
            guard let slots, let kept else { return }
            kept.deinitialize(count: Self.slotCount)
            kept.deallocate()
            slots.deallocate()
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
            let slots = slots.unsafelyUnwrapped
            let bits = Self.representation(of: string)
            // The set's two slots are `first` and `first + 1`.
            let first = Self.set(of: bits) &<< 1
            let newer = slots[first]
            if newer.holds(bits) { return promote(slot: first, of: newer, string) }
            let older = slots[first + 1]
            if older.holds(bits) { return promote(slot: first + 1, of: older, string) }
            // Text the reader keeps stays in its slot: ids and titles, seen
            // once each, would otherwise evict the field names and statuses
            // that recur, and the reader would keep those again and again.
            let entry = Slot(low: bits.low, high: bits.high, index: Self.seenOnce)
            if newer.index < 0 {
                // The first slot holds the newest text seen once; what it
                // held moves to the second, unless that is kept.
                if older.index < 0 { slots[first + 1] = newer }
                slots[first] = entry
            } else if older.index < 0 {
                slots[first + 1] = entry
            }
            return .once
        }

        /// A hit: a reference if the reader keeps the string, else (its
        /// second sighting) tells the reader to keep it from now on.
        @inline(__always)
        private mutating func promote(slot: Int, of entry: Slot, _ string: String) -> Reference {
            if entry.index >= 0 { return .earlier(entry.index) }
            kept.unsafelyUnwrapped[slot] = string
            slots.unsafelyUnwrapped[slot].index = written
            written += 1
            return .keep
        }

        /// The set a string's representation falls in, of `slotCount / 2`.
        @inline(__always)
        static func set(of bits: (low: UInt64, high: UInt64)) -> Int {
            let hash = (bits.low &* 0x9E37_79B9_7F4A_7C15 ^ bits.high) &* 0xBF58_476D_1CE4_E5B9
            return Int(truncatingIfNeeded: hash >> (64 - UInt64(slotBits - 1)))
        }

        /// A string's 16 bytes: its text when short, its storage otherwise.
        /// Only compared and hashed, never turned back into a string.
        @inline(__always)
        static func representation(of string: String) -> (low: UInt64, high: UInt64) {
            unsafeBitCast(string, to: (low: UInt64, high: UInt64).self)
        }
    }
}
