import Glibc
import Journal
import TestSupport
import Testing

@testable import JournalServer

/// What a crash or restart does to streams whose producers live elsewhere.
@Suite struct RestartTests {
    @Test func afterKill9AReconnectingClientGetsEveryAcknowledgedChunkAndTheProducerContinues() throws {
        let directory = TestDirectory()
        let file = directory.file("j.sj")
        var acknowledged: [String] = []
        var lastSeenID: String?
        do {
            let server = ServerProcess(file: file)
            let producer = TestHTTPClient(port: server.port)
            #expect(producer.request("PUT", "/streams/llm")?.status == 201)
            let reader = TestHTTPClient(port: server.port)
            #expect(reader.openEvents("/streams/llm/events")?.status == 200)
            for index in 0..<6 {
                let response = try #require(
                    producer.request("POST", "/streams/llm/chunks?index=\(index)", text: "t\(index)"))
                #expect(response.status == 201)
                acknowledged.append("t\(index)")
            }
            let seen = reader.nextEvents(3)
            lastSeenID = seen.last?.id
            #expect(seen.map(\.text) == ["t0", "t1", "t2"])
            server.kill(SIGKILL)
            #expect(server.waitForExit() == 128 + SIGKILL)
        }
        let restarted = ServerProcess(file: file)
        let reader = TestHTTPClient(port: restarted.port)
        #expect(
            reader.openEvents("/streams/llm/events", headers: [("Last-Event-ID", try #require(lastSeenID))])?.status
                == 200)
        #expect(reader.nextEvents(3).map(\.text) == Array(acknowledged[3...]))

        // The producer lost the response to chunk 5 and retries it: stored once.
        let producer = TestHTTPClient(port: restarted.port)
        let retry = try #require(producer.request("POST", "/streams/llm/chunks?index=5", text: "t5"))
        #expect(retry.status == 200)
        #expect(retry.field("duplicate") == "true")
        for index in 6..<9 {
            #expect(producer.request("POST", "/streams/llm/chunks?index=\(index)", text: "t\(index)")?.status == 201)
        }
        #expect(producer.request("POST", "/streams/llm/complete")?.status == 200)
        let rest = reader.eventsUntilClose()
        #expect(rest.map(\.text).dropLast() == ["t6", "t7", "t8"])
        #expect(rest.last?.event == "end")
        #expect(producer.request("GET", "/streams/llm")?.field("chunkCount") == "9")
    }

    @Test func aStreamWhoseProducerNeverReturnsEndsAsInterruptedAfterStaleAfter() throws {
        let directory = TestDirectory()
        let file = directory.file("j.sj")
        do {
            let server = ServerProcess(file: file, ["--stale-after", "1h"])
            let client = TestHTTPClient(port: server.port)
            #expect(client.request("PUT", "/streams/s")?.status == 201)
            #expect(client.request("POST", "/streams/s/chunks", text: "x")?.status == 201)
            server.kill(SIGKILL)
            server.waitForExit()
        }
        let server = ServerProcess(file: file, ["--stale-after", "300ms"])
        let follower = TestHTTPClient(port: server.port)
        #expect(follower.openEvents("/streams/s/events")?.status == 200)
        let events = follower.eventsUntilClose()
        #expect(events.first?.text == "x")
        #expect(events.last?.event == "end")
        #expect(events.last?.text.contains("interrupted") == true)
        let client = TestHTTPClient(port: server.port)
        #expect(client.request("GET", "/streams/s")?.field("status") == "interrupted")
    }

    @Test func onRestartInterruptEndsOpenStreamsAtOnce() throws {
        let directory = TestDirectory()
        let file = directory.file("j.sj")
        do {
            let server = ServerProcess(file: file)
            let client = TestHTTPClient(port: server.port)
            #expect(client.request("PUT", "/streams/s")?.status == 201)
            #expect(client.request("POST", "/streams/s/chunks", text: "x")?.status == 201)
            server.kill(SIGKILL)
            server.waitForExit()
        }
        let server = ServerProcess(file: file, ["--on-restart", "interrupt"])
        let client = TestHTTPClient(port: server.port)
        let info = try #require(client.request("GET", "/streams/s"))
        #expect(info.field("status") == "interrupted")
        #expect(client.request("POST", "/streams/s/chunks?index=1", text: "y")?.status == 409)
    }

    /// SIGTERM closed an idle keep-alive connection at once even with a reply still queued
    /// for a slow reader: the client saw the connection end in the middle of a body. The
    /// queued reply is now sent first; pipelined requests not yet started are not answered.
    @Test func aShutdownSendsTheRepliesStillQueuedForASlowReader() throws {
        let directory = TestDirectory()
        let server = ServerProcess(file: directory.file("j.sj"), ["--durability", "none"])
        let client = TestHTTPClient(port: server.port)
        #expect(client.request("PUT", "/streams/big")?.status == 201)
        let chunk = String(repeating: "x", count: 60_000)
        for _ in 0..<16 { #expect(client.request("POST", "/streams/big/chunks", text: chunk)?.status == 201) }
        let slow = TestHTTPClient(port: server.port, receiveBuffer: 4096)
        let request = "GET /streams/big/chunks?from=0&limit=16 HTTP/1.1\r\nHost: x\r\n\r\n"
        #expect(slow.send(String(repeating: request, count: 8)))
        // Replies are queued in the server beyond what the sockets hold.
        let queued = eventually {
            guard let metrics = client.request("GET", "/metrics") else { return false }
            let line = String(decoding: metrics.body, as: UTF8.self).split(separator: "\n")
                .first { $0.hasPrefix("journal_server_output_buffered_bytes ") }
            return line.flatMap { Int($0.split(separator: " ").last ?? "") }.map { $0 > 0 } ?? false
        }
        #expect(queued)
        server.kill(SIGTERM)
        var complete = 0
        while let response = slow.readResponse() {
            #expect(response.status == 200)
            complete += 1
        }
        #expect(complete >= 1)
        #expect(slow.rawPending().isEmpty, "a reply was cut off after \(complete) complete ones")
        #expect(server.waitForExit() == 0)
    }

    /// The longest grace the parser accepts overflowed the deadline and trapped on SIGTERM.
    @Test func aShutdownGraceOfCenturiesStillStopsCleanlyOnASignal() throws {
        let directory = TestDirectory()
        let server = ServerProcess(file: directory.file("j.sj"), ["--shutdown-grace", "106751991d"])
        #expect(TestHTTPClient(port: server.port).request("GET", "/healthz")?.status == 200)
        server.kill(SIGTERM)
        #expect(server.waitForExit() == 0)
        #expect(server.standardError().contains("stopped cleanly"))
    }

    @Test func retentionDeletesFinishedStreamsButNotOpenOnes() throws {
        let directory = TestDirectory()
        let server = ServerProcess(file: directory.file("j.sj"), ["--retention", "200ms"])
        let client = TestHTTPClient(port: server.port)
        #expect(client.request("PUT", "/streams/done")?.status == 201)
        #expect(client.request("POST", "/streams/done/complete")?.status == 200)
        #expect(client.request("PUT", "/streams/live")?.status == 201)
        #expect(eventually { TestHTTPClient(port: server.port).request("GET", "/streams/done")?.status == 404 })
        #expect(client.request("GET", "/streams/live")?.field("status") == "open")
        // The stream disappears when its deletion record is written; the counter moves once
        // the deletion is durable, a sync later.
        #expect(
            eventually {
                client.request("GET", "/metrics")?.text.contains("journal_server_retention_deletes_total 1") == true
            })
    }

    @Test func sigtermUnderLoadLosesNoAcknowledgedAppend() throws {
        let directory = TestDirectory()
        let file = directory.file("j.sj")
        let server = ServerProcess(file: file)
        let setup = TestHTTPClient(port: server.port)
        let producers = 4
        for producer in 0..<producers { #expect(setup.request("PUT", "/streams/p\(producer)")?.status == 201) }
        let follower = TestHTTPClient(port: server.port)
        #expect(follower.openEvents("/streams/p0/events")?.status == 200)

        // A pthread lock, not `Mutex`: TSan does not see `Mutex`'s futex lock as
        // synchronisation and reports the accesses it guards as Swift access races.
        final class Ledger: @unchecked Sendable {
            private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
            private var values: [[Int]]
            init(_ producers: Int) {
                values = Array(repeating: [], count: producers)
                pthread_mutex_init(mutex, nil)
            }
            deinit {
                pthread_mutex_destroy(mutex)
                mutex.deallocate()
            }
            func withLock<T>(_ body: (inout [[Int]]) -> T) -> T {
                pthread_mutex_lock(mutex)
                defer { pthread_mutex_unlock(mutex) }
                return body(&values)
            }
        }
        let ledger = Ledger(producers)
        let port = server.port
        // Producers append until the server goes away; each records what got a 2xx.
        let threads = (0..<producers).map { producer in
            Thread {
                let client = TestHTTPClient(port: port, timeout: 5)
                var index = 0
                while let response = client.request(
                    "POST", "/streams/p\(producer)/chunks", text: "p\(producer)-\(index)"),
                    response.status == 201
                {
                    let acknowledged = Int(response.field("index") ?? "-1") ?? -1
                    ledger.withLock { $0[producer].append(acknowledged) }
                    index += 1
                }
            }
        }
        #expect(eventually { ledger.withLock { $0.allSatisfy { $0.count >= 20 } } })
        server.kill(SIGTERM)
        for thread in threads { thread.join() }
        #expect(server.waitForExit() == 0)
        // The subscriber got a final heartbeat comment and a clean close.
        let raw = follower.receive { String(decoding: $0, as: UTF8.self).contains(": server shutting down\n\n") }
        #expect(String(decoding: raw, as: UTF8.self).contains(": server shutting down\n\n"))
        #expect(follower.waitForClose())

        let journal = try Journal.openReadOnly(path: file)
        for producer in 0..<producers {
            let acked = ledger.withLock { $0[producer] }
            #expect(acked == Array(0..<acked.count))
            var cursor = try journal.chunks(of: try StreamID("p\(producer)"))
            var stored: [String] = []
            while let chunk = try cursor.next() { stored.append(chunk.text) }
            #expect(stored.count >= acked.count)
            #expect(Array(stored.prefix(acked.count)) == acked.map { "p\(producer)-\($0)" })
        }
        #expect(journal.recoveryReport.tornTailOffset == nil)
    }
}

/// A joinable pthread running a closure (blocking clients must not run on the cooperative pool).
final class Thread: @unchecked Sendable {
    private var thread = pthread_t()
    private let body: @Sendable () -> Void

    init(_ body: @escaping @Sendable () -> Void) {
        self.body = body
        let box = Unmanaged.passRetained(self).toOpaque()
        let result = pthread_create(
            &thread, nil,
            { raw in
                let me = Unmanaged<Thread>.fromOpaque(raw!).takeRetainedValue()
                me.body()
                return nil
            }, box)
        precondition(result == 0)
    }

    func join() { pthread_join(thread, nil) }
}
