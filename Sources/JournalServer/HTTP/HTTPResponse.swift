/// A response to send: status, extra headers and a complete body.
///
/// `Content-Length` and `Connection` are written by `serialize`, never taken from `headers`,
/// so a handler cannot produce a response whose framing disagrees with its body.
struct HTTPResponse: Sendable, Equatable {
    /// The status code.
    var status: Int
    /// Extra header fields, e.g. `Location` or `WWW-Authenticate`.
    var headers: [HTTPHeader] = []
    /// `Content-Type` of the body; nil for no body.
    var contentType: String?
    /// The body bytes.
    var body: [UInt8] = []
    /// The content's length is not known when the head is sent (an event stream, ended by the
    /// connection's close): no `Content-Length`, whose value for a HEAD would have to be the
    /// length a GET sends (RFC 9110 §8.6).
    var lengthUnknown = false

    /// The head of an event stream. Its body is delimited by the connection's close (no
    /// chunked framing to pay for on each event), so a GET sends it with `keepAlive: false`.
    static let eventStream = HTTPResponse(
        status: 200,
        headers: [
            HTTPHeader(name: "Cache-Control", value: "no-cache"), HTTPHeader(name: "X-Accel-Buffering", value: "no"),
        ],
        contentType: "text/event-stream", lengthUnknown: true)

    /// A response with a JSON body.
    static func json(_ status: Int, _ body: [UInt8], headers: [HTTPHeader] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers, contentType: "application/json", body: body)
    }

    /// A JSON error `{"error": message, "code": code}` plus `extra` fields.
    static func error(
        _ status: Int, code: String, message: String, extra: (inout JSONWriter) -> Void = { _ in },
        headers: [HTTPHeader] = []
    ) -> HTTPResponse {
        var json = JSONWriter()
        json.beginObject()
        json.key("error")
        json.string(message)
        json.key("code")
        json.string(code)
        extra(&json)
        json.endObject()
        return .json(status, json.bytes, headers: headers)
    }

    /// The error response for a request the parser refused.
    static func error(_ parseError: HTTPParseError) -> HTTPResponse {
        .error(parseError.status, code: parseError.code, message: parseError.message)
    }

    /// Writes the status line, headers and (unless `includeBody` is false, for HEAD) body.
    func serialize(keepAlive: Bool, includeBody: Bool = true, into out: inout [UInt8]) {
        out.append(contentsOf: "HTTP/1.1 \(status) \(HTTPResponse.reason(for: status))\r\n".utf8)
        if let contentType {
            out.append(contentsOf: "Content-Type: ".utf8)
            out.append(contentsOf: contentType.utf8)
            out.append(contentsOf: "\r\n".utf8)
        }
        for header in headers {
            out.append(contentsOf: header.name.utf8)
            out.append(contentsOf: ": ".utf8)
            out.append(contentsOf: header.value.utf8)
            out.append(contentsOf: "\r\n".utf8)
        }
        // 1xx and 204 never carry Content-Length (RFC 9110 §8.6).
        if status >= 200 && status != 204 && status != 304 && !lengthUnknown {
            out.append(contentsOf: "Content-Length: \(body.count)\r\n".utf8)
        }
        out.append(contentsOf: (keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n").utf8)
        if includeBody && status != 204 && status != 304 { out.append(contentsOf: body) }
    }

    /// The bytes of `serialize`.
    func serialized(keepAlive: Bool, includeBody: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + body.count)
        serialize(keepAlive: keepAlive, includeBody: includeBody, into: &out)
        return out
    }

    /// The interim response that tells a client sending `Expect: 100-continue` to go on.
    static let continueBytes = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// The reason phrase for `status` (clients ignore it, people reading traces do not).
    static func reason(for status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 200: return "OK"
        case 201: return "Created"
        case 204: return "No Content"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 415: return "Unsupported Media Type"
        case 416: return "Range Not Satisfiable"
        case 417: return "Expectation Failed"
        case 422: return "Unprocessable Content"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 505: return "HTTP Version Not Supported"
        case 507: return "Insufficient Storage"
        default: return "Status"
        }
    }
}
