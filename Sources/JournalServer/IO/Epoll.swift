import CJournalServer
import Glibc
import Journal

/// An epoll instance (`epoll_create1`): the event loop's one blocking call.
///
/// Registrations carry a 64-bit token that comes back with each readiness report; the event
/// loop encodes connection slots and generations in it so a stale report is recognisable.
struct Epoll: ~Copyable {
    /// Readiness bits, named after their `EPOLL*` constants.
    struct Events: OptionSet, Sendable {
        /// The bits.
        let rawValue: UInt32
        /// `EPOLLIN`.
        static let readable = Events(rawValue: CJS_EPOLLIN)
        /// `EPOLLOUT`.
        static let writable = Events(rawValue: CJS_EPOLLOUT)
        /// `EPOLLERR`.
        static let error = Events(rawValue: CJS_EPOLLERR)
        /// `EPOLLHUP`.
        static let hangUp = Events(rawValue: CJS_EPOLLHUP)
        /// `EPOLLRDHUP`: the peer shut down its sending side.
        static let readHangUp = Events(rawValue: CJS_EPOLLRDHUP)
        /// `EPOLLET`: report changes, not levels.
        static let edgeTriggered = Events(rawValue: CJS_EPOLLET)
    }

    /// The epoll descriptor.
    let descriptor: Int32
    private let reports: UnsafeMutablePointer<cjs_event>
    /// Most reports one `wait` returns.
    let capacity: Int

    /// `epoll_create1(EPOLL_CLOEXEC)`.
    init(capacity: Int = 1024) throws(Errno) {
        descriptor = try systemCall { cjs_epoll_create() }
        self.capacity = capacity
        reports = .allocate(capacity: capacity)
    }

    deinit {
        reports.deallocate()
        close(descriptor)
    }

    /// `epoll_ctl(EPOLL_CTL_ADD)`.
    func add(_ fd: Int32, events: Events, token: UInt64) throws(Errno) {
        _ = try systemCall { cjs_epoll_add(descriptor, fd, events.rawValue, token) }
    }

    /// `epoll_ctl(EPOLL_CTL_MOD)`.
    func modify(_ fd: Int32, events: Events, token: UInt64) throws(Errno) {
        _ = try systemCall { cjs_epoll_modify(descriptor, fd, events.rawValue, token) }
    }

    /// `epoll_ctl(EPOLL_CTL_DEL)`; closing a descriptor also removes it, so failures are ignored.
    func remove(_ fd: Int32) { _ = cjs_epoll_remove(descriptor, fd) }

    /// `epoll_wait`: blocks up to `timeoutMilliseconds` (-1 = forever) and calls `body` with
    /// each report. An interrupted wait reports nothing.
    func wait(timeoutMilliseconds: Int32, _ body: (UInt64, Events) -> Void) throws(Errno) {
        let count = cjs_epoll_wait(descriptor, reports, Int32(capacity), timeoutMilliseconds)
        if count < 0 {
            let error = currentErrno()
            if error.rawValue == EINTR { return }
            throw error
        }
        for i in 0..<Int(count) {
            body(reports[i].data, Events(rawValue: reports[i].events))
        }
    }
}
