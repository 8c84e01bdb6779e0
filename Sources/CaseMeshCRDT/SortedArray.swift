/// Arrays sorted by a key, each key once: the layout of the maps and
/// vectors here (one allocation and no hashing; see `DotMap`). Elements
/// are read through the buffer, so a probe borrows an element instead of
/// copying it (which would retain everything in it).
extension Array {
    /// Where the element with `key` is, or where one would be inserted.
    func sortedPosition<Key: Comparable>(of key: Key, keyOf: (Element) -> Key) -> (index: Int, found: Bool) {
        withUnsafeBufferPointer { buffer in
            var low = 0, high = buffer.count
            while low < high {
                let middle = (low + high) / 2
                let probe = keyOf(buffer[middle])
                if probe == key { return (middle, true) }
                if probe < key { low = middle + 1 } else { high = middle }
            }
            return (low, false)
        }
    }

    /// The union of two arrays sorted by key (each key once in each); the
    /// two elements under a key both hold become one through `combine`.
    static func mergingSorted<Key: Comparable>(_ a: [Element], _ b: [Element], keyOf: (Element) -> Key,
                                               combine: (Element, Element) -> Element) -> [Element] {
        var merged: [Element] = []
        merged.reserveCapacity(a.count + b.count)
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if j == b.count || (i < a.count && keyOf(a[i]) < keyOf(b[j])) {
                merged.append(a[i]); i += 1
            } else if i == a.count || keyOf(b[j]) < keyOf(a[i]) {
                merged.append(b[j]); j += 1
            } else {
                merged.append(combine(a[i], b[j]))
                i += 1; j += 1
            }
        }
        return merged
    }
}
