import CJournalServer
import Glibc
import Journal

/// A non-blocking TCP listening socket (`socket`, `setsockopt(SO_REUSEADDR)`, `bind`, `listen`).
/// A plain handle: its owner calls `close` once.
struct ListeningSocket: Sendable {
    /// The descriptor the loop registers for readability.
    let descriptor: Int32
    /// The address bound, with the port the kernel chose when 0 was asked for.
    let address: SocketAddress

    /// Binds and listens on `address`; port 0 picks a free port (see `address.port`).
    init(address: SocketAddress, backlog: Int32) throws(Errno) {
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = try systemCall { socket(address.family, type, 0) }
        do {
            var one: Int32 = 1
            _ = try systemCall { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)) }
            _ = try systemCall { address.withSockaddr { Glibc.bind(fd, $0, $1) } }
            _ = try systemCall { Glibc.listen(fd, backlog) }
            var bound = address
            bound.port = try ListeningSocket.localPort(of: fd, family: address.family)
            self.address = bound
        } catch {
            Glibc.close(fd)
            throw error
        }
        descriptor = fd
    }

    /// `close(2)`.
    func close() { Glibc.close(descriptor) }

    /// `accept4(SOCK_NONBLOCK | SOCK_CLOEXEC)`: the new connection's descriptor, or nil when
    /// none is waiting. `ECONNABORTED` (a client gave up in the queue) also yields nil.
    func accept() throws(Errno) -> Int32? {
        do {
            return try systemCall { cjs_accept(descriptor) }
        } catch {
            if error.isWouldBlock || error.rawValue == ECONNABORTED { return nil }
            throw error
        }
    }

    /// `getsockname`: the port actually bound.
    private static func localPort(of fd: Int32, family: Int32) throws(Errno) -> UInt16 {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try systemCall {
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
        }
        return withUnsafeBytes(of: &storage) { raw in
            // sin_port and sin6_port sit at the same offset (2), in network order.
            UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        }
    }
}
