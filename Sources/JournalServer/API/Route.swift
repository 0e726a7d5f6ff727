import Journal

/// An API endpoint with the stream it names, decided from method and path alone (pure; the
/// table in the README mirrors `Route.match`).
enum Route: Sendable, Equatable {
    /// `GET /healthz`.
    case health
    /// `GET /metrics`.
    case metrics
    /// `GET /streams?status=...`.
    case listStreams
    /// `POST /streams`.
    case createGenerated
    /// `PUT /streams/{id}`.
    case create(StreamID)
    /// `GET /streams/{id}`.
    case info(StreamID)
    /// `DELETE /streams/{id}`.
    case delete(StreamID)
    /// `POST /streams/{id}/chunks`.
    case append(StreamID)
    /// `POST /streams/{id}/batch`.
    case appendBatch(StreamID)
    /// `GET /streams/{id}/chunks`.
    case readChunks(StreamID)
    /// `POST /streams/{id}/complete`.
    case complete(StreamID)
    /// `POST /streams/{id}/fail`.
    case fail(StreamID)
    /// `POST /streams/{id}/cancel`.
    case cancel(StreamID)
    /// `GET /streams/{id}/events` (and `HEAD`, which subscribes to nothing).
    case events(StreamID)

    /// Who may call a route.
    enum Access: Sendable, Equatable {
        /// Anyone (health checks).
        case open
        /// Read token, when one is configured (or the write token).
        case read
        /// Write token, when one is configured.
        case write
    }

    /// What matching a request found.
    enum Match: Sendable, Equatable {
        /// A route.
        case route(Route)
        /// No such resource (404).
        case notFound
        /// The resource exists but not with this method (405 with `Allow`).
        case methodNotAllowed(allow: [String])
        /// The path names a stream id that is not valid (400).
        case invalidStreamID(String)
    }

    /// The access a route requires.
    var access: Access {
        switch self {
        case .health: return .open
        case .metrics, .listStreams, .info, .readChunks, .events: return .read
        case .createGenerated, .create, .delete, .append, .appendBatch, .complete, .fail, .cancel: return .write
        }
    }

    /// The query parameters the route reads. Reads also take `access_token`.
    var queryParameters: [String] {
        switch self {
        case .listStreams: return ["status", "limit", "after", "access_token"]
        case .readChunks: return ["from", "limit", "access_token"]
        case .events: return ["from", "lastEventId", "access_token"]
        case .metrics, .info: return ["access_token"]
        case .append, .appendBatch: return ["index"]
        case .health, .createGenerated, .create, .delete, .complete, .fail, .cancel: return []
        }
    }

    /// Why `query` does not fit the route, or nil. A parameter it reads may appear once:
    /// which of two values would win is a guess. A write takes no parameter it does not read,
    /// because a misspelt one (`?idx=3` for `?index=3`) would silently drop the idempotency
    /// the client asked for. Reads ignore unknown parameters, as caches and proxies add them.
    func queryProblem(_ query: [(name: String, value: String)]) -> String? {
        let known = queryParameters
        var seen: Set<String> = []
        for (name, _) in query {
            if known.contains(name) {
                if !seen.insert(name).inserted { return "query parameter \(name) appears more than once; send it once" }
            } else if isWrite {
                let takes =
                    known.isEmpty
                    ? "this request takes none" : "this request takes only \(known.joined(separator: ", "))"
                return "unknown query parameter \"\(name.prefix(64))\"; \(takes)"
            }
        }
        return nil
    }

    /// Whether the route changes the journal (runs on a worker thread).
    var isWrite: Bool { access == .write }

    /// Matches `method` and decoded path `segments`. `HEAD` matches what `GET` matches
    /// (RFC 9110 §9.1).
    static func match(method: HTTPMethod, segments: [[UInt8]]) -> Match {
        let get = method == .get || method == .head
        func only(_ allowed: [String], _ route: @autoclosure () -> Route?) -> Match {
            let name = method == .head ? "GET" : method.description
            guard allowed.contains(name), let route = route() else { return .methodNotAllowed(allow: allowed) }
            return .route(route)
        }
        guard let first = segments.first else { return .notFound }
        switch (String(decoding: first, as: UTF8.self), segments.count) {
        case ("healthz", 1): return only(["GET"], .health)
        case ("metrics", 1): return only(["GET"], .metrics)
        case ("streams", 1):
            if get { return .route(.listStreams) }
            return only(["GET", "POST"], .createGenerated)
        case ("streams", 2), ("streams", 3):
            let id: StreamID
            switch streamID(segments[1]) {
            case .success(let valid): id = valid
            case .failure(let problem): return .invalidStreamID(problem.message)
            }
            if segments.count == 2 {
                switch method {
                case .get, .head: return .route(.info(id))
                case .put: return .route(.create(id))
                case .delete: return .route(.delete(id))
                default: return .methodNotAllowed(allow: ["GET", "PUT", "DELETE"])
                }
            }
            switch String(decoding: segments[2], as: UTF8.self) {
            case "chunks":
                if get { return .route(.readChunks(id)) }
                return only(["GET", "POST"], .append(id))
            case "batch": return only(["POST"], .appendBatch(id))
            case "complete": return only(["POST"], .complete(id))
            case "fail": return only(["POST"], .fail(id))
            case "cancel": return only(["POST"], .cancel(id))
            case "events": return get ? .route(.events(id)) : .methodNotAllowed(allow: ["GET"])
            default: return .notFound
            }
        default:
            return .notFound
        }
    }

    /// A decoded path segment as a stream id: valid UTF-8 and `StreamID`'s rules (which
    /// exclude `/`, `..` and control characters).
    static func streamID(_ bytes: [UInt8]) -> Result<StreamID, StreamIDProblem> {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return .failure(StreamIDProblem("the stream id is not valid UTF-8"))
        }
        do {
            return .success(try StreamID(text))
        } catch {
            return .failure(StreamIDProblem(error.description))
        }
    }
}

/// Why a path segment is not a stream id, as an `Error` for `Result`.
struct StreamIDProblem: Error, Sendable, Equatable {
    /// The message for the 400 body.
    var message: String
    /// Wraps a message.
    init(_ message: String) { self.message = message }
}
