import CJournalServer
import Glibc
import Journal

/// SIGINT, SIGTERM and SIGHUP as a readable descriptor (`signalfd`), so shutdown is an
/// ordinary event-loop event rather than code running in a signal handler.
///
/// Must be created on the main thread before any other thread starts: the signals are
/// blocked in the creating thread's mask, which later threads inherit. SIGPIPE is ignored
/// (a write to a closed socket then fails with `EPIPE`), and so is SIGXFSZ (a growth past a
/// file-size limit then fails with `EFBIG`: a 507, not a killed server).
struct SignalFD: ~Copyable {
    /// The descriptor the loop registers for readability.
    let descriptor: Int32

    /// `cjs_signalfd_for_shutdown`: blocks the signals, then `signalfd(2)`.
    init() throws(Errno) {
        descriptor = try systemCall { cjs_signalfd_for_shutdown() }
    }

    deinit { close(descriptor) }

    /// The next pending signal number, or nil when none is pending.
    func next() -> Int32? {
        let signal = cjs_signalfd_read(descriptor)
        return signal > 0 ? signal : nil
    }
}
