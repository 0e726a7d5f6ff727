import Glibc
import Journal

/// A connected non-blocking stream socket: a typed view of its descriptor. It does not own
/// the descriptor; the connection that holds it calls `close` exactly once.
struct Socket: Sendable, Equatable {
    /// The descriptor.
    let descriptor: Int32

    /// What a `read` produced.
    enum ReadResult: Equatable {
        /// This many bytes (more than zero).
        case bytes(Int)
        /// Nothing available now.
        case wouldBlock
        /// The peer closed its side.
        case endOfFile
        /// The connection failed (reset, ...).
        case failed(Errno)
    }

    /// What a `send` did.
    enum SendResult: Equatable {
        /// This many bytes were queued (maybe fewer than offered).
        case sent(Int)
        /// The send buffer is full.
        case wouldBlock
        /// The connection failed (`EPIPE`, reset, ...).
        case failed(Errno)
    }

    /// `read(2)` into `buffer`.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
        do {
            let count = try systemCall { Glibc.read(descriptor, buffer.baseAddress, buffer.count) }
            return count == 0 ? .endOfFile : .bytes(count)
        } catch {
            return error.isWouldBlock ? .wouldBlock : .failed(error)
        }
    }

    /// `send(2)` with `MSG_NOSIGNAL`, so a closed peer is an error rather than SIGPIPE.
    func send(_ bytes: UnsafeRawBufferPointer) -> SendResult {
        if bytes.isEmpty { return .sent(0) }
        do {
            return .sent(try systemCall { Glibc.send(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) })
        } catch {
            return error.isWouldBlock ? .wouldBlock : .failed(error)
        }
    }

    /// `setsockopt(TCP_NODELAY)`: responses and events leave at once instead of waiting for
    /// Nagle's algorithm to batch them with later writes.
    func setNoDelay() {
        var one: Int32 = 1
        _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// `shutdown(SHUT_WR)`: sends FIN after the queued bytes while still reading, so a client
    /// that is still sending does not get a reset that could destroy the response.
    func shutdownWrite() { _ = Glibc.shutdown(descriptor, Int32(SHUT_WR)) }

    /// `close(2)`.
    func close() { _ = Glibc.close(descriptor) }
}
