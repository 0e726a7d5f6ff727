import CJournalServer
import Glibc
import Journal

/// The thread's current `errno` as the library's typed `Errno`.
func currentErrno() -> Errno { Errno(rawValue: cjs_errno()) }

/// Runs a system call that returns -1 and sets `errno` on failure, retrying on `EINTR`, and
/// turns the failure into a typed `Errno`. The only place the server reads `errno`.
@inline(__always)
func systemCall<T: BinaryInteger>(_ call: () -> T) throws(Errno) -> T {
    while true {
        let result = call()
        if result != -1 { return result }
        let error = currentErrno()
        if error.rawValue != EINTR { throw error }
    }
}

extension Errno {
    /// `EAGAIN`/`EWOULDBLOCK`: a non-blocking descriptor has nothing to give or no room.
    var isWouldBlock: Bool { rawValue == EAGAIN || rawValue == EWOULDBLOCK }
}
