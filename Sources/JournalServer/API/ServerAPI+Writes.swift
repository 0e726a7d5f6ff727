import Journal

/// The write endpoints; each returns a worker job (`APIOutcome.work`).
extension ServerAPI {
    /// `PUT /streams/{id}`: 201 created, 200 when it exists with the same metadata, 409 when
    /// it exists with other metadata.
    func create(_ id: StreamID, body: [UInt8]) -> APIOutcome {
        let metadata: [String: String]
        switch RequestBody.metadata(body) {
        case .success(let value): metadata = value
        case .failure(let problem): return .respond(problem.response)
        }
        return write { () throws(JournalError) in
            do throws(JournalError) {
                try self.journal.createStream(id, metadata: metadata)
                return .json(201, try self.journal.info(id).json, headers: [Self.location(id)])
            } catch .duplicateStream {
                let existing = try self.journal.info(id)
                if Journal.sameBytes(existing.metadata, metadata) { return .json(200, existing.json) }
                return .error(
                    409, code: "duplicate_stream",
                    message: "stream \"\(id)\" already exists with different metadata; choose another id")
            }
        }
    }

    /// `POST /streams`: creates a stream with a generated id; 201 with its info and `Location`.
    func createGenerated(body: [UInt8]) -> APIOutcome {
        let metadata: [String: String]
        switch RequestBody.metadata(body) {
        case .success(let value): metadata = value
        case .failure(let problem): return .respond(problem.response)
        }
        return write { () throws(JournalError) in
            let id = try self.journal.createStream(metadata: metadata)
            return .json(201, try self.journal.info(id).json, headers: [Self.location(id)])
        }
    }

    /// `POST /streams/{id}/chunks[?index=K]`: the body is one chunk. 201 `{"index": k}`; with
    /// `index`, a retry of the same bytes is 200 `{"index": K, "duplicate": true}`.
    func append(_ id: StreamID, body: [UInt8], target: RequestTarget) -> APIOutcome {
        let index: Int?
        switch Self.integerParameter("index", in: target) {
        case .success(let value): index = value
        case .failure(let problem): return .respond(problem.response)
        }
        return write { () throws(JournalError) in
            if let index {
                let outcome = try self.journal.append(body, to: id, at: index)
                if outcome == .duplicate {
                    self.metrics.duplicateAppends.add(1, ordering: .relaxed)
                    return .json(200, Array("{\"index\":\(index),\"duplicate\":true}".utf8))
                }
                self.countAppend(chunks: 1, bytes: body.count)
                return .json(201, Array("{\"index\":\(index)}".utf8))
            }
            let stored = try self.journal.append(body, to: id)
            self.countAppend(chunks: 1, bytes: body.count)
            return .json(201, Array("{\"index\":\(stored)}".utf8))
        }
    }

    /// `POST /streams/{id}/batch[?index=K]`: `{"chunks": [...], "encoding": "text"|"base64"}`.
    /// Without `index` the chunks are appended with one lock and one sync; with it, chunk i is
    /// appended idempotently at K+i, so a retried batch stores only what is missing.
    func appendBatch(_ id: StreamID, body: [UInt8], target: RequestTarget) -> APIOutcome {
        let index: Int?
        switch Self.integerParameter("index", in: target) {
        case .success(let value): index = value
        case .failure(let problem): return .respond(problem.response)
        }
        let chunks: [[UInt8]]
        switch RequestBody.batch(body) {
        case .success(let value): chunks = value
        case .failure(let problem): return .respond(problem.response)
        }
        return write { () throws(JournalError) in
            let bytes = chunks.reduce(0) { $0 + $1.count }
            guard let first = index else {
                let range = try self.journal.append(contentsOf: chunks, to: id)
                self.countAppend(chunks: chunks.count, bytes: bytes)
                return .json(201, Array("{\"first\":\(range.lowerBound),\"count\":\(range.count)}".utf8))
            }
            var duplicates = 0
            for (offset, chunk) in chunks.enumerated() {
                do throws(JournalError) {
                    if try self.journal.append(chunk, to: id, at: first + offset) == .duplicate {
                        duplicates += 1
                    } else {
                        self.countAppend(chunks: 1, bytes: chunk.count)
                    }
                } catch {
                    var response = error.response
                    if offset > 0 {
                        // Say how far the batch got, so the producer resends only the rest.
                        response.body.removeLast()
                        response.body += Array(",\"stored\":\(offset)}".utf8)
                    }
                    return response
                }
            }
            self.metrics.duplicateAppends.add(duplicates, ordering: .relaxed)
            return .json(
                duplicates == chunks.count ? 200 : 201,
                Array("{\"first\":\(first),\"count\":\(chunks.count),\"duplicates\":\(duplicates)}".utf8))
        }
    }

    /// `POST /streams/{id}/fail` (reason required in spirit, defaulted when absent) and
    /// `POST /streams/{id}/cancel` (optional reason): 200 with the final info.
    func finish(_ id: StreamID, body: [UInt8], failed: Bool) -> APIOutcome {
        let reason: String?
        switch RequestBody.reason(body) {
        case .success(let value): reason = value
        case .failure(let problem): return .respond(problem.response)
        }
        return write { () throws(JournalError) in
            if failed {
                try self.journal.fail(id, reason: reason ?? "failed by its producer")
            } else {
                try self.journal.cancel(id, reason: reason)
            }
            return .json(200, try self.journal.info(id).json)
        }
    }

    /// `DELETE /streams/{id}`: 200 `{"id": ..., "deleted": true}`.
    func delete(_ id: StreamID) throws(JournalError) -> HTTPResponse {
        try journal.deleteStream(id)
        var json = JSONWriter()
        json.beginObject()
        json.key("id")
        json.string(id.rawValue)
        json.key("deleted")
        json.bool(true)
        json.endObject()
        return .json(200, json.bytes)
    }

    private func countAppend(chunks: Int, bytes: Int) {
        metrics.appends.add(chunks, ordering: .relaxed)
        metrics.appendBytes.add(bytes, ordering: .relaxed)
    }

    private static func location(_ id: StreamID) -> HTTPHeader {
        HTTPHeader(name: "Location", value: "/streams/" + id.rawValue)
    }
}
