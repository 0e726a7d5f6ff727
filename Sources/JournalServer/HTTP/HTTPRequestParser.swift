// DecimalNumber; the fuzz target compiles it into its own module instead (Fuzz/run.sh).
#if canImport(Journal)
    import Journal
#endif

/// An incremental HTTP/1.x request parser that treats every byte as hostile: bytes in,
/// requests or one error out, no I/O.
///
/// It is strict where leniency enables request smuggling or resource exhaustion: lines must
/// end in CRLF (a bare LF or CR is an error), header names must be tokens with no space before
/// the colon, obsolete line folding is refused, `Content-Length` must be digits and agree
/// across repeats, `Transfer-Encoding` must be exactly `chunked` and never comes with a
/// `Content-Length`, chunk sizes are hex that cannot overflow. Every quantity is bounded by
/// `HTTPLimits`, checked as bytes arrive rather than once a request is complete, so a client
/// can neither make it hold more than one request's worth of bytes nor make it scan the same
/// bytes twice (a slow client feeding one byte at a time costs O(1) per byte).
///
/// After an error the parser stays failed: the stream's framing is lost.
struct HTTPRequestParser: Sendable {
    /// What `next()` found.
    enum Result: Sendable, Equatable {
        /// More bytes are needed.
        case incomplete
        /// A complete request; its bytes have been consumed.
        case request(HTTPRequest)
        /// The input is not an acceptable request.
        case failure(HTTPParseError)
    }

    private enum Phase: Sendable {
        case requestLine
        case headers
        case fixedBody(Int)
        case chunkSize
        case chunkData(Int)
        case chunkDataEnd
        case trailers
    }

    private enum Line {
        case line(Range<Int>)
        case incomplete
        case tooLong
        case bareLineFeed
    }

    /// The limits in force.
    let limits: HTTPLimits
    /// Received bytes not yet consumed by a completed request.
    private(set) var buffer: [UInt8] = []
    private var cursor = 0
    private var lineScanned = 0
    private var phase = Phase.requestLine
    private var blankLines = 0
    private var head: HTTPRequest?
    private var body: [UInt8] = []
    private var trailerCount = 0
    private var trailerBytes = 0
    private var failure: HTTPParseError?

    /// A parser with the given limits.
    init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Whether any byte of a request not yet returned has arrived (the slow-request clock runs).
    var hasPartialRequest: Bool { !buffer.isEmpty || head != nil }

    /// Whether the head is complete and the body is still arriving.
    var isReadingBody: Bool {
        switch phase {
        case .requestLine, .headers: return false
        case .fixedBody, .chunkSize, .chunkData, .chunkDataEnd, .trailers: return true
        }
    }

    /// The head of the request whose body is arriving, for `Expect: 100-continue`.
    var pendingHead: HTTPRequest? { isReadingBody ? head : nil }

    /// Bytes held, for accounting: buffered input plus the decoded body so far.
    var heldByteCount: Int { buffer.count + body.count }

    /// Adds received bytes. Call `next()` afterwards.
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        buffer.append(contentsOf: bytes)
    }

    /// Adds received bytes from an array (tests).
    mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Parses as far as the buffered bytes allow.
    mutating func next() -> Result {
        if let failure { return .failure(failure) }
        do {
            if let request = try parse() {
                finishRequest()
                return .request(request)
            }
            return .incomplete
        } catch {
            failure = error
            return .failure(error)
        }
    }

    // MARK: - Phases

    private mutating func parse() throws(HTTPParseError) -> HTTPRequest? {
        while true {
            switch phase {
            case .requestLine:
                guard try parseRequestLine() else { return nil }
            case .headers:
                guard let done = try parseHeaderLine() else { return nil }
                if done, let request = try beginBody() { return request }
            case .fixedBody(let length):
                guard buffer.count - cursor >= length else { return nil }
                body = Array(buffer[cursor..<cursor + length])
                cursor += length
                return completeRequest()
            case .chunkSize:
                guard try parseChunkSize() else { return nil }
            case .chunkData(let remaining):
                let take = min(remaining, buffer.count - cursor)
                if take == 0 { return nil }
                body.append(contentsOf: buffer[cursor..<cursor + take])
                cursor += take
                phase = take == remaining ? .chunkDataEnd : .chunkData(remaining - take)
                compactConsumedBody()
            case .chunkDataEnd:
                guard buffer.count - cursor >= 2 else { return nil }
                guard buffer[cursor] == cr, buffer[cursor + 1] == lf else {
                    throw .badChunk("chunk data is not followed by CRLF")
                }
                cursor += 2
                phase = .chunkSize
            case .trailers:
                guard let done = try parseTrailerLine() else { return nil }
                if done { return completeRequest() }
            }
        }
    }

    /// Returns true once the request line is parsed.
    private mutating func parseRequestLine() throws(HTTPParseError) -> Bool {
        let limit = min(limits.maxHeaderBytes, limits.maxURIBytes + limits.maxMethodBytes + 12)
        switch takeLine(limit: limit) {
        case .incomplete: return false
        case .bareLineFeed: throw .badRequest("line ends with a bare LF; HTTP requires CRLF")
        case .tooLong:
            throw limit == limits.maxHeaderBytes
                ? .headerTooLarge(limit: limits.maxHeaderBytes) : .uriTooLong(limit: limits.maxURIBytes)
        case .line(let range):
            if range.isEmpty {
                blankLines += 1
                if blankLines > limits.maxLeadingBlankLines {
                    throw .badRequest("too many blank lines before the request")
                }
                // Dropped at once: a CRLF after a request (RFC 9112 §2.2) is not the start of
                // the next, so it must not leave the connection looking mid-request. The
                // count persists until a request completes, so CRLFs alone stay bounded.
                dropConsumedInput()
                return try parseRequestLine()
            }
            head = nil
            try readRequestLine(range)
            phase = .headers
            return true
        }
    }

    private mutating func readRequestLine(_ range: Range<Int>) throws(HTTPParseError) {
        guard let firstSpace = buffer[range].firstIndex(of: space) else {
            throw .badRequest("the request line has no spaces")
        }
        let methodBytes = buffer[range.lowerBound..<firstSpace]
        guard !methodBytes.isEmpty, methodBytes.count <= limits.maxMethodBytes, methodBytes.allSatisfy(isTokenByte)
        else { throw .badRequest("the method is not a valid token") }
        let afterMethod = firstSpace + 1
        guard let secondSpace = buffer[afterMethod..<range.upperBound].firstIndex(of: space) else {
            throw .badRequest("the request line must be METHOD SP target SP version")
        }
        let target = buffer[afterMethod..<secondSpace]
        if target.count > limits.maxURIBytes { throw .uriTooLong(limit: limits.maxURIBytes) }
        guard !target.isEmpty, target.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .badRequest("the request target is empty or contains spaces, controls or non-ASCII bytes")
        }
        let path = target.first == slash ? String(decoding: target, as: UTF8.self) : try originForm(of: target)
        let version = buffer[(secondSpace + 1)..<range.upperBound]
        let minor = try parseVersion(version)
        head = HTTPRequest(
            method: HTTPMethod(token: String(decoding: methodBytes, as: UTF8.self)), target: path,
            minorVersion: minor, headers: [], body: [])
    }

    /// The path and query of an absolute-form target, which a server must accept (RFC 9112
    /// §3.2.2). Only `http` and `https` URIs name this server's resources; the authority must
    /// be a host without user information (RFC 9110 §4.2.4). It is not compared with `Host`:
    /// the target URI is the request target (RFC 9112 §3.3), `Host` is still required as in
    /// every HTTP/1.1 request, and this server answers for one origin whatever the host.
    private func originForm(of target: ArraySlice<UInt8>) throws(HTTPParseError) -> String {
        guard let colon = target.firstIndex(of: UInt8(ascii: ":")),
            ["http", "https"].contains(String(decoding: target[..<colon], as: UTF8.self).lowercased()),
            target[(colon + 1)...].starts(with: [slash, slash])
        else { throw .badRequest("the request target must be a path starting with / or an http(s) URI") }
        let authorityStart = colon + 3
        let authorityEnd =
            target[authorityStart...].firstIndex { $0 == slash || $0 == UInt8(ascii: "?") } ?? target.endIndex
        let authority = target[authorityStart..<authorityEnd]
        guard !authority.isEmpty, !authority.contains(UInt8(ascii: "@")) else {
            throw .badRequest("an absolute request target needs a host and no user information")
        }
        let rest = target[authorityEnd...]
        // An empty path is the root (RFC 9112 §3.2.1).
        return (rest.first == slash ? "" : "/") + String(decoding: rest, as: UTF8.self)
    }

    private func parseVersion(_ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> Int {
        let text = Array(bytes)
        guard text.count == 8, text.starts(with: Array("HTTP/".utf8)), isDigit(text[5]), text[6] == UInt8(ascii: "."),
            isDigit(text[7])
        else { throw .badRequest("the HTTP version is malformed") }
        guard text[5] == UInt8(ascii: "1"), text[7] == UInt8(ascii: "0") || text[7] == UInt8(ascii: "1") else {
            throw .unsupportedVersion()
        }
        return Int(text[7] - UInt8(ascii: "0"))
    }

    /// Returns nil for more bytes, false after a header line, true at the blank line.
    private mutating func parseHeaderLine() throws(HTTPParseError) -> Bool? {
        let used = cursor
        let limit = limits.maxHeaderBytes - used
        switch takeLine(limit: max(limit - 2, 0)) {
        case .incomplete: return nil
        case .bareLineFeed: throw .badRequest("line ends with a bare LF; HTTP requires CRLF")
        case .tooLong: throw .headerTooLarge(limit: limits.maxHeaderBytes)
        case .line(let range):
            if cursor > limits.maxHeaderBytes { throw .headerTooLarge(limit: limits.maxHeaderBytes) }
            if range.isEmpty { return true }
            if head!.headers.count >= limits.maxHeaderCount { throw .tooManyHeaders(limit: limits.maxHeaderCount) }
            head!.headers.append(try readField(range))
            return false
        }
    }

    private func readField(_ range: Range<Int>) throws(HTTPParseError) -> HTTPHeader {
        let first = buffer[range.lowerBound]
        if first == space || first == tab {
            throw .badRequest("obsolete line folding is not accepted")
        }
        guard let colon = buffer[range].firstIndex(of: UInt8(ascii: ":")) else {
            throw .badRequest("a header line has no colon")
        }
        let name = buffer[range.lowerBound..<colon]
        guard !name.isEmpty, name.allSatisfy(isTokenByte) else {
            throw .badRequest("a header name is empty or not a token (no spaces before the colon)")
        }
        var start = colon + 1
        var end = range.upperBound
        while start < end, buffer[start] == space || buffer[start] == tab { start += 1 }
        while end > start, buffer[end - 1] == space || buffer[end - 1] == tab { end -= 1 }
        for byte in buffer[start..<end] where byte < 0x20 && byte != tab || byte == 0x7F {
            throw .badRequest("a header value contains a control character")
        }
        return HTTPHeader(
            name: String(decoding: name, as: UTF8.self).lowercased(),
            value: String(decoding: buffer[start..<end], as: UTF8.self))
    }

    /// Decides the body framing at the end of the head; returns the request when it has none.
    private mutating func beginBody() throws(HTTPParseError) -> HTTPRequest? {
        let request = head!
        var transferCodings: [Substring] = []
        var lengths: [Substring] = []
        var hosts = 0
        for header in request.headers {
            switch header.name {
            case "transfer-encoding":
                transferCodings += header.value.split(separator: ",", omittingEmptySubsequences: false).map(
                    \.trimmingSpaces)
            case "content-length":
                lengths += header.value.split(separator: ",", omittingEmptySubsequences: false).map(\.trimmingSpaces)
            case "host":
                hosts += 1
            case "expect":
                guard header.value.lowercased() == "100-continue" else { throw .unsupportedExpectation() }
                // RFC 9110 §10.1.1: an HTTP/1.0 client may not understand a 1xx response.
                if request.minorVersion >= 1 { head!.expectsContinue = true }
            default:
                break
            }
        }
        if request.minorVersion == 1 && hosts != 1 {
            throw .badRequest(hosts == 0 ? "HTTP/1.1 requires a Host header" : "more than one Host header")
        }
        if !transferCodings.isEmpty {
            if !lengths.isEmpty {
                throw .conflictingFraming("both Content-Length and Transfer-Encoding are present")
            }
            if request.minorVersion == 0 { throw .badRequest("Transfer-Encoding is not allowed in HTTP/1.0") }
            guard transferCodings.count == 1, transferCodings[0].lowercased() == "chunked" else {
                if transferCodings.last?.lowercased() != "chunked" || transferCodings.contains(where: \.isEmpty) {
                    throw .badRequest("the final transfer coding must be chunked")
                }
                throw .unsupportedTransferEncoding(transferCodings.joined(separator: ", "))
            }
            phase = .chunkSize
            return nil
        }
        if !lengths.isEmpty {
            // Compared as numbers: "5, 05" is one length (RFC 9110 §8.6 allows a list of
            // identical values), "5, 6" two.
            var numbers: [DecimalNumber] = []
            for text in lengths {
                guard let number = DecimalNumber(text) else {
                    throw .badRequest("Content-Length is not a decimal number")
                }
                numbers.append(number)
            }
            guard numbers.allSatisfy({ $0 == numbers[0] }) else {
                throw .conflictingFraming("Content-Length values disagree")
            }
            guard case .value(let length) = numbers[0], length <= limits.maxBodyBytes else {
                throw .bodyTooLarge(limit: limits.maxBodyBytes)
            }
            if length > 0 {
                phase = .fixedBody(length)
                return nil
            }
        }
        return completeRequest()
    }

    /// Returns true once a chunk-size line is parsed (phase moves to data or trailers).
    private mutating func parseChunkSize() throws(HTTPParseError) -> Bool {
        switch takeLine(limit: limits.maxChunkLineBytes) {
        case .incomplete: return false
        case .bareLineFeed: throw .badChunk("a chunk-size line ends with a bare LF")
        case .tooLong: throw .badChunk("a chunk-size line exceeds \(limits.maxChunkLineBytes) bytes")
        case .line(let range):
            var size = 0
            var index = range.lowerBound
            while index < range.upperBound, let digit = hexValue(buffer[index]) {
                // 16 hex digits would overflow; the body limit is far below that anyway.
                if size > (Int.max - digit) / 16 { throw .bodyTooLarge(limit: limits.maxBodyBytes) }
                size = size * 16 + digit
                index += 1
            }
            guard index > range.lowerBound else { throw .badChunk("a chunk size is not hexadecimal") }
            var rest = index
            while rest < range.upperBound, buffer[rest] == space || buffer[rest] == tab { rest += 1 }
            if rest < range.upperBound {
                guard buffer[rest] == UInt8(ascii: ";") else { throw .badChunk("garbage after a chunk size") }
                for byte in buffer[rest..<range.upperBound] where byte < 0x20 && byte != tab || byte == 0x7F {
                    throw .badChunk("a chunk extension contains a control character")
                }
            }
            // Subtracted, not added: `size` may be near `Int.max`.
            if size > limits.maxBodyBytes - body.count { throw .bodyTooLarge(limit: limits.maxBodyBytes) }
            phase = size == 0 ? .trailers : .chunkData(size)
            return true
        }
    }

    /// Returns nil for more bytes, false after a trailer field, true at the final blank line.
    private mutating func parseTrailerLine() throws(HTTPParseError) -> Bool? {
        let before = cursor
        switch takeLine(limit: max(limits.maxHeaderBytes - trailerBytes - 2, 0)) {
        case .incomplete: return nil
        case .bareLineFeed: throw .badChunk("a trailer line ends with a bare LF")
        case .tooLong: throw .headerTooLarge(limit: limits.maxHeaderBytes)
        case .line(let range):
            trailerBytes += cursor - before
            if range.isEmpty { return true }
            trailerCount += 1
            if trailerCount > limits.maxHeaderCount { throw .tooManyHeaders(limit: limits.maxHeaderCount) }
            // Trailers are validated like headers and then dropped: nothing here needs them.
            _ = try readField(range)
            return false
        }
    }

    // MARK: - Helpers

    private mutating func completeRequest() -> HTTPRequest {
        var request = head!
        request.body = body
        return request
    }

    /// Drops the consumed request and resets for the next one; pipelined bytes stay.
    private mutating func finishRequest() {
        dropConsumedInput()
        lineScanned = 0
        phase = .requestLine
        blankLines = 0
        head = nil
        body = []
        trailerCount = 0
        trailerBytes = 0
    }

    /// Forgets the bytes before `cursor`.
    private mutating func dropConsumedInput() {
        if cursor == buffer.count {
            buffer = []  // releases the storage: an idle connection holds no buffer
        } else {
            buffer.removeSubrange(0..<cursor)
        }
        cursor = 0
    }

    /// Forgets chunk data already copied into `body`, so a large chunked body is not held twice.
    private mutating func compactConsumedBody() {
        if cursor >= 16 * 1024 {
            buffer.removeSubrange(0..<cursor)
            cursor = 0
        }
    }

    /// The next CRLF-terminated line after `cursor` (content without CRLF), scanning each
    /// byte once across calls. `limit` bounds the content length.
    private mutating func takeLine(limit: Int) -> Line {
        var index = cursor + lineScanned
        let end = buffer.count
        while index < end {
            let byte = buffer[index]
            if byte == lf {
                // Judged as a byte-at-a-time arrival would be (see below), so where the
                // input is cut cannot change a 414/431 into a 400.
                if index - cursor > limit + 1 { return .tooLong }
                guard index > cursor, buffer[index - 1] == cr else { return .bareLineFeed }
                let range = cursor..<(index - 1)
                if range.count > limit { return .tooLong }
                cursor = index + 1
                lineScanned = 0
                return .line(range)
            }
            index += 1
        }
        lineScanned = end - cursor
        // The last byte may be the CR of the line ending, hence the + 1.
        return lineScanned > limit + 1 ? .tooLong : .incomplete
    }

    private func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
}

private let cr = UInt8(ascii: "\r")
private let lf = UInt8(ascii: "\n")
private let space = UInt8(ascii: " ")
private let slash = UInt8(ascii: "/")
private let tab = UInt8(ascii: "\t")

private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

/// RFC 9110 `tchar`: the characters allowed in methods and header names.
private func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"):
        return true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
        UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
        UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
        return true
    default:
        return false
    }
}
