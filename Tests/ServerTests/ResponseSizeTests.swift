import Journal
import TestSupport
import Testing

@testable import JournalServer

/// Responses other than event streams are built and queued whole, so their size is what a
/// client that never reads holds in the server's memory. A review measured 78 MB for one
/// `GET /streams` of 200 streams with 64 KiB of control-character metadata each (escaped six
/// times over), and 1.5 GB of server memory for 20 clients that did not read.
@Suite struct ResponseSizeTests {
    /// An API over a new journal whose reads stop at about `maxReadBytes` of JSON.
    func api(maxReadBytes: Int) throws -> ServerAPI {
        let journal = try Journal(path: TestDirectory().file("sizes.sj"), options: JournalOptions(durability: .none))
        var configuration = ServerConfiguration()
        configuration.maxReadBytes = maxReadBytes
        return ServerAPI(journal: journal, configuration: configuration, metrics: ServerMetrics())
    }

    func json(_ response: HTTPResponse) throws -> [String: JSONValue] {
        try #require(try JSONValue.parse(response.body).objectValue)
    }

    @Test func aStreamListStopsAtTheByteLimitAndPagesOnWithAfter() throws {
        let api = try api(maxReadBytes: 4096)
        // 1,000 bytes of U+0001 per stream: 6,000 bytes of JSON each once escaped.
        let heavy = String(repeating: "\u{1}", count: 1000)
        for k in 0..<5 { _ = try api.journal.createStream(StreamID("s\(k)"), metadata: ["k": heavy]) }
        var seen: [String] = []
        var after: String?
        for _ in 0..<10 {
            let response = api.listStreams(try RequestTarget("/streams" + (after.map { "?after=\($0)" } ?? "")))
            #expect(response.status == 200)
            #expect(response.body.count < 4096 + 7000, "one stream past the limit at most")
            let page = try json(response)
            let ids = (page["streams"]?.arrayValue ?? []).compactMap { $0.objectValue?["id"]?.stringValue }
            #expect(ids.count == 1, "each stream alone passes 4,096 bytes")
            seen += ids
            guard page["truncated"] == .bool(true) else {
                #expect(page["next"] == nil)
                break
            }
            after = try #require(page["next"]?.stringValue)
            #expect(after == ids.last)
        }
        #expect(seen == ["s0", "s1", "s2", "s3", "s4"])
    }

    @Test func afterIsLookedUpAmongAllStreamsAndAGoneOneIs404() throws {
        let api = try api(maxReadBytes: 1 << 20)
        for k in 0..<4 { _ = try api.journal.createStream(StreamID("s\(k)")) }
        // The page's last stream has ended since: the next page still starts after it.
        try api.journal.complete(StreamID("s1"))
        let open = try json(api.listStreams(try RequestTarget("/streams?status=open&after=s1")))
        #expect(open["streams"]?.arrayValue?.compactMap { $0.objectValue?["id"]?.stringValue } == ["s2", "s3"])
        try api.journal.deleteStream(StreamID("s2"))
        let gone = api.listStreams(try RequestTarget("/streams?after=s2"))
        #expect(gone.status == 404)
        #expect(try json(gone)["error"]?.stringValue?.contains("list again without after") == true)
        #expect(api.listStreams(try RequestTarget("/streams?after=a..b")).status == 400)
        let limited = try json(api.listStreams(try RequestTarget("/streams?limit=1")))
        #expect(limited["truncated"] == .bool(true))
        #expect(limited["next"]?.stringValue == "s0")
    }

    @Test func aChunkReadCountsEscapedBytes() throws {
        let api = try api(maxReadBytes: 4096)
        let id = try api.journal.createStream(StreamID("c"))
        // Valid UTF-8, so sent as text: 1,000 payload bytes, 6,000 bytes of JSON.
        for _ in 0..<5 { try api.journal.append(String(repeating: "\u{1}", count: 1000), to: id) }
        let page = try json(api.readChunks(id, target: try RequestTarget("/streams/c/chunks")))
        // Counting payload bytes, all five came (4,000 < 4,096 before the fifth): 30 KB.
        #expect(page["chunks"]?.arrayValue?.count == 1)
        #expect(page["next"] == .number(1))
    }
}
