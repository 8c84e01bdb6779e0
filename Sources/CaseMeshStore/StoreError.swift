import CaseMeshDomain

/// Why the store refused something. Messages say what happened and what to
/// do about it; none of these leave a half-applied write behind.
public enum StoreError: Error, Sendable, CustomStringConvertible {
    /// The command was refused by the domain rules or validation.
    case rejected(DomainError)
    /// The data directory cannot be created or opened.
    case cannotOpen(path: String, reason: String)
    /// The database file is not a CaseMesh database or is damaged.
    case corrupt(path: String, reason: String)
    /// The database belongs to another node.
    case wrongNode(expected: String, found: String)
    /// A write could not be made durable (disk full, read-only file system,
    /// I/O error). Nothing was acknowledged; reads keep working.
    case writeFailed(reason: String)
    /// The store refuses writes since an earlier write failure left the disk
    /// unusable; restart the node once the disk is fixed.
    case readOnly(reason: String)
    /// A read failed for a reason other than damage (e.g. an I/O error).
    case readFailed(reason: String)
    /// A search cannot be answered in full: the search index lacks changes
    /// that were acknowledged and cannot be written (see `SearchIndexer`).
    case searchUnavailable(reason: String)
    /// A remote delta arrived ahead of the ones before it.
    case outOfOrder(origin: String, expected: UInt64, got: UInt64)
    /// A remote delta's timestamp is too far ahead of our clock.
    case clockSkew(String)

    public var description: String {
        switch self {
        case let .rejected(error): return error.description
        case let .cannotOpen(path, reason): return "cannot open the store at \(path): \(reason)"
        case let .corrupt(path, reason): return "the database at \(path) is damaged or not a CaseMesh database (\(reason)); restore it from a backup or remove it to resynchronise from peers"
        case let .wrongNode(expected, found): return "the data directory belongs to node \(found), not \(expected)"
        case let .writeFailed(reason): return "the write was not stored: \(reason)"
        case let .readOnly(reason): return "the store refuses writes since a write failed (\(reason)); reads still work"
        case let .readFailed(reason): return "the read failed: \(reason)"
        case let .searchUnavailable(reason): return "search is unavailable: \(reason); lists without text and reads of cases still work"
        case let .outOfOrder(origin, expected, got): return "delta \(origin):\(got) arrived before \(origin):\(expected)"
        case let .clockSkew(detail): return detail
        }
    }
}
