import Glibc
import Journal
import TestSupport
import Testing

@testable import JournalServer

/// The API over real sockets against the built `journal-server` binary.
@Suite struct EndToEndTests {
    @Test func createAppendFollowComplete() throws {
        let directory = TestDirectory()
        let server = ServerProcess(file: directory.file("j.sj"))
        let client = TestHTTPClient(port: server.port)
        let created = try #require(client.request("PUT", "/streams/chat-1", text: #"{"metadata":{"model":"small"}}"#))
        #expect(created.status == 201)
        #expect(created.header("location") == "/streams/chat-1")
        #expect(client.request("PUT", "/streams/chat-1", text: #"{"metadata":{"model":"small"}}"#)?.status == 200)
        #expect(client.request("PUT", "/streams/chat-1", text: #"{"metadata":{"model":"big"}}"#)?.status == 409)
        // Other bytes for the same text: "é" precomposed, then "e" + U+0301. Swift's `==`
        // found them equal and answered 200 as if the second spelling had been stored.
        #expect(client.request("PUT", "/streams/nfc", text: #"{"metadata":{"k":"\u00e9"}}"#)?.status == 201)
        #expect(client.request("PUT", "/streams/nfc", text: #"{"metadata":{"k":"e\u0301"}}"#)?.status == 409)
        #expect(client.request("PUT", "/streams/nfc", text: #"{"metadata":{"k":"\u00e9"}}"#)?.status == 200)

        let follower = TestHTTPClient(port: server.port)
        let head = try #require(follower.openEvents("/streams/chat-1/events"))
        #expect(head.status == 200)
        #expect(head.header("content-type") == "text/event-stream")
        #expect(head.header("cache-control") == "no-cache")
        #expect(head.header("x-accel-buffering") == "no")

        for (index, token) in ["Hel", "lo", " wor", "ld"].enumerated() {
            let appended = try #require(client.request("POST", "/streams/chat-1/chunks", text: token))
            #expect(appended.status == 201)
            #expect(appended.field("index") == String(index))
        }
        let live = follower.nextEvents(4)
        #expect(live.map(\.text) == ["Hel", "lo", " wor", "ld"])
        #expect(live.map(\.id) == ["0", "1", "2", "3"])

        #expect(client.request("POST", "/streams/chat-1/complete")?.status == 200)
        let rest = follower.eventsUntilClose()
        #expect(rest.count == 1)
        #expect(rest.first?.event == "end")
        #expect(rest.first?.text.contains("\"status\":\"completed\"") == true)
        #expect(rest.first?.id == "3", "control events carry no id of their own")
        #expect(follower.closedByPeer)

        let info = try #require(client.request("GET", "/streams/chat-1"))
        #expect(info.field("status") == "completed")
        #expect(info.field("chunkCount") == "4")
        #expect(client.request("POST", "/streams/chat-1/chunks", text: "late")?.status == 409)
        let read = try #require(client.request("GET", "/streams/chat-1/chunks?from=1&limit=2"))
        #expect(read.status == 200)
        #expect(read.field("next") == "3")
        #expect(read.json?.objectValue?["chunks"]?.arrayValue?.count == 2)
    }

    @Test func resumeWithLastEventIDGetsExactlyTheMissedChunks() throws {
        let directory = TestDirectory()
        let server = ServerProcess(file: directory.file("j.sj"))
        let client = TestHTTPClient(port: server.port)
        #expect(client.request("PUT", "/streams/r")?.status == 201)
        for index in 0..<5 { _ = client.request("POST", "/streams/r/chunks", text: "seq=\(index)") }

        let first = TestHTTPClient(port: server.port)
        #expect(first.openEvents("/streams/r/events")?.status == 200)
        let seen = first.nextEvents(3)
        #expect(seen.map(\.text) == ["seq=0", "seq=1", "seq=2"])
        let lastID = try #require(seen.last?.id)

        for index in 5..<8 { _ = client.request("POST", "/streams/r/chunks", text: "seq=\(index)") }
        let resumed = TestHTTPClient(port: server.port)
        #expect(resumed.openEvents("/streams/r/events", headers: [("Last-Event-ID", lastID)])?.status == 200)
        let missed = resumed.nextEvents(5)
        #expect(missed.map(\.text) == (3..<8).map { "seq=\($0)" })
        #expect(missed.map(\.id) == (3..<8).map { String($0) })

        // EventSource's first request cannot set headers: the query forms do the same.
        let byQuery = TestHTTPClient(port: server.port)
        #expect(byQuery.openEvents("/streams/r/events?lastEventId=5")?.status == 200)
        #expect(byQuery.nextEvents(2).map(\.text) == ["seq=6", "seq=7"])
        let byFrom = TestHTTPClient(port: server.port)
        #expect(byFrom.openEvents("/streams/r/events?from=7")?.status == 200)
        #expect(byFrom.nextEvents(1).map(\.text) == ["seq=7"])
        // The header (a reconnect) wins over the URL's first position.
        let both = TestHTTPClient(port: server.port)
        #expect(both.openEvents("/streams/r/events?from=0", headers: [("Last-Event-ID", "6")])?.status == 200)
        #expect(both.nextEvents(1).map(\.text) == ["seq=7"])

        // An id beyond the stream: reset, then from the start.
        let future = TestHTTPClient(port: server.port)
        #expect(future.openEvents("/streams/r/events", headers: [("Last-Event-ID", "99")])?.status == 200)
        let reset = future.nextEvents(2)
        #expect(reset.first?.event == "reset")
        #expect(reset.last?.text == "seq=0")
        // The reason names what this client sent, not an id it never saw.
        let farFrom = TestHTTPClient(port: server.port)
        #expect(farFrom.openEvents("/streams/r/events?from=99")?.status == 200)
        let farReset = farFrom.nextEvents(1)
        #expect(farReset.first?.event == "reset")
        #expect(farReset.first?.text.contains("from=99 is beyond the end (the last chunk is 7)") == true)

        // After the end, the last id gets 204 so a browser stops reconnecting.
        #expect(client.request("POST", "/streams/r/complete")?.status == 200)
        let done = TestHTTPClient(port: server.port)
        #expect(done.openEvents("/streams/r/events", headers: [("Last-Event-ID", "7")])?.status == 204)
        #expect(client.request("GET", "/streams/missing/events")?.status == 404)
    }

    @Test func queryParametersAreCheckedAndLimitZeroReadsNothing() throws {
        let directory = TestDirectory()
        let server = ServerProcess(file: directory.file("j.sj"))
        let client = TestHTTPClient(port: server.port)
        #expect(client.request("PUT", "/streams/q")?.status == 201)
        // A misspelt `index` would have appended without idempotency; a repeated one, with
        // whichever value came first.
        for target in ["/streams/q/chunks?idx=0", "/streams/q/chunks?index=0&index=1", "/streams/q/batch?Index=0"] {
            let refused = try #require(client.request("POST", target, text: "x"))
            #expect(refused.status == 400, "\(target)")
            #expect(refused.field("code") == "invalid_query", "\(target)")
        }
        let unknown = try #require(client.request("POST", "/streams/q/chunks?idx=0", text: "x"))
        let message = unknown.field("error") ?? ""
        #expect(message.contains("unknown query parameter \"idx\"; this request takes only index"), "\(message)")
        #expect(client.request("POST", "/streams/q/complete?now=1")?.field("code") == "invalid_query")
        #expect(client.request("GET", "/streams/q")?.field("chunkCount") == "0", "a refused request wrote nothing")
        #expect(client.request("GET", "/streams/q/chunks?limit=x")?.field("code") == "invalid_query")

        #expect(client.request("POST", "/streams/q/chunks?index=0", text: "a")?.status == 201)
        #expect(client.request("POST", "/streams/q/chunks", text: "b")?.status == 201)
        let none = try #require(client.request("GET", "/streams/q/chunks?from=1&limit=0"))
        #expect(none.status == 200)
        #expect(none.json?.objectValue?["chunks"]?.arrayValue?.count == 0)
        #expect(none.field("next") == "1")
        // Leading zeros, however many (19 or more were refused as not an integer).
        let padded = try #require(
            client.request("GET", "/streams/q/chunks?from=" + String(repeating: "0", count: 25) + "1"))
        #expect(padded.field("from") == "1", "\(padded.status)")
        let huge = try #require(client.request("GET", "/streams/q/chunks?from=1" + String(repeating: "0", count: 18)))
        #expect(huge.field("code") == "invalid_query")
        // Reads ignore parameters they do not know (cache busters, proxies).
        let busted = try #require(client.request("GET", "/streams/q/chunks?_=12345"))
        #expect(busted.json?.objectValue?["chunks"]?.arrayValue?.count == 2)
    }

    @Test func idempotentAppendsBatchesAndBinaryChunks() throws {
        let directory = TestDirectory()
        let server = ServerProcess(file: directory.file("j.sj"))
        let client = TestHTTPClient(port: server.port)
        let created = try #require(client.request("POST", "/streams", text: ""))
        #expect(created.status == 201)
        let id = try #require(created.field("id"))
        #expect(client.request("POST", "/streams/\(id)/chunks?index=0", text: "a")?.status == 201)
        let retry = try #require(client.request("POST", "/streams/\(id)/chunks?index=0", text: "a"))
        #expect(retry.status == 200)
        #expect(retry.field("duplicate") == "true")
        #expect(client.request("POST", "/streams/\(id)/chunks?index=0", text: "b")?.field("code") == "chunk_conflict")
        let gap = try #require(client.request("POST", "/streams/\(id)/chunks?index=5", text: "c"))
        #expect(gap.status == 409)
        #expect(gap.field("next") == "1")
        #expect(client.request("POST", "/streams/\(id)/chunks?index=x", text: "c")?.status == 400)

        let batch = try #require(client.request("POST", "/streams/\(id)/batch", text: #"{"chunks":["b","c"]}"#))
        #expect(batch.status == 201)
        #expect(batch.field("first") == "1")
        let binary: [UInt8] = [0, 13, 10, 255, 254]
        let encoded = Base64.encode(binary)
        let retried = try #require(
            client.request(
                "POST", "/streams/\(id)/batch?index=2", text: #"{"chunks":["Yw==","\#(encoded)"],"encoding":"base64"}"#)
        )
        #expect(retried.status == 201)
        #expect(retried.field("duplicates") == "1")

        let follower = TestHTTPClient(port: server.port)
        #expect(follower.openEvents("/streams/\(id)/events?from=3")?.status == 200)
        let event = try #require(follower.nextEvents(1).first)
        #expect(event.event == "message.b64")
        #expect(event.decodedPayload == binary)
        let read = try #require(client.request("GET", "/streams/\(id)/chunks?from=3"))
        #expect(read.json?.objectValue?["chunks"]?.arrayValue?.first?.objectValue?["base64"]?.stringValue == encoded)

        #expect(client.request("POST", "/streams/\(id)/fail", text: #"{"reason":"model error"}"#)?.status == 200)
        let ended = follower.eventsUntilClose()
        #expect(ended.last?.event == "end")
        #expect(ended.last?.text.contains("model error") == true)
        #expect(client.request("POST", "/streams/\(id)/cancel")?.status == 409)
        #expect(client.request("DELETE", "/streams/\(id)")?.status == 200)
        #expect(client.request("GET", "/streams/\(id)")?.status == 404)
        #expect(client.request("POST", "/streams/nope/chunks", text: "x")?.status == 404)
    }

    @Test func listsHealthMetricsAndDeletionEndsSubscribers() throws {
        let directory = TestDirectory()
        let server = ServerProcess(file: directory.file("j.sj"))
        let client = TestHTTPClient(port: server.port)
        #expect(client.request("GET", "/healthz")?.text == #"{"status":"ok"}"#)
        _ = client.request("PUT", "/streams/a")
        _ = client.request("PUT", "/streams/b")
        _ = client.request("POST", "/streams/b/complete")
        let open = try #require(client.request("GET", "/streams?status=open"))
        #expect(open.json?.objectValue?["streams"]?.arrayValue?.count == 1)
        #expect(client.request("GET", "/streams?status=bogus")?.status == 400)
        let fromStart = try #require(client.request("GET", "/streams?after=0"))
        #expect(fromStart.json?.objectValue?["streams"]?.arrayValue?.count == 2, "after is a parameter of the list")

        let follower = TestHTTPClient(port: server.port)
        #expect(follower.openEvents("/streams/a/events")?.status == 200)
        _ = client.request("POST", "/streams/a/chunks", text: "x")
        #expect(follower.nextEvents(1).count == 1)
        let metrics = try #require(client.request("GET", "/metrics"))
        #expect(metrics.header("content-type")?.hasPrefix("text/plain") == true)
        for name in [
            "journal_server_connections ", "journal_server_sse_subscribers 1", "journal_server_appends_total 1",
            "journal_server_write_duration_seconds_bucket", "journal_streams{status=\"open\"} 1",
        ] {
            #expect(metrics.text.contains(name), "missing \(name)")
        }
        #expect(client.request("DELETE", "/streams/a")?.status == 200)
        let ended = follower.eventsUntilClose()
        #expect(ended.last?.text.contains("\"status\":\"deleted\"") == true)
    }

    /// A full disk is a 507 for the appends that need room, and the server goes on: the
    /// journal is not poisoned (it used to answer 503 to every write until a restart), and a
    /// file-size limit no longer kills the server with SIGXFSZ.
    @Test func aFullDiskAnswers507AndTheServerWritesAgainOnceThereIsRoom() throws {
        let directory = TestDirectory()
        let file = directory.file("j.sj")
        let server = ServerProcess(file: file)
        let client = TestHTTPClient(port: server.port)
        #expect(client.request("PUT", "/streams/s")?.status == 201)
        // The server may write its file up to the size it has now, and no further.
        var info = stat()
        #expect(stat(file, &info) == 0)
        #expect(setFileSizeLimit(of: server.pid, to: UInt64(info.st_size)) == 0)
        let chunk = [UInt8](repeating: 0x61, count: 64 << 10)
        var accepted = 0
        var refusal: TestResponse?
        while accepted < 100, refusal == nil {
            guard let response = client.request("POST", "/streams/s/chunks", body: chunk) else { break }
            if response.status == 201 { accepted += 1 } else { refusal = response }
        }
        #expect(accepted > 0)
        #expect(refusal?.status == 507, "\(refusal?.text ?? "no refusal; the server is \(server.standardError())")")
        #expect(refusal?.field("code") == "io")
        #expect(refusal?.text.contains("File too large") == true)
        #expect(client.request("POST", "/streams/s/chunks", body: chunk)?.status == 507, "not poisoned: 503")
        #expect(setFileSizeLimit(of: server.pid, to: nil) == 0)
        let after = try #require(client.request("POST", "/streams/s/chunks", body: chunk))
        #expect(after.status == 201)
        #expect(after.field("index") == String(accepted))
        #expect(client.request("GET", "/streams/s")?.field("chunkCount") == String(accepted + 1))
    }

    @Test func heartbeatsAndRetryCarryNoID() throws {
        let directory = TestDirectory()
        let server = ServerProcess(file: directory.file("j.sj"), ["--heartbeat", "100ms", "--retry", "2s"])
        let client = TestHTTPClient(port: server.port)
        #expect(client.request("PUT", "/streams/h")?.status == 201)
        #expect(client.request("POST", "/streams/h/chunks", text: "one")?.status == 201)
        let follower = TestHTTPClient(port: server.port)
        #expect(follower.openEvents("/streams/h/events")?.status == 200)
        let raw = follower.receive { String(decoding: $0, as: UTF8.self).hasSuffix(":\n\n:\n\n") }
        #expect(String(decoding: raw, as: UTF8.self) == "retry: 2000\n\nid: 0\ndata: one\n\n:\n\n:\n\n")
    }

    @Test func tokensGuardWritesAndReads() throws {
        let directory = TestDirectory()
        let server = ServerProcess(file: directory.file("j.sj"), ["--token", "w-secret", "--read-token", "r-secret"])
        let client = TestHTTPClient(port: server.port)
        let denied = try #require(client.request("PUT", "/streams/a"))
        #expect(denied.status == 401)
        #expect(denied.header("www-authenticate") == "Bearer")
        #expect(client.request("PUT", "/streams/a", headers: [("Authorization", "Bearer wrong")])?.status == 401)
        #expect(client.request("PUT", "/streams/a", headers: [("Authorization", "Bearer r-secret")])?.status == 401)
        #expect(client.request("PUT", "/streams/a", headers: [("Authorization", "Bearer w-secret")])?.status == 201)
        #expect(client.request("GET", "/streams/a")?.status == 401)
        #expect(client.request("GET", "/streams/a", headers: [("Authorization", "Bearer r-secret")])?.status == 200)
        #expect(client.request("GET", "/streams/a", headers: [("Authorization", "Bearer w-secret")])?.status == 200)
        let reader = TestHTTPClient(port: server.port)
        #expect(reader.openEvents("/streams/a/events?access_token=r-secret")?.status == 200)
        #expect(TestHTTPClient(port: server.port).request("GET", "/healthz")?.status == 200)
    }

    @Test func nonLoopbackWithoutTokenIsRefused() {
        let directory = TestDirectory()
        let result = ServerProcess.runToExit(["--host", "0.0.0.0", "--port", "0", "--file", directory.file("j.sj")])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--insecure"))
        #expect(ServerProcess.runToExit(["--help"]).stdout.contains("--stale-after"))
    }

    @Test func aPortInUseLeavesNoJournalBehindAndAMissingDirectoryIsNamed() {
        let directory = TestDirectory()
        let running = ServerProcess(file: directory.file("first.sj"))
        let second = directory.file("second.sj")
        let taken = ServerProcess.runToExit(["--port", "\(running.port)", "--file", second])
        #expect(taken.status == 1)
        #expect(taken.stderr.contains("cannot listen on"), "\(taken.stderr)")
        #expect(access(second, F_OK) != 0, "the refused start created \(second)")

        let nowhere = directory.file("missing/j.sj")
        let missing = ServerProcess.runToExit(["--port", "0", "--file", nowhere])
        #expect(missing.status == 1)
        #expect(
            missing.stderr.contains("cannot open \(nowhere): create failed on \(nowhere): No such file or directory"),
            "\(missing.stderr)")
    }
}
