/// Why a request was refused before it reached the router: the status to answer with, a
/// stable code for the JSON error body, and a sentence for people.
///
/// After any of these the connection's framing can no longer be trusted, so the server
/// answers and closes; other connections are unaffected.
struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The response status (400, 413, 414, 417, 431, 501, 505).
    var status: Int
    /// Stable identifier, e.g. `"header_too_large"`.
    var code: String
    /// One sentence.
    var message: String

    /// The message.
    var description: String { message }

    /// Syntax the grammar does not allow.
    static func badRequest(_ message: String) -> HTTPParseError {
        HTTPParseError(status: 400, code: "bad_request", message: message)
    }

    /// Request line and headers over `HTTPLimits.maxHeaderBytes`.
    static func headerTooLarge(limit: Int) -> HTTPParseError {
        HTTPParseError(
            status: 431, code: "header_too_large", message: "the request head exceeds \(limit) bytes")
    }

    /// More fields than `HTTPLimits.maxHeaderCount`.
    static func tooManyHeaders(limit: Int) -> HTTPParseError {
        HTTPParseError(
            status: 431, code: "too_many_headers", message: "the request has more than \(limit) header fields")
    }

    /// A target over `HTTPLimits.maxURIBytes`.
    static func uriTooLong(limit: Int) -> HTTPParseError {
        HTTPParseError(status: 414, code: "uri_too_long", message: "the request target exceeds \(limit) bytes")
    }

    /// A body over `HTTPLimits.maxBodyBytes`.
    static func bodyTooLarge(limit: Int) -> HTTPParseError {
        HTTPParseError(status: 413, code: "body_too_large", message: "the request body exceeds \(limit) bytes")
    }

    /// Both `Content-Length` and `Transfer-Encoding`, or disagreeing lengths: the framing a
    /// proxy and this server would see could differ (request smuggling), so neither is used.
    static func conflictingFraming(_ message: String) -> HTTPParseError {
        HTTPParseError(status: 400, code: "conflicting_framing", message: message)
    }

    /// A malformed chunked body.
    static func badChunk(_ message: String) -> HTTPParseError {
        HTTPParseError(status: 400, code: "bad_chunk", message: message)
    }

    /// A transfer coding other than `chunked`.
    static func unsupportedTransferEncoding(_ value: String) -> HTTPParseError {
        HTTPParseError(
            status: 501, code: "unsupported_transfer_encoding",
            message: "transfer coding \"\(value.prefix(40))\" is not supported; send chunked or Content-Length")
    }

    /// An HTTP version other than 1.0 and 1.1.
    static func unsupportedVersion() -> HTTPParseError {
        HTTPParseError(status: 505, code: "unsupported_version", message: "only HTTP/1.0 and HTTP/1.1 are supported")
    }

    /// An `Expect` other than `100-continue`.
    static func unsupportedExpectation() -> HTTPParseError {
        HTTPParseError(status: 417, code: "expectation_failed", message: "only Expect: 100-continue is supported")
    }

    /// The client took too long to send its request (slow-request protection).
    static func requestTimeout() -> HTTPParseError {
        HTTPParseError(status: 408, code: "request_timeout", message: "the request was not received in time")
    }
}
