import Journal
import Testing

@testable import JournalServer

/// JSON, base64, tokens, request bodies and error mapping.
@Suite struct SupportTests {
    @Test func jsonParsesDocumentsAndRoundTripsThroughTheWriter() throws {
        let value = try JSONValue.parse(
            Array(#"{"a": [1, -2.5e3, true, null, "x\n\u00e9\ud83d\ude00"], "b": {}}"#.utf8))
        #expect(value.objectValue?["a"]?.arrayValue?.count == 5)
        #expect(value.objectValue?["a"]?.arrayValue?[4].stringValue == "x\né😀")
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("k\"ey")
        writer.string("line\nbreak\u{1}")
        writer.key("n")
        writer.int(-3)
        writer.endObject()
        let reparsed = try JSONValue.parse(writer.bytes)
        #expect(reparsed.objectValue?["k\"ey"]?.stringValue == "line\nbreak\u{1}")
    }

    @Test(arguments: [
        "", "{", "{\"a\":}", "{\"a\":1,}", "[1 2]", "{\"a\":1}{}", "\"\\x\"", "\"\u{1}\"", "\"\\ud800\"", "01",
        "{\"a\":1,\"a\":2}", "nul", String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
    ])
    func hostileJSONIsRejected(_ text: String) {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array(text.utf8)) }
    }

    /// Two spellings of one text as keys: valid JSON, but one key to Swift's dictionaries; the
    /// error says so instead of calling them duplicates.
    @Test func canonicallyEquivalentKeysAreRefusedWithTheReason() {
        do {
            _ = try JSONValue.parse(Array(#"{"\u00e9":"x","e\u0301":"y"}"#.utf8))
            Issue.record("two spellings of one key were accepted")
        } catch {
            #expect(error.reason.contains("canonically equivalent"), "\(error.reason)")
        }
        // The same words as import's reader (JSONLine.duplicateKey), with the key named.
        do {
            _ = try JSONValue.parse(Array(#"{"k":1,"k":2}"#.utf8))
            Issue.record("a duplicate key was accepted")
        } catch {
            #expect(error.reason.hasPrefix(#"duplicate key "k""#), "\(error.reason)")
        }
    }

    @Test func jsonRejectsInvalidUTF8() {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse([0x22, 0xFF, 0x22]) }
    }

    @Test func base64RoundTripsAndRejectsNonCanonical() {
        for length in 0..<20 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + 11) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        #expect(Base64.encode(Array("hello".utf8)) == "aGVsbG8=")
        #expect(Base64.decode("aGVsbG9=") == nil)  // non-zero padding bits
        #expect(Base64.decode("aGVsbG8") == nil)
        #expect(Base64.decode("aGV*bG8=") == nil)
        #expect(Base64.decode("a===") == nil)
    }

    @Test func bearerTokensCompareExactly() {
        let token = BearerToken("s3cret")
        #expect(token.matches("s3cret"))
        #expect(!token.matches("s3cre"))
        #expect(!token.matches("s3cret!"))
        #expect(!token.matches("S3cret"))
        #expect(!token.matches(""))
        #expect(token.matches(authorization: "Bearer s3cret"))
        #expect(token.matches(authorization: "bearer s3cret"))
        #expect(!token.matches(authorization: "Basic s3cret"))
        #expect(!token.matches(authorization: nil))
    }

    @Test func requestBodiesAreCheckedFieldByField() throws {
        #expect(try RequestBody.metadata([]).get() == [:])
        #expect(try RequestBody.metadata(Array(#"{"metadata":{"m":"v"}}"#.utf8)).get() == ["m": "v"])
        #expect((try? RequestBody.metadata(Array(#"{"metadata":{"m":1}}"#.utf8)).get()) == nil)
        #expect((try? RequestBody.metadata(Array(#"{"other":1}"#.utf8)).get()) == nil)
        #expect((try? RequestBody.metadata(Array("not json".utf8)).get()) == nil)
        #expect(try RequestBody.reason(Array(#"{"reason":"boom"}"#.utf8)).get() == "boom")
        #expect(try RequestBody.batch(Array(#"{"chunks":["a","b"]}"#.utf8)).get() == [[97], [98]])
        #expect(try RequestBody.batch(Array(#"{"chunks":["AAE="],"encoding":"base64"}"#.utf8)).get() == [[0, 1]])
        #expect((try? RequestBody.batch(Array(#"{"chunks":[]}"#.utf8)).get()) == nil)
        #expect((try? RequestBody.batch(Array(#"{"chunks":["%%"],"encoding":"base64"}"#.utf8)).get()) == nil)
    }

    @Test func journalErrorsMapToStatuses() throws {
        let id = try StreamID("a")
        #expect(JournalError.unknownStream(id).httpStatus == 404)
        #expect(JournalError.streamFinished(id, status: .completed).httpStatus == 409)
        #expect(JournalError.indexGap(id, index: 5, next: 2).httpStatus == 409)
        #expect(JournalError.streamFull(id, chunkCount: Journal.maxChunksPerStream).httpStatus == 409)
        #expect(JournalError.chunkTooLarge(size: 2, limit: 1).httpStatus == 413)
        #expect(JournalError.closed(path: "p").httpStatus == 503)
        let body = String(decoding: JournalError.indexGap(id, index: 5, next: 2).response.body, as: UTF8.self)
        #expect(body.contains("\"code\":\"index_gap\""))
        #expect(body.contains("\"next\":2"))
    }

    @Test func socketAddressesKnowLoopback() {
        #expect(SocketAddress(host: "127.0.0.1", port: 1)?.isLoopback == true)
        #expect(SocketAddress(host: "127.8.9.10", port: 1)?.isLoopback == true)
        #expect(SocketAddress(host: "localhost", port: 1)?.isLoopback == true)
        #expect(SocketAddress(host: "[::1]", port: 1)?.isLoopback == true)
        #expect(SocketAddress(host: "0.0.0.0", port: 1)?.isLoopback == false)
        #expect(SocketAddress(host: "10.0.0.1", port: 1)?.isLoopback == false)
        #expect(SocketAddress(host: "name", port: 1) == nil)
    }
}
