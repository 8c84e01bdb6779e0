#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// An exclusive lock on a store directory (`flock` on a lock file), so two
/// processes never write the same database: the second open fails clearly
/// instead of both writers drifting apart.
final class DirectoryLock: Sendable {
    private let descriptor: Mutex<Int32>

    init(directory: String) throws(StoreError) {
        let path = directory + "/LOCK"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw .cannotOpen(path: directory, reason: "another process is using this data directory")
        }
        descriptor = Mutex(fd)
    }

    func release() {
        descriptor.withLock { fd in
            if fd >= 0 {
                flock(fd, LOCK_UN)
                close(fd)
                fd = -1
            }
        }
    }

    deinit { release() }
}
