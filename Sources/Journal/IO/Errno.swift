import CJournal

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A POSIX error number, as returned by a failed system call.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    /// The raw `errno` value.
    public let rawValue: Int32

    /// Wraps a raw `errno` value.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's current `errno`.
    static var current: Errno { Errno(rawValue: cj_errno()) }

    /// The C library's text for the error followed by its symbolic number, e.g.
    /// "No space left on device (errno 28)".
    public var description: String {
        "\(String(cString: strerror(rawValue))) (errno \(rawValue))"
    }

    /// Whether the error means only that the file system, a quota or the process's
    /// file-size limit has no room (`ENOSPC`, `EDQUOT`, `EFBIG`): a failed `fallocate` with
    /// it leaves the file and the handle as they were.
    public var isOutOfRoom: Bool { rawValue == ENOSPC || rawValue == EDQUOT || rawValue == EFBIG }

    static let interrupted = Errno(rawValue: EINTR)
    static let wouldBlock = Errno(rawValue: EWOULDBLOCK)
    static let noEntry = Errno(rawValue: ENOENT)
    static let exists = Errno(rawValue: EEXIST)
    static let isDirectory = Errno(rawValue: EISDIR)
}

/// Runs a system call that returns -1 and sets `errno` on failure, retrying on `EINTR`.
@inline(__always)
func retryingOnInterrupt<T: BinaryInteger>(_ call: () -> T) throws(Errno) -> T {
    while true {
        let result = call()
        if result != -1 { return result }
        let error = Errno.current
        if error != .interrupted { throw error }
    }
}
