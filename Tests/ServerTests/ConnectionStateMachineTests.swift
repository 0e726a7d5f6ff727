import Testing

@testable import JournalServer

/// The per-connection protocol logic without a socket: dispatch, keep-alive, pipelining
/// back-pressure and every timeout.
@Suite struct ConnectionStateMachineTests {
    static let second: UInt64 = 1_000_000_000
    let timeouts = ConnectionStateMachine.Timeouts(idle: 60 * second, header: 10 * second, request: 30 * second)

    func machine(limits: HTTPLimits = HTTPLimits()) -> ConnectionStateMachine {
        ConnectionStateMachine(limits: limits, timeouts: timeouts, now: 0)
    }

    func dispatched(_ action: ConnectionStateMachine.Action) -> HTTPRequest? {
        if case .dispatch(let request) = action { return request }
        return nil
    }

    @Test func aRequestIsDispatchedAndItsResponseKeepsTheConnection() throws {
        var connection = machine()
        let request = try #require(
            dispatched(connection.received(Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8), now: 1)))
        #expect(request.target == "/")
        #expect(connection.state == .processing)
        #expect(!connection.wantsInput)
        let (bytes, close) = connection.respond(.json(200, Array("{}".utf8)), now: 2)
        #expect(!close)
        #expect(String(decoding: bytes, as: UTF8.self).hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(String(decoding: bytes, as: UTF8.self).contains("Connection: keep-alive"))
        #expect(connection.state == .idle)
    }

    @Test func connectionCloseAndHttp10EndTheConnectionAfterTheResponse() {
        var connection = machine()
        _ = connection.received(Array("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n".utf8), now: 1)
        let (bytes, close) = connection.respond(HTTPResponse(status: 204), now: 2)
        #expect(close)
        #expect(String(decoding: bytes, as: UTF8.self).contains("Connection: close"))
        #expect(connection.state == .closing)

        var old = machine()
        _ = old.received(Array("GET / HTTP/1.0\r\n\r\n".utf8), now: 1)
        #expect(old.respond(HTTPResponse(status: 204), now: 2).close)
    }

    @Test func headResponsesCarryNoBody() {
        var connection = machine()
        _ = connection.received(Array("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n".utf8), now: 1)
        let (bytes, _) = connection.respond(.json(200, Array("{\"a\":1}".utf8)), now: 2)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("Content-Length: 7"))
        #expect(text.hasSuffix("\r\n\r\n"))
    }

    @Test func pipelinedRequestsWaitForTheResponseBeforeTheNextIsDispatched() throws {
        var connection = machine()
        let both = "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"
        #expect(try #require(dispatched(connection.received(Array(both.utf8), now: 1))).target == "/a")
        // While /a is processed nothing more is read or dispatched.
        #expect(!connection.wantsInput)
        #expect(connection.received(Array("GET /c".utf8), now: 1) == .none)
        _ = connection.respond(HTTPResponse(status: 204), now: 2)
        #expect(try #require(dispatched(connection.resume(now: 2))).target == "/b")
        _ = connection.respond(HTTPResponse(status: 204), now: 3)
        #expect(connection.resume(now: 3) == .none)
    }

    @Test func malformedInputFailsWithAResponseAndCloses() {
        var connection = machine()
        guard case .fail(let response) = connection.received(Array("GARBAGE\r\n\r\n".utf8), now: 1) else {
            Issue.record("expected a failure")
            return
        }
        #expect(response.status == 400)
        #expect(String(decoding: response.body, as: UTF8.self).contains("\"code\":\"bad_request\""))
        #expect(connection.state == .closing)
    }

    @Test func idleKeepAliveConnectionsCloseAfterTheIdleTimeout() {
        var connection = machine()
        #expect(connection.tick(now: 59 * Self.second) == .none)
        #expect(connection.tick(now: 60 * Self.second) == .close)
    }

    @Test func aSlowlorisHeadGets408AfterTheHeaderTimeoutEvenWhileBytesTrickleIn() {
        var connection = machine()
        var now: UInt64 = 0
        // One byte a second keeps the connection busy but never completes the head.
        for byte in Array("GET / HTTP/1.1\r\nHost: h\r\nX-Slow: ".utf8) {
            now += Self.second / 4
            #expect(connection.received([byte], now: now) == .none)
            if now >= 10 * Self.second { break }
            #expect(connection.tick(now: now) == .none)
        }
        // The clock started at the first byte (0.25 s): 408 at 10.25 s, whatever arrived since.
        #expect(connection.tick(now: 10 * Self.second) == .none)
        guard case .fail(let response) = connection.tick(now: 10 * Self.second + Self.second / 4) else {
            Issue.record("expected a 408")
            return
        }
        #expect(response.status == 408)
    }

    @Test func aSlowBodyGets408AfterTheRequestTimeout() {
        var connection = machine()
        #expect(
            connection.received(Array("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nab".utf8), now: 0)
                == .none)
        #expect(connection.tick(now: 20 * Self.second) == .none)  // past the header timeout: the head is done
        guard case .fail(let response) = connection.tick(now: 30 * Self.second) else {
            Issue.record("expected a 408")
            return
        }
        #expect(response.status == 408)
    }

    @Test func theRequestClockStartsAtTheFirstByteNotAtTheLastResponse() {
        var connection = machine()
        _ = connection.received(Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8), now: 0)
        _ = connection.respond(HTTPResponse(status: 204), now: 0)
        _ = connection.received(Array("GE".utf8), now: 50 * Self.second)
        #expect(connection.tick(now: 59 * Self.second) == .none)
        guard case .fail = connection.tick(now: 60 * Self.second) else {
            Issue.record("expected a 408")
            return
        }
    }

    /// RFC 9112 §2.2: an empty line before a request line is ignored. A request followed by
    /// an extra CRLF used to leave the connection receiving, and the header timeout then sent
    /// an unprompted 408 to an idle client.
    @Test func aBlankLineAfterARequestLeavesTheConnectionIdle() {
        var connection = machine()
        #expect(dispatched(connection.received(Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n\r\n".utf8), now: 0)) != nil)
        _ = connection.respond(HTTPResponse(status: 204), now: 0)
        #expect(connection.resume(now: 0) == .none)
        #expect(connection.state == .idle)
        #expect(connection.bufferedInput == 0)
        #expect(connection.tick(now: 10 * Self.second) == .none, "past the header timeout")
        #expect(connection.received(Array("\r\n".utf8), now: 11 * Self.second) == .none)
        #expect(connection.state == .idle)
        // Blank lines do not restart the idle clock, which ran from the response.
        #expect(connection.tick(now: 60 * Self.second) == .close)
    }

    @Test func blankLinesAloneAreRefusedAfterTheLimit() {
        var connection = machine()
        for _ in 0..<HTTPLimits().maxLeadingBlankLines {
            #expect(connection.received(Array("\r\n".utf8), now: 1) == .none)
            #expect(connection.state == .idle)
        }
        guard case .fail(let response) = connection.received(Array("\r\n".utf8), now: 1) else {
            Issue.record("expected a 400")
            return
        }
        #expect(response.status == 400)
    }

    @Test func expectContinueIsAnsweredOnceBeforeTheBody() throws {
        var connection = machine()
        let head = "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
        #expect(connection.received(Array(head.utf8), now: 0) == .sendContinue)
        #expect(connection.received(Array("a".utf8), now: 0) == .none)
        #expect(try #require(dispatched(connection.received(Array("b".utf8), now: 0))).body == Array("ab".utf8))
    }

    @Test func anHttp10ExpectContinueGetsNoInterimResponse() throws {
        var connection = machine()
        let head = "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
        #expect(connection.received(Array(head.utf8), now: 0) == .none)
        #expect(try #require(dispatched(connection.received(Array("ab".utf8), now: 0))).body == Array("ab".utf8))
    }

    @Test func aStreamingConnectionIgnoresInputAndTimeouts() {
        var connection = machine()
        _ = connection.received(Array("GET /streams/a/events HTTP/1.1\r\nHost: h\r\n\r\n".utf8), now: 0)
        connection.startStreaming()
        #expect(connection.discardsInput)
        #expect(!connection.wantsInput)
        #expect(connection.tick(now: 3600 * Self.second) == .none)
    }

    @Test func shutdownForcesCloseOnTheResponse() {
        var connection = machine()
        _ = connection.received(Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8), now: 0)
        #expect(connection.respond(HTTPResponse(status: 200), now: 0, forceClose: true).close)
    }
}

/// The bound on pending output.
@Suite struct OutputBufferTests {
    @Test func refillsOnlyBelowAQuarterAndReleasesStorageWhenEmpty() {
        var buffer = OutputBuffer(limit: 64 * 1024)
        #expect(buffer.canRefill)
        buffer.append([UInt8](repeating: 1, count: 20 * 1024))
        #expect(!buffer.canRefill)
        buffer.consume(5 * 1024)
        #expect(buffer.canRefill)
        buffer.append([UInt8](repeating: 2, count: 60 * 1024))
        #expect(buffer.isFull)
        var drained = 0
        buffer.drain { bytes in
            drained = bytes.count
            return bytes.count
        }
        #expect(drained == 75 * 1024)
        #expect(buffer.isEmpty)
        #expect(buffer.count == 0)
    }

    @Test func partialDrainsKeepTheRestInOrder() {
        var buffer = OutputBuffer(limit: 1024)
        buffer.append(Array(0..<100))
        buffer.drain { _ in 40 }
        var rest: [UInt8] = []
        buffer.drain { bytes in
            rest = Array(bytes)
            return bytes.count
        }
        #expect(rest == Array(40..<100))
    }
}
