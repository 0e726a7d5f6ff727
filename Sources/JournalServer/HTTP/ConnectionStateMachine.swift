/// One connection's HTTP/1.1 protocol state as a value type: received bytes, responses and
/// clock ticks go in, actions come out; the event loop performs them.
///
/// It owns the request parser, enforces one request in flight at a time (pipelined requests
/// wait in the parser until the previous response is written, which bounds what a client can
/// make the server hold), decides keep-alive versus close for each response, and applies the
/// idle, header and request timeouts, so every limit is testable without a socket.
struct ConnectionStateMachine {
    /// Where the connection is.
    enum State: Sendable, Equatable {
        /// Between requests, nothing buffered (the idle timeout runs).
        case idle
        /// Part of a request has arrived (the header or request timeout runs).
        case receiving
        /// A request was handed out; its response has not been given back.
        case processing
        /// The connection became an event stream; input is ignored.
        case streaming
        /// The last response is out; the connection closes once it is written.
        case closing
    }

    /// What the loop must do.
    enum Action: Sendable, Equatable {
        /// Nothing yet.
        case none
        /// Route and answer this request, then call `respond`.
        case dispatch(HTTPRequest)
        /// Write `HTTP/1.1 100 Continue` (the client waits for it before sending its body).
        case sendContinue
        /// Write this response and close: the input cannot be trusted any more.
        case fail(HTTPResponse)
        /// Close without a word (idle keep-alive connection).
        case close
    }

    /// Timeouts in nanoseconds.
    struct Timeouts: Sendable, Equatable {
        /// Keep-alive connection without a request.
        var idle: UInt64
        /// First byte of a request to the end of its head.
        var header: UInt64
        /// First byte of a request to the end of its body.
        var request: UInt64
    }

    /// The current state.
    private(set) var state = State.idle
    private var parser: HTTPRequestParser
    private let timeouts: Timeouts
    private var lastActivity: UInt64
    private var requestStartedAt: UInt64 = 0
    private var continueSent = false
    private var keepAlive = true
    private var isHead = false

    /// A connection accepted at `now`.
    init(limits: HTTPLimits, timeouts: Timeouts, now: UInt64) {
        parser = HTTPRequestParser(limits: limits)
        self.timeouts = timeouts
        lastActivity = now
    }

    /// Whether the loop should read from the socket: only while a request may arrive, so a
    /// client cannot queue unbounded input behind a request being processed.
    var wantsInput: Bool { state == .idle || state == .receiving }

    /// Whether input is read and thrown away (an event stream only watches for the close).
    var discardsInput: Bool { state == .streaming }

    /// Bytes of unprocessed input held (for tests and accounting).
    var bufferedInput: Int { parser.heldByteCount }

    /// Feeds bytes read from the socket.
    mutating func received(_ bytes: UnsafeRawBufferPointer, now: UInt64) -> Action {
        guard wantsInput else { return .none }
        if state == .idle { requestStartedAt = now }
        parser.append(bytes)
        return advance(now: now)
    }

    /// Feeds bytes from an array (tests).
    mutating func received(_ bytes: [UInt8], now: UInt64) -> Action {
        bytes.withUnsafeBytes { received($0, now: now) }
    }

    /// The answer to the dispatched request: the bytes to write and whether to close after
    /// them. `forceClose` is for shutdown.
    mutating func respond(_ response: HTTPResponse, now: UInt64, forceClose: Bool = false) -> (
        bytes: [UInt8], close: Bool
    ) {
        let keep = state == .processing && keepAlive && !forceClose
        let bytes = response.serialized(keepAlive: keep, includeBody: !isHead)
        state = keep ? .idle : .closing
        lastActivity = now
        return (bytes, !keep)
    }

    /// After a response has been written (or mostly): looks at pipelined bytes already
    /// received; may dispatch the next request.
    mutating func resume(now: UInt64) -> Action {
        guard state == .idle, parser.hasPartialRequest else { return .none }
        requestStartedAt = now
        return advance(now: now)
    }

    /// The dispatched request became an event stream: from now on input is discarded and
    /// only the subscription's own rules (heartbeats, send timeout) apply.
    mutating func startStreaming() {
        state = .streaming
    }

    /// Marks the connection as ending (shutdown, stream end): nothing more is parsed.
    mutating func close() {
        state = .closing
    }

    /// Checks the timeouts at `now`.
    mutating func tick(now: UInt64) -> Action {
        switch state {
        case .idle:
            if now &- lastActivity >= timeouts.idle {
                state = .closing
                return .close
            }
        case .receiving:
            let limit = parser.isReadingBody ? timeouts.request : timeouts.header
            if now &- requestStartedAt >= limit {
                state = .closing
                return .fail(.error(.requestTimeout()))
            }
        case .processing, .streaming, .closing:
            break
        }
        return .none
    }

    private mutating func advance(now: UInt64) -> Action {
        switch parser.next() {
        case .request(let request):
            state = .processing
            keepAlive = request.keepAlive
            isHead = request.method == .head
            continueSent = false
            return .dispatch(request)
        case .failure(let error):
            state = .closing
            return .fail(.error(error))
        case .incomplete:
            state = parser.hasPartialRequest ? .receiving : .idle
            if let head = parser.pendingHead, head.expectsContinue, !continueSent {
                continueSent = true
                return .sendContinue
            }
            return .none
        }
    }
}
