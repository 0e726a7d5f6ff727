import Journal

/// The read endpoints, answered on the event loop: each costs the journal lock briefly and
/// reads from the mapping, never waits for the disk.
extension ServerAPI {
    /// `GET /streams/{id}`.
    func info(_ id: StreamID) -> HTTPResponse {
        do {
            return .json(200, try journal.info(id).json)
        } catch {
            return error.response
        }
    }

    /// `GET /streams?status=open&limit=N&after=P`: `{"streams": [...], "truncated": bool}` in
    /// creation order, at most `limit` (default and maximum 10000) and about `maxReadBytes` of
    /// JSON (at least one stream); when truncated, `next` is the `after` of the next page.
    ///
    /// A response is built and queued whole, so its size is what a client that never reads
    /// holds in this server's memory: 10,000 streams with 64 KiB of metadata each, escaped,
    /// came to hundreds of megabytes per request. The position is the last listed stream's
    /// number, which no later stream gets: an id in its place skipped every stream between
    /// it and its new position when it was deleted and created again between two pages.
    func listStreams(_ target: RequestTarget) -> HTTPResponse {
        var status: StreamStatus?
        if let text = target.queryValue("status") {
            guard let parsed = StreamStatus(rawValue: text) else {
                return .error(
                    400, code: "invalid_status",
                    message: "status must be one of \(StreamStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            status = parsed
        }
        let limit: Int
        let after: Int
        switch (Self.integerParameter("limit", in: target), Self.integerParameter("after", in: target)) {
        case (.success(let count), .success(let position)):
            limit = min(count ?? 10_000, 10_000)
            after = position ?? 0
        case (.failure(let problem), _), (_, .failure(let problem)):
            return problem.response
        }
        guard after <= Int(UInt32.max) else {
            return .error(400, code: "invalid_query", message: "after must be a position a previous page gave as next")
        }
        do {
            // One more than fits, to know whether the list goes on.
            let page = try journal.streamPage(status: status, after: UInt32(after), limit: limit + 1)
            var json = JSONWriter()
            json.beginObject()
            json.key("streams")
            json.beginArray()
            var listed = 0
            while listed < page.count, listed < limit, listed == 0 || json.bytes.count < configuration.maxReadBytes {
                page[listed].info.write(to: &json)
                listed += 1
            }
            json.endArray()
            json.key("truncated")
            json.bool(listed < page.count)
            if listed < page.count, listed > 0 {
                json.key("next")
                json.int(Int(page[listed - 1].number))
            }
            json.endObject()
            return .json(200, json.bytes)
        } catch {
            return error.response
        }
    }

    /// `GET /streams/{id}/chunks?from=K&limit=N`: a catch-up read. Chunks that are UTF-8 text
    /// come as `"text"`, others as `"base64"`; `next` is where the following read starts. At
    /// most `limit` chunks (default 100, at most `maxReadChunks`; 0 reads none, for the
    /// counts alone) and about `maxReadBytes` of JSON (at least one chunk when `limit` > 0):
    /// counted after escaping, which makes a control byte six (see `listStreams` for why).
    func readChunks(_ id: StreamID, target: RequestTarget) -> HTTPResponse {
        let from: Int
        let limit: Int
        switch (Self.integerParameter("from", in: target), Self.integerParameter("limit", in: target)) {
        case (.success(let start), .success(let count)):
            from = start ?? 0
            limit = min(count ?? 100, configuration.maxReadChunks)
        case (.failure(let problem), _), (_, .failure(let problem)):
            return problem.response
        }
        do {
            let info = try journal.info(id)
            var cursor = try journal.chunks(of: id, from: from)
            var json = JSONWriter()
            json.beginObject()
            json.key("id")
            json.string(id.rawValue)
            json.key("status")
            json.string(info.status.rawValue)
            json.key("chunkCount")
            json.int(max(info.chunkCount, cursor.endIndex))
            json.key("from")
            json.int(from)
            json.key("chunks")
            json.beginArray()
            var next = from
            while next - from < limit, json.bytes.count < configuration.maxReadBytes || next == from,
                let chunk = try cursor.next()
            {
                json.beginObject()
                json.key("index")
                json.int(chunk.index)
                json.key("timestamp")
                json.int(Int(chunk.timestamp))
                chunk.withUnsafeBytes { payload in
                    if String(validating: payload, as: UTF8.self) != nil {
                        json.key("text")
                        json.string(utf8: payload)
                    } else {
                        json.key("base64")
                        json.base64(payload)
                    }
                }
                json.endObject()
                next = chunk.index + 1
            }
            json.endArray()
            json.key("next")
            json.int(next)
            json.endObject()
            return .json(200, json.bytes)
        } catch {
            return error.response
        }
    }

    /// `GET /streams/{id}/events`: decides where the event stream starts. The
    /// `Last-Event-ID` header wins (a browser's reconnect sends it while the URL keeps its
    /// first query), then `?lastEventId=K`, then `?from=K` (first index wanted). A client that
    /// already has the last chunk of an ended stream gets 204 so its EventSource stops. A
    /// HEAD gets the head a GET would and no subscription: there is no body to hold open.
    func subscribe(_ id: StreamID, request: HTTPRequest, target: RequestTarget) -> APIOutcome {
        let info: StreamInfo
        do {
            info = try journal.info(id)
        } catch {
            return .respond(error.response)
        }
        let resume: SSEResumePoint
        if let lastEventID = request.header("last-event-id") ?? target.queryValue("lastEventId") {
            resume = SSEResumePoint.decide(lastEventID: lastEventID, info: info)
        } else {
            switch Self.integerParameter("from", in: target) {
            case .success(let from):
                // No position, or 0, is a first connection: everything, then the end event.
                resume = from.flatMap { $0 > 0 ? SSEResumePoint.decide(from: $0, info: info) : nil } ?? .from(0)
            case .failure(let problem): return .respond(problem.response)
            }
        }
        if request.method == .head && resume != .alreadyEnded { return .respond(.eventStream) }
        switch resume {
        case .from(let start):
            return .subscribe(SubscriptionPlan(stream: id, start: start, reset: nil))
        case .reset(let earliest, let reason):
            return .subscribe(SubscriptionPlan(stream: id, start: earliest, reset: (earliest, reason)))
        case .alreadyEnded:
            return .respond(HTTPResponse(status: 204))
        }
    }
}
