import Journal

/// The HTTP API over a journal: turns a parsed request into an `APIOutcome`.
///
/// It decides and never performs I/O on sockets: reads that cost a lock and a few pointer
/// reads are answered here, on the loop; anything that writes the journal is packaged as a
/// closure for a worker thread, because a write under `every-ack` waits for `fdatasync`.
final class ServerAPI: Sendable {
    /// The journal served.
    let journal: Journal
    /// The configuration (limits, tokens, read caps).
    let configuration: ServerConfiguration
    /// Counters shared with the workers.
    let metrics: ServerMetrics
    private let writeToken: BearerToken?
    private let readToken: BearerToken?

    /// An API over `journal`.
    init(journal: Journal, configuration: ServerConfiguration, metrics: ServerMetrics) {
        self.journal = journal
        self.configuration = configuration
        self.metrics = metrics
        writeToken = configuration.token.map(BearerToken.init)
        readToken = configuration.readToken.map(BearerToken.init)
    }

    /// Routes, authorises and handles `request`.
    func handle(_ request: HTTPRequest) -> APIOutcome {
        let target: RequestTarget
        do {
            target = try RequestTarget(request.target)
        } catch {
            return .respond(.error(400, code: "bad_request", message: error.message))
        }
        let route: Route
        switch Route.match(method: request.method, segments: target.segments) {
        case .route(let matched): route = matched
        case .notFound:
            return .respond(
                .error(404, code: "not_found", message: "no such resource; see the API table in the README"))
        case .methodNotAllowed(let allow):
            return .respond(
                .error(
                    405, code: "method_not_allowed",
                    message:
                        "\(String(request.method.description.prefix(32))) is not allowed here; use \(allow.joined(separator: ", "))",
                    headers: [HTTPHeader(name: "Allow", value: allow.joined(separator: ", "))]))
        case .invalidStreamID(let message):
            return .respond(.error(400, code: "invalid_stream_id", message: message))
        }
        if let denied = authorize(route.access, request: request, target: target) { return .respond(denied) }
        if let problem = route.queryProblem(target.query) {
            return .respond(.error(400, code: "invalid_query", message: problem))
        }
        return dispatch(route, request: request, target: target)
    }

    /// 401 unless the request carries the token the access level needs.
    func authorize(_ access: Route.Access, request: HTTPRequest, target: RequestTarget) -> HTTPResponse? {
        let authorization = request.header("authorization")
        // EventSource cannot set headers: reads may carry the token as ?access_token= (RFC 6750 §2.3).
        let queryToken = access == .read ? target.queryValue("access_token").map { "Bearer " + $0 } : nil
        func carries(_ token: BearerToken?) -> Bool {
            guard let token else { return false }
            return token.matches(authorization: authorization) || token.matches(authorization: queryToken)
        }
        switch access {
        case .open:
            return nil
        case .read:
            if readToken == nil || carries(readToken) || carries(writeToken) { return nil }
        case .write:
            if writeToken == nil || carries(writeToken) { return nil }
        }
        return .error(
            401, code: "unauthorized", message: "this request needs Authorization: Bearer <token>",
            headers: [HTTPHeader(name: "WWW-Authenticate", value: "Bearer")])
    }

    private func dispatch(_ route: Route, request: HTTPRequest, target: RequestTarget) -> APIOutcome {
        switch route {
        case .health: return .respond(.json(200, Array("{\"status\":\"ok\"}".utf8)))
        case .metrics: return .metrics
        case .listStreams: return .respond(listStreams(target))
        case .info(let id): return .respond(info(id))
        case .readChunks(let id): return .respond(readChunks(id, target: target))
        case .events(let id): return subscribe(id, request: request, target: target)
        case .createGenerated: return createGenerated(body: request.body)
        case .create(let id): return create(id, body: request.body)
        case .delete(let id): return write { () throws(JournalError) in try self.delete(id) }
        case .append(let id): return append(id, body: request.body, target: target)
        case .appendBatch(let id): return appendBatch(id, body: request.body, target: target)
        case .complete(let id):
            return write { () throws(JournalError) in
                try self.journal.complete(id)
                return .json(200, try self.journal.info(id).json)
            }
        case .fail(let id): return finish(id, body: request.body, failed: true)
        case .cancel(let id): return finish(id, body: request.body, failed: false)
        }
    }

    /// A worker job that runs `body`, times it and turns a `JournalError` into its response.
    func write(_ body: @escaping @Sendable () throws(JournalError) -> HTTPResponse) -> APIOutcome {
        .work { [metrics] in
            let start = MonotonicClock.now()
            do throws(JournalError) {
                let response = try body()
                metrics.writeDuration.observe(since: start)
                return response
            } catch {
                metrics.writeErrors.add(1, ordering: .relaxed)
                return error.response
            }
        }
    }

    /// Parses `?name=` as a non-negative decimal integer; nil when absent.
    static func integerParameter(_ name: String, in target: RequestTarget) -> Result<Int?, BodyProblem> {
        guard let text = target.queryValue(name) else { return .success(nil) }
        guard case .value(let value)? = DecimalNumber(text) else {
            return .failure(
                BodyProblem("query parameter \(name) must be a non-negative integer", code: "invalid_query"))
        }
        return .success(value)
    }
}
