import Testing

@testable import JournalServer

/// The request parser on its own: valid framing, every limit, and hostile input.
@Suite struct HTTPRequestParserTests {
    /// Feeds `text` whole and returns the first result that is not `incomplete`.
    func parse(_ text: String, limits: HTTPLimits = HTTPLimits()) -> HTTPRequestParser.Result {
        parse(Array(text.utf8), limits: limits)
    }

    func parse(_ bytes: [UInt8], limits: HTTPLimits = HTTPLimits()) -> HTTPRequestParser.Result {
        var parser = HTTPRequestParser(limits: limits)
        parser.append(bytes)
        return parser.next()
    }

    func request(_ result: HTTPRequestParser.Result) -> HTTPRequest? {
        if case .request(let request) = result { return request }
        return nil
    }

    func status(_ result: HTTPRequestParser.Result) -> Int? {
        if case .failure(let error) = result { return error.status }
        return nil
    }

    @Test func parsesASimpleGet() throws {
        let parsed = try #require(request(parse("GET /streams/a?x=1 HTTP/1.1\r\nHost: h\r\nX-Y:  v  \r\n\r\n")))
        #expect(parsed.method == .get)
        #expect(parsed.target == "/streams/a?x=1")
        #expect(parsed.minorVersion == 1)
        #expect(parsed.header("x-y") == "v")
        #expect(parsed.keepAlive)
        #expect(parsed.body.isEmpty)
    }

    @Test func parsesAContentLengthBody() throws {
        let parsed = try #require(request(parse("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello")))
        #expect(parsed.body == Array("hello".utf8))
        // A list of equal values, compared as numbers: one was "values disagree".
        let listed = try #require(
            request(parse("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 05\r\n\r\nhello")))
        #expect(listed.body == Array("hello".utf8))
        #expect(status(parse("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\nhello")) == 400)
    }

    @Test func parsesAChunkedBodyWithExtensionsAndTrailers() throws {
        let text =
            "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;name=value\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n"
        let parsed = try #require(request(parse(text)))
        #expect(parsed.body == Array("hello world".utf8))
    }

    @Test func aRequestSplitAtEveryByteParsesTheSame() throws {
        let text = Array(
            "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"
                .utf8)
        var parser = HTTPRequestParser()
        var requests: [HTTPRequest] = []
        for byte in text {
            parser.append([byte])
            while case .request(let request) = parser.next() { requests.append(request) }
        }
        #expect(requests.count == 2)
        #expect(requests.first?.body == Array("abc".utf8))
        #expect(requests.last?.method == .get)
        #expect(!parser.hasPartialRequest)
    }

    @Test func pipelinedRequestsComeOutOneAtATime() throws {
        var parser = HTTPRequestParser()
        parser.append(Array("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\nGET /c".utf8))
        #expect(request(parser.next())?.target == "/a")
        #expect(request(parser.next())?.target == "/b")
        #expect(parser.next() == .incomplete)
        #expect(parser.hasPartialRequest)
    }

    /// RFC 9112 §3.2.2: a server MUST accept the absolute form; its path and query are used.
    @Test(arguments: [
        ("http://127.0.0.1:8080/streams/a?x=1", "/streams/a?x=1"),
        ("HTTPS://example.com/healthz", "/healthz"),
        ("http://h", "/"),
        ("http://h?from=2", "/?from=2"),
    ])
    func anAbsoluteFormTargetBecomesItsPathAndQuery(_ target: (String, String)) throws {
        let parsed = try #require(request(parse("GET \(target.0) HTTP/1.1\r\nHost: h\r\n\r\n")))
        #expect(parsed.target == target.1)
    }

    @Test func http10DefaultsToCloseAndHttp11ToKeepAlive() throws {
        #expect(try #require(request(parse("GET / HTTP/1.0\r\n\r\n"))).keepAlive == false)
        #expect(try #require(request(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))).keepAlive)
        #expect(
            try #require(request(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"))).keepAlive == false)
    }

    @Test func leadingBlankLinesAreSkippedUpToTheLimit() {
        #expect(request(parse("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")) != nil)
        #expect(status(parse(String(repeating: "\r\n", count: 10) + "GET / HTTP/1.1\r\n\r\n")) == 400)
    }

    @Test func aBlankLineAfterARequestIsConsumedAndLeavesNothingHeld() {
        var parser = HTTPRequestParser()
        parser.append(Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n\r\n".utf8))
        #expect(request(parser.next()) != nil)
        #expect(parser.next() == .incomplete)
        #expect(!parser.hasPartialRequest)
        #expect(parser.heldByteCount == 0)
        parser.append(Array("\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        #expect(request(parser.next())?.target == "/b")
    }

    // MARK: Limits

    @Test func headerBytesOverTheLimitAre431() {
        var limits = HTTPLimits()
        limits.maxHeaderBytes = 256
        limits.maxURIBytes = 64
        let big = "GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "a", count: 300) + "\r\n\r\n"
        #expect(status(parse(big, limits: limits)) == 431)
        // Detected before the head is complete: the line alone is already too long.
        #expect(status(parse(String(big.prefix(290)), limits: limits)) == 431)
    }

    @Test func headerCountOverTheLimitIs431() {
        var limits = HTTPLimits()
        limits.maxHeaderCount = 5
        var text = "GET / HTTP/1.1\r\nHost: h\r\n"
        for i in 0..<5 { text += "X-\(i): v\r\n" }
        #expect(status(parse(text + "\r\n", limits: limits)) == 431)
        #expect(status(parse(text, limits: limits)) == 431)
    }

    @Test func uriOverTheLimitIs414() {
        var limits = HTTPLimits()
        limits.maxURIBytes = 100
        let text = "GET /" + String(repeating: "a", count: 200) + " HTTP/1.1\r\nHost: h\r\n\r\n"
        #expect(status(parse(text, limits: limits)) == 414)
        // Even before the request line ends.
        #expect(status(parse("GET /" + String(repeating: "a", count: 200), limits: limits)) == 414)
    }

    @Test func bodyOverTheLimitIs413FromTheHeadAlone() {
        var limits = HTTPLimits()
        limits.maxBodyBytes = 10
        #expect(status(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", limits: limits)) == 413)
        #expect(status(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n")) == 413)
        #expect(
            status(
                parse(
                    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0000000000000000000000000000011\r\n\r\n",
                    limits: limits))
                == 413)
    }

    /// Content-Length is `1*DIGIT` (RFC 9110 §8.6): leading zeros, however many, do not make
    /// a length large. Nineteen digits or more were 413 whatever their value.
    @Test func leadingZerosInContentLengthAreAllowed() throws {
        let zeros = String(repeating: "0", count: 30)
        let parsed = try #require(
            request(parse("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: \(zeros)5\r\n\r\nhello")))
        #expect(parsed.body == Array("hello".utf8))
    }

    @Test func chunkedBodyOverTheLimitIs413() {
        var limits = HTTPLimits()
        limits.maxBodyBytes = 10
        let text = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n"
        #expect(status(parse(text, limits: limits)) == 413)
    }

    @Test func chunkSizeLineOverTheLimitIs400() {
        var limits = HTTPLimits()
        limits.maxChunkLineBytes = 16
        let text =
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;" + String(repeating: "x", count: 40)
        #expect(status(parse(text, limits: limits)) == 400)
    }

    /// Found by review while fuzzing: a chunk size near `Int.max` after a first chunk
    /// overflowed the limit check (`body.count + size`) and trapped.
    @Test func aChunkSizeNearIntMaxAfterAChunkIs413() {
        let text =
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n7fffffffffffffff\r\n"
        #expect(status(parse(text)) == 413)
    }

    /// Found by Fuzz/run.sh: a line both over its limit and ended by a bare LF was a 400 when
    /// it arrived whole but a 414 when it arrived in pieces.
    @Test func anOverlongLineWithABareLineFeedFailsAlikeWholeAndInPieces() {
        var limits = HTTPLimits()
        limits.maxURIBytes = 9
        limits.maxMethodBytes = 1
        let bytes = Array(("\u{FF}" + String(repeating: "X", count: 27) + "\n").utf8)
        var pieces = HTTPRequestParser(limits: limits)
        var last = HTTPRequestParser.Result.incomplete
        for byte in bytes where last == .incomplete {
            pieces.append([byte])
            last = pieces.next()
        }
        #expect(status(last) == 414)
        #expect(parse(bytes, limits: limits) == last)
    }

    // MARK: Hostile input

    @Test(arguments: [
        "GET\r\n\r\n",  // no target
        "GET /  HTTP/1.1\r\nHost: h\r\n\r\n",  // double space
        "GET / HTTP/1.1 extra\r\nHost: h\r\n\r\n",
        "G@T / HTTP/1.1\r\nHost: h\r\n\r\n",  // method not a token
        "GET relative HTTP/1.1\r\nHost: h\r\n\r\n",  // not origin form
        "GET ftp://host/ HTTP/1.1\r\nHost: h\r\n\r\n",  // absolute form of another scheme
        "GET http:/host/ HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET http:///streams HTTP/1.1\r\nHost: h\r\n\r\n",  // no host
        "GET http://user@host/ HTTP/1.1\r\nHost: h\r\n\r\n",  // user information
        "GET * HTTP/1.1\r\nHost: h\r\n\r\n",  // asterisk form is for OPTIONS only
        "GET http://host/ HTTP/1.1\r\n\r\n",  // absolute form still needs Host in HTTP/1.1
        "GET / HTTP/1.1\nHost: h\n\n",  // bare LF
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",  // bare CR inside a value
        "GET / HTTP/1.1\r\nHost: h\r\nNo colon here\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nBad Name: v\r\n\r\n",  // space in a name
        "GET / HTTP/1.1\r\nHost: h\r\nName : v\r\n\r\n",  // space before the colon
        "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n",  // empty name
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n folded\r\n\r\n",  // obsolete folding
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\u{01}b\r\n\r\n",  // control character
        "GET / HTTP/1.1\r\n\r\n",  // no Host
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",  // two Hosts
        "GET / HTTP/x.y\r\nHost: h\r\n\r\n",
        "GET /a\u{7F} HTTP/1.1\r\nHost: h\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\nhello",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",  // size not hex
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXY0\r\n\r\n",  // no CRLF after data
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n",  // bare LF in size line
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n",  // overflow
    ])
    func malformedInputIsA4xx(_ text: String) {
        let result = parse(text)
        guard let status = status(result) else {
            Issue.record("accepted: \(text.debugDescription) -> \(result)")
            return
        }
        #expect((400..<500).contains(status), "\(text.debugDescription) -> \(status)")
    }

    @Test func unsupportedVersionIs505AndCodingIs501AndExpectationIs417() {
        #expect(status(parse("GET / HTTP/2.0\r\nHost: h\r\n\r\n")) == 505)
        #expect(status(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")) == 501)
        #expect(status(parse("POST / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n")) == 417)
    }

    @Test func unknownMethodsParseAndAreLeftToTheRouter() throws {
        let parsed = try #require(request(parse("BREW / HTTP/1.1\r\nHost: h\r\n\r\n")))
        #expect(parsed.method == .other("BREW"))
    }

    @Test func aFailedParserStaysFailed() {
        var parser = HTTPRequestParser()
        parser.append(Array("GET / HTTP/1.1\nHost: h\n\n".utf8))
        #expect(status(parser.next()) == 400)
        parser.append(Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        #expect(status(parser.next()) == 400)
    }

    @Test func expectContinueIsReportedBeforeTheBody() throws {
        var parser = HTTPRequestParser()
        parser.append(Array("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n".utf8))
        #expect(parser.next() == .incomplete)
        #expect(parser.pendingHead?.expectsContinue == true)
        parser.append(Array("abc".utf8))
        #expect(request(parser.next())?.body == Array("abc".utf8))
    }

    /// RFC 9110 §10.1.1: a server MUST ignore a 100-continue expectation in HTTP/1.0.
    @Test func expectContinueIsIgnoredInHttp10() {
        var parser = HTTPRequestParser()
        parser.append(Array("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n".utf8))
        #expect(parser.next() == .incomplete)
        #expect(parser.pendingHead?.expectsContinue == false)
        parser.append(Array("abc".utf8))
        #expect(request(parser.next())?.body == Array("abc".utf8))
    }

    @Test func randomBytesNeverTrapAndNeverGrowPastTheLimits() {
        var generator = SystemRandomNumberGenerator()
        var limits = HTTPLimits()
        limits.maxHeaderBytes = 1024
        limits.maxURIBytes = 512
        limits.maxBodyBytes = 2048
        for _ in 0..<300 {
            var parser = HTTPRequestParser(limits: limits)
            var prefix = Array("POST /x HTTP/1.1\r\nHost: h\r\n".utf8)
            if Bool.random(using: &generator) { prefix += Array("Transfer-Encoding: chunked\r\n\r\n".utf8) }
            parser.append(prefix)
            for _ in 0..<64 {
                let piece = (0..<Int.random(in: 1...64, using: &generator)).map { _ in
                    UInt8.random(in: 0...255, using: &generator)
                }
                parser.append(piece)
                if case .failure = parser.next() { break }
                #expect(parser.heldByteCount <= 1024 + 2048 + 64 * 2)
            }
        }
    }
}
