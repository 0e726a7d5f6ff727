import Glibc
import Journal

@testable import JournalServer

/// A response as the test client read it.
struct TestResponse {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    var text: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed as JSON (nil when it is not).
    var json: JSONValue? { try? JSONValue.parse(body) }

    /// A top-level string or number field of a JSON object body, as text.
    func field(_ name: String) -> String? {
        switch json?.objectValue?[name] {
        case .string(let text): return text
        case .number(let value): return String(Int(value))
        case .bool(let value): return String(value)
        default: return nil
        }
    }
}

/// A minimal blocking HTTP/1.1 client over a raw socket, for end-to-end tests: it sends
/// exactly the bytes a test gives it, so it can also send hostile ones.
final class TestHTTPClient {
    let fd: Int32
    private var buffer: [UInt8] = []
    private(set) var closedByPeer = false

    /// Connects to 127.0.0.1:`port`; receives time out after `timeout` seconds. A
    /// `receiveBuffer` (bytes) makes a slow reader: set before connecting, it bounds the
    /// window the server may fill.
    init(port: UInt16, timeout: Double = 10, receiveBuffer: Int32? = nil) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        precondition(fd >= 0)
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        precondition(result == 0, "connect failed: \(errno)")
        setTimeout(timeout)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    func setTimeout(_ seconds: Double) {
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends raw bytes; returns false when the connection is gone.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count <= 0 { return false }
            sent += count
        }
        return true
    }

    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Shuts down the sending side (`SHUT_WR`): the server sees end of input, and responses
    /// can still be read.
    func finishSending() { shutdown(fd, Int32(SHUT_WR)) }

    /// Sends a request with `Host` and `Content-Length`.
    func sendRequest(
        _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []
    ) {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" || method == "PUT" { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        send(Array(head.utf8) + body)
    }

    /// Sends a request and reads its response (nil when the connection ended first).
    func request(
        _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []
    ) -> TestResponse? {
        sendRequest(method, path, headers: headers, body: body)
        return readResponse(head: method == "HEAD")
    }

    func request(_ method: String, _ path: String, headers: [(String, String)] = [], text: String) -> TestResponse? {
        request(method, path, headers: headers, body: Array(text.utf8))
    }

    /// Reads more bytes; false at end of stream or timeout.
    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = recv(fd, &chunk, chunk.count, 0)
        if count == 0 { closedByPeer = true }
        if count <= 0 { return false }
        buffer += chunk[..<count]
        return true
    }

    /// Reads one response (Content-Length, chunked, or until close), skipping 1xx.
    func readResponse(head: Bool = false) -> TestResponse? {
        while true {
            guard let end = headEnd() else {
                if !fill() { return nil }
                continue
            }
            let lines = String(decoding: buffer[..<end], as: UTF8.self).components(separatedBy: "\r\n")
            buffer.removeFirst(end + 4)
            let parts = lines[0].split(separator: " ")
            guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
            var headers: [(String, String)] = []
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers.append(
                    (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: " ")))
            }
            var response = TestResponse(status: status, headers: headers, body: [])
            if status < 200 { continue }
            if head || status == 204 || status == 304 { return response }
            if let length = response.header("content-length").flatMap({ Int($0) }) {
                while buffer.count < length { if !fill() { return nil } }
                response.body = Array(buffer[..<length])
                buffer.removeFirst(length)
            } else if response.header("transfer-encoding")?.lowercased() == "chunked" {
                return nil  // the server never sends chunked responses
            } else {
                while fill() {}
                response.body = buffer
                buffer = []
            }
            return response
        }
    }

    private func headEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for index in 0...(buffer.count - 4)
        where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
            return index
        }
        return nil
    }

    /// Whether the server closed the connection (reads until EOF or timeout).
    func waitForClose() -> Bool {
        while fill() {}
        return closedByPeer
    }

    // MARK: Event streams

    private var parser = SSEParser()
    private var pendingEvents: [SSEEvent] = []

    /// Opens an event stream (GET with `Accept: text/event-stream`); returns the response
    /// head (body bytes already received are kept for `nextEvents`).
    func openEvents(_ path: String, headers: [(String, String)] = []) -> TestResponse? {
        sendRequest("GET", path, headers: [("Accept", "text/event-stream")] + headers)
        while true {
            guard let end = headEnd() else {
                if !fill() { return nil }
                continue
            }
            let lines = String(decoding: buffer[..<end], as: UTF8.self).components(separatedBy: "\r\n")
            buffer.removeFirst(end + 4)
            let parts = lines[0].split(separator: " ")
            guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
            var headers: [(String, String)] = []
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers.append(
                    (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: " ")))
            }
            var response = TestResponse(status: status, headers: headers, body: [])
            if status != 200, let length = response.header("content-length").flatMap({ Int($0) }) {
                while buffer.count < length { if !fill() { return nil } }
                response.body = Array(buffer[..<length])
                buffer.removeFirst(length)
            }
            return response
        }
    }

    /// Events until `count` have arrived, the stream ends (returns what came), or timeout.
    func nextEvents(_ count: Int) -> [SSEEvent] {
        var events: [SSEEvent] = []
        while events.count < count {
            if !pendingEvents.isEmpty {
                events.append(pendingEvents.removeFirst())
                continue
            }
            if !buffer.isEmpty {
                let bytes = buffer
                buffer = []
                pendingEvents += bytes.withUnsafeBytes { parser.feed($0) }
                continue
            }
            if !fill() { break }
        }
        return events
    }

    /// Every event until the server closes the stream.
    func eventsUntilClose() -> [SSEEvent] {
        nextEvents(Int.max)
    }

    /// Raw bytes received so far that have not been parsed.
    func rawPending() -> [UInt8] { buffer }

    /// Receives raw bytes until `predicate` holds on everything received so far, or timeout.
    func receive(until predicate: ([UInt8]) -> Bool) -> [UInt8] {
        while !predicate(buffer) { if !fill() { break } }
        return buffer
    }
}

extension String {
    func components(separatedBy separator: String) -> [String] {
        var result: [String] = []
        var rest = Substring(self)
        while let range = rest.firstRange(of: separator) {
            result.append(String(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        result.append(String(rest))
        return result
    }

    func trimmingCharacters(in set: String) -> String {
        var text = Substring(self)
        while let first = text.first, set.contains(first) { text.removeFirst() }
        while let last = text.last, set.contains(last) { text.removeLast() }
        return String(text)
    }
}

extension SSEEvent {
    /// The payload as text.
    var text: String { String(decoding: decodedPayload ?? data, as: UTF8.self) }
}
