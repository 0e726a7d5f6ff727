import Glibc

/// An IPv4 or IPv6 address with a port, parsed from a numeric host (or `localhost`).
///
/// Names other than `localhost` are not resolved: the server binds what it is told, and a
/// DNS lookup at start-up would be a hidden dependency.
struct SocketAddress: Sendable, CustomStringConvertible {
    /// The address family with its bytes.
    enum Host: Sendable, Equatable {
        /// Four bytes in network order.
        case ipv4(UInt32)
        /// Sixteen bytes.
        case ipv6([UInt8])
    }

    /// The parsed host.
    let host: Host
    /// The port in host order.
    var port: UInt16

    /// Parses `host` (`127.0.0.1`, `::1`, `[::1]`, `localhost`); nil when it is not numeric.
    init?(host text: String, port: UInt16) {
        var text = text
        if text == "localhost" { text = "127.0.0.1" }
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            host = .ipv4(v4.s_addr)
        } else {
            var v6 = in6_addr()
            guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
            host = .ipv6(withUnsafeBytes(of: &v6) { Array($0) })
        }
        self.port = port
    }

    /// Whether the address is a loopback address (127.0.0.0/8 or ::1), which only this
    /// machine can reach.
    var isLoopback: Bool {
        switch host {
        case .ipv4(let networkOrder): return UInt32(bigEndian: networkOrder) >> 24 == 127
        case .ipv6(let bytes): return bytes == [UInt8](repeating: 0, count: 15) + [1]
        }
    }

    /// The host as text, IPv6 in brackets so `host:port` reads unambiguously.
    var hostText: String {
        var buffer = [CChar](repeating: 0, count: 64)
        switch host {
        case .ipv4(let networkOrder):
            var address = in_addr(s_addr: networkOrder)
            inet_ntop(AF_INET, &address, &buffer, socklen_t(buffer.count))
            return cText(buffer)
        case .ipv6(let bytes):
            var address = in6_addr()
            withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
            inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count))
            return "[" + cText(buffer) + "]"
        }
    }

    /// `host:port`.
    var description: String { "\(hostText):\(port)" }

    /// Calls `body` with the C `sockaddr` for this address.
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch host {
        case .ipv4(let networkOrder):
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr = in_addr(s_addr: networkOrder)
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        case .ipv6(let bytes):
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &address.sin6_addr) { $0.copyBytes(from: bytes) }
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
    }

    /// The family constant for `socket(2)`.
    var family: Int32 {
        if case .ipv4 = host { return AF_INET }
        return AF_INET6
    }
}

/// The text before the first NUL of a C character buffer.
private func cText(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
