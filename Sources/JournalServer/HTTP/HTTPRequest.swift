/// A request method: the ones this server routes by name, anything else kept as sent so the
/// router can answer 405 with the methods it does allow.
enum HTTPMethod: Sendable, Equatable, CustomStringConvertible {
    /// `GET`.
    case get
    /// `HEAD`.
    case head
    /// `POST`.
    case post
    /// `PUT`.
    case put
    /// `DELETE`.
    case delete
    /// `OPTIONS`.
    case options
    /// Any other valid token, e.g. `PATCH` or `BREW`.
    case other(String)

    /// Maps a method token (case-sensitive, RFC 9110 §9.1).
    init(token: String) {
        switch token {
        case "GET": self = .get
        case "HEAD": self = .head
        case "POST": self = .post
        case "PUT": self = .put
        case "DELETE": self = .delete
        case "OPTIONS": self = .options
        default: self = .other(token)
        }
    }

    /// The token as it appears on the request line.
    var description: String {
        switch self {
        case .get: return "GET"
        case .head: return "HEAD"
        case .post: return "POST"
        case .put: return "PUT"
        case .delete: return "DELETE"
        case .options: return "OPTIONS"
        case .other(let token): return token
        }
    }
}

/// One header field: the name lower-cased (names are case-insensitive), the value with
/// surrounding whitespace removed.
struct HTTPHeader: Sendable, Equatable {
    /// Lower-case field name.
    var name: String
    /// Field value; bytes above 0x7F that are not UTF-8 are replaced, since no header this
    /// server interprets carries them.
    var value: String
}

/// A complete, validated HTTP/1.x request.
struct HTTPRequest: Sendable, Equatable {
    /// The method.
    var method: HTTPMethod
    /// The request target in origin form, path and query still escaped: as sent, or taken
    /// from an absolute-form target (`http://host/path?query`).
    var target: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    var minorVersion: Int
    /// Header fields in order of arrival.
    var headers: [HTTPHeader]
    /// The body with any chunked framing removed.
    var body: [UInt8]
    /// Whether the client asked for `100 Continue` before sending its body.
    var expectsContinue = false

    /// The first value of header `name` (lower-case), if present.
    func header(_ name: String) -> String? {
        headers.first { $0.name == name }?.value
    }

    /// Whether the connection may carry another request after this one's response:
    /// HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    var keepAlive: Bool {
        var close = false
        var keep = false
        for header in headers where header.name == "connection" {
            for token in header.value.split(separator: ",") {
                let token = token.trimmingSpaces.lowercased()
                if token == "close" { close = true }
                if token == "keep-alive" { keep = true }
            }
        }
        if close { return false }
        return minorVersion >= 1 || keep
    }
}

extension Substring {
    /// The text without leading and trailing spaces and tabs.
    var trimmingSpaces: Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }
}
