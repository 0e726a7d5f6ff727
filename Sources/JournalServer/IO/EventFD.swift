import CJournalServer
import Glibc
import Journal
import Synchronization

/// A non-blocking eventfd (`eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)`) used as a doorbell from
/// other threads to the event loop.
///
/// `ring` writes at most once between two `drain`s (an atomic flag), so a burst of worker
/// completions or journal appends costs the loop one wake-up and the ringers one syscall.
final class EventFD: Sendable {
    /// The descriptor the loop registers for readability.
    let descriptor: Int32
    private let pending = Atomic<Bool>(false)

    /// `eventfd(2)`.
    init() throws(Errno) {
        descriptor = try systemCall { cjs_eventfd(0) }
    }

    deinit { close(descriptor) }

    /// Wakes the loop unless a wake-up is already pending. Safe from any thread, including
    /// a journal watch callback (it takes no lock).
    func ring() {
        if pending.exchange(true, ordering: .acquiringAndReleasing) { return }
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(descriptor, $0.baseAddress, 8) }
    }

    /// Consumes the counter, then re-arms `ring`. Call before draining the queues the ringers
    /// fill. The order matters: re-arming before the read could swallow a ring that lands in
    /// between, leaving `pending` set with nothing in the counter, and every later ring would
    /// be skipped (the loop would never wake again). A ring between the read and the re-arm
    /// is skipped, but its item is already queued and is taken by the drain that follows.
    func drain() {
        var value: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &value) { read(descriptor, $0.baseAddress, 8) }
        pending.store(false, ordering: .sequentiallyConsistent)
    }
}
