#if canImport(Glibc)
    import Glibc
#endif

/// The child's end of the ledger: an `O_APPEND` file written with one `write(2)` per line.
///
/// A SIGKILL cannot take back a `write(2)` that returned: the bytes are in the page cache,
/// which belongs to the kernel, not the process. So a line written before the next operation
/// starts is as certain as the acknowledgement it records. The lock keeps the producer
/// threads' lines whole and makes at most one write in flight, so only the last line can be
/// torn by the kill (the parent drops it).
final class LedgerWriter: @unchecked Sendable {
    private let fd: Int32
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    /// Opens (creating) the ledger at `path` for appending.
    init(path: String) throws(UsageError) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw UsageError(description: "cannot open ledger \(path): errno \(errno)") }
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    /// Appends `entry` as one line. Returns only when the whole line is in the file; a
    /// failure to write the ledger ends the child (its acknowledgements would go unrecorded).
    func record(_ entry: LedgerEntry) {
        let bytes = Array((entry.line + "\n").utf8)
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { raw in
                write(fd, raw.baseAddress! + written, raw.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                _exit(4)
            }
            written += result
        }
    }
}
