/// What the store needs to know of one page of an SQLite B-tree: whether it
/// is a leaf, and if not, which pages are its children.
///
/// It is enough to list a table's pages from its root page without SQLite,
/// so that `TablePrefetch` can have the kernel read them in file order
/// before SQLite's scan asks for them one at a time. It follows the file
/// format (sqlite.org/fileformat2.html, "B-tree Pages") and trusts nothing
/// it reads: a page that is not a well-formed B-tree page is `.unknown`,
/// and a child outside `1...pageCount` is left out.
enum BTreePage: Equatable {
    /// A leaf page of a table or of an index.
    case leaf
    /// An interior page, with its children in the order it lists them (the
    /// right-most child last).
    case interior(children: [UInt32])
    /// Not a B-tree page, or a damaged one.
    case unknown

    /// Parses `page`, the whole of one page. Page 1 starts with the
    /// database header, so its B-tree header starts at byte 100.
    static func parse(_ page: UnsafeRawBufferPointer, number: UInt32, pageCount: UInt32) -> BTreePage {
        let start = number == 1 ? 100 : 0
        guard pageCount >= 1, page.count >= start + 12 else { return .unknown }
        func uint16(_ offset: Int) -> Int { Int(page[offset]) << 8 | Int(page[offset + 1]) }
        func uint32(_ offset: Int) -> UInt32 {
            UInt32(page[offset]) << 24 | UInt32(page[offset + 1]) << 16 | UInt32(page[offset + 2]) << 8 | UInt32(page[offset + 3])
        }
        switch page[start] {
        case 0x0A, 0x0D:
            return .leaf
        case 0x02, 0x05:
            let cellCount = uint16(start + 3)
            let pointers = start + 12
            guard pointers + 2 * cellCount <= page.count else { return .unknown }
            var children: [UInt32] = []
            children.reserveCapacity(cellCount + 1)
            // Every interior cell, of a table or of an index, starts with its left child's page number.
            for cell in 0..<cellCount {
                let offset = uint16(pointers + 2 * cell)
                guard offset >= pointers + 2 * cellCount, offset + 4 <= page.count else { return .unknown }
                let child = uint32(offset)
                if (1...pageCount).contains(child) { children.append(child) }
            }
            let rightMost = uint32(start + 8)
            if (1...pageCount).contains(rightMost) { children.append(rightMost) }
            return .interior(children: children)
        default:
            return .unknown
        }
    }
}
