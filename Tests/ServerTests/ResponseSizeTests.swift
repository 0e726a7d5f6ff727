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
        var after: Int?
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
            guard case .number(let next) = page["next"] else {
                Issue.record("a truncated page without next: \(page)")
                break
            }
            after = Int(next)
        }
        #expect(seen == ["s0", "s1", "s2", "s3", "s4"])
    }

    func ids(_ response: HTTPResponse) throws -> [String] {
        (try json(response)["streams"]?.arrayValue ?? []).compactMap { $0.objectValue?["id"]?.stringValue }
    }

    /// A page goes on from the last listed stream's number, which no later stream gets. Going
    /// on from its id skipped every stream in between once that id was deleted and created
    /// again (the new stream sits at the end): the next page came back empty, untruncated.
    @Test func pagingGoesOnAcrossDeletesAndRecreationsAndFiltersByStatus() throws {
        let api = try api(maxReadBytes: 1 << 20)
        for k in 0..<5 { _ = try api.journal.createStream(StreamID("s\(k)")) }
        let first = try json(api.listStreams(try RequestTarget("/streams?limit=2")))
        #expect(first["truncated"] == .bool(true))
        guard case .number(let next) = first["next"] else {
            Issue.record("no next in \(first)")
            return
        }
        try api.journal.deleteStream(StreamID("s1"))
        _ = try api.journal.createStream(StreamID("s1"))
        try api.journal.deleteStream(StreamID("s2"))
        #expect(try ids(api.listStreams(try RequestTarget("/streams?after=\(Int(next))"))) == ["s3", "s4", "s1"])
        try api.journal.complete(StreamID("s3"))
        #expect(
            try ids(api.listStreams(try RequestTarget("/streams?status=open&after=\(Int(next))"))) == ["s4", "s1"])
        for bad in ["x", "-1", "4294967296"] {
            #expect(api.listStreams(try RequestTarget("/streams?after=\(bad)")).status == 400, "\(bad)")
        }
        let limited = try json(api.listStreams(try RequestTarget("/streams?limit=0")))
        #expect(limited["truncated"] == .bool(true))
        #expect(limited["next"] == nil, "nothing listed, nothing to go on from")
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
