import Testing

@testable import Journal

/// A payload the encoder must carry unchanged, with a name for the test report.
struct AdversarialPayload: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]

    var testDescription: String { name }

    /// Whether text mode may be used: what `.automatic` must decide, judged independently of
    /// the encoder by the standard library's UTF-8 validation.
    var isValidText: Bool {
        String(validating: bytes, as: UTF8.self) != nil && !bytes.contains(0x0D) && !bytes.contains(0)
    }

    static let all: [AdversarialPayload] = [
        AdversarialPayload(name: "empty", bytes: []),
        AdversarialPayload(name: "only LF", bytes: [0x0A]),
        AdversarialPayload(name: "three LFs", bytes: [0x0A, 0x0A, 0x0A]),
        AdversarialPayload(name: "lone CR", bytes: [0x0D]),
        AdversarialPayload(name: "CRLF inside", bytes: Array("before\r\nafter".utf8)),
        AdversarialPayload(name: "NUL bytes", bytes: [0x61, 0x00, 0x62, 0x00]),
        AdversarialPayload(name: "invalid UTF-8", bytes: [0xFF, 0xC3]),
        AdversarialPayload(name: "leading space", bytes: Array(" starts with a space".utf8)),
        AdversarialPayload(name: "leading space after LF", bytes: Array("a\n  two spaces\n".utf8)),
        AdversarialPayload(name: "ending in LF", bytes: Array("last line\n".utf8)),
        AdversarialPayload(name: "colon and field-like text", bytes: Array("data: x\n\nid: 9\n: c".utf8)),
        AdversarialPayload(name: "BOM inside", bytes: Array("\u{FEFF}\u{FEFF}x".utf8)),
        AdversarialPayload(name: "multi-byte UTF-8", bytes: Array("héllo wörld 日本 🎉".utf8)),
        AdversarialPayload(name: "1 MiB of mixed bytes", bytes: randomBytes(count: 1 << 20, seed: 42)),
        AdversarialPayload(name: "1 MiB of UTF-8 text with LFs", bytes: textMegabyte()),
    ]
}

/// SplitMix64: deterministic, so a failure reproduces.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private func randomBytes(count: Int, seed: UInt64) -> [UInt8] {
    var generator = SplitMix64(state: seed)
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
}

private func textMegabyte() -> [UInt8] {
    var bytes: [UInt8] = []
    var line = 0
    while bytes.count < 1 << 20 {
        bytes += Array("héllo wörld 日本 🎉 \(line)\n".utf8)
        if line % 7 == 0 { bytes += Array(" indented\n\n".utf8) }
        line += 1
    }
    return bytes
}

private func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Parses a whole stream in one feed and ends it.
private func parse(
    _ stream: [UInt8], maxEventBytes: Int = 16 * 1024 * 1024
) -> (events: [SSEEvent], parser: SSEParser) {
    var parser = SSEParser(maxEventBytes: maxEventBytes)
    var events = parser.feed(stream)
    events += parser.finish()
    return (events, parser)
}

private func parse(_ stream: String) -> [SSEEvent] { parse(utf8(stream)).events }

/// Parses a stream cut into pieces of the given sizes (cycled), then ends it.
private func parse(
    _ stream: [UInt8], pieces: [Int], maxEventBytes: Int = 16 * 1024 * 1024
) -> (events: [SSEEvent], parser: SSEParser) {
    var parser = SSEParser(maxEventBytes: maxEventBytes)
    var events: [SSEEvent] = []
    var start = 0
    var piece = 0
    while start < stream.count {
        let end = min(stream.count, start + pieces[piece % pieces.count])
        events += stream[start..<end].withUnsafeBytes { parser.feed($0) }
        start = end
        piece += 1
    }
    events += parser.finish()
    return (events, parser)
}

@Suite struct SSETests {
    // MARK: - Round trips

    @Test(arguments: AdversarialPayload.all)
    func roundTripRestoresExactPayloadAndIndexInEveryValidMode(payload: AdversarialPayload) {
        var modes: [SSEEncoder.Mode] = [.automatic, .base64]
        if payload.isValidText { modes.append(.text) }
        for (offset, mode) in modes.enumerated() {
            for name in [nil, "delta"] as [String?] {
                let index = 1_000_000 + offset
                var out: [UInt8] = []
                let used = SSEEncoder.chunk(index: index, payload: payload.bytes, event: name, mode: mode, into: &out)
                let (events, _) = parse(out)
                #expect(events.count == 1, "mode \(mode)")
                guard let event = events.first else { continue }
                #expect(event.id == String(index))
                #expect(event.decodedPayload == payload.bytes, "mode \(mode), name \(name ?? "nil")")
                #expect(event.payloadEventName == (name ?? "message"))
                #expect(event.dataEncoding == used)
                switch mode {
                case .automatic: #expect(used == (payload.isValidText ? .text : .base64))
                case .text: #expect(used == .text)
                case .base64: #expect(used == .base64)
                }
            }
        }
    }

    @Test func textChunkWritesOneDataLinePerPayloadLineKeepingLeadingSpaces() {
        var out: [UInt8] = []
        let used = SSEEncoder.chunk(index: 7, payload: utf8("a\n b\n"), event: "delta", into: &out)
        #expect(used == .text)
        #expect(String(decoding: out, as: UTF8.self) == "id: 7\nevent: delta\ndata: a\ndata:  b\ndata: \n\n")
    }

    @Test func emptyTextPayloadWritesOneEmptyDataLine() {
        var out: [UInt8] = []
        SSEEncoder.chunk(index: 0, payload: [], into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "id: 0\ndata: \n\n")
        #expect(parse(out).events == [SSEEvent(id: "0", data: [])])
    }

    @Test func base64ChunkSuffixesEventTypeAndWritesOnePaddedDataLine() {
        var out: [UInt8] = []
        let used = SSEEncoder.chunk(index: 3, payload: [0x0D, 0xFF], into: &out)
        #expect(used == .base64)
        SSEEncoder.chunk(index: 4, payload: utf8("foo"), event: "tool", mode: .base64, into: &out)
        #expect(
            String(decoding: out, as: UTF8.self)
                == "id: 3\nevent: message.b64\ndata: Df8=\n\nid: 4\nevent: tool.b64\ndata: Zm9v\n\n")
    }

    @Test func eventNameEndingInB64IsSentAsBase64EvenInTextMode() {
        var out: [UInt8] = []
        let used = SSEEncoder.chunk(index: 1, payload: utf8("plain"), event: "x.b64", mode: .text, into: &out)
        #expect(used == .base64)
        let event = parse(out).events.first
        #expect(event?.event == "x.b64.b64")
        #expect(event?.payloadEventName == "x.b64")
        #expect(event?.decodedPayload == utf8("plain"))
    }

    @Test func eventNameWithLineBreaksCannotBreakFraming() {
        var out: [UInt8] = []
        SSEEncoder.chunk(index: 2, payload: utf8("p"), event: "a\ndata: injected\rx", into: &out)
        #expect(parse(out).events == [SSEEvent(id: "2", event: "a data: injected x", text: "p")])
    }

    @Test func decodedPayloadIsNilForMalformedBase64Event() {
        let events = parse("event: message.b64\ndata: not base64!\n\n")
        #expect(events.count == 1)
        #expect(events.first?.dataEncoding == .base64)
        #expect(events.first?.decodedPayload == nil)
    }

    @Test func plainEventDecodedPayloadIsItsDataAndDefaultNameIsMessage() {
        let event = parse("data: hi\n\n").first
        #expect(event?.decodedPayload == utf8("hi"))
        #expect(event?.payloadEventName == "message")
        #expect(event?.dataEncoding == .text)
    }

    @Test func indexFormattingMatchesStringForExtremes() {
        for value in [0, 9, 10, 99, 100, 123_456_789, Int.max, -1, Int.min] {
            var out: [UInt8] = []
            SSEEncoder.appendDecimal(value, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == String(value))
        }
    }

    // MARK: - Text detection and base64

    @Test func plainTextCheckAgreesWithStandardLibraryUTF8Validation() {
        let edgeCases: [[UInt8]] = [
            [], [0x41], [0x00], [0x0D], [0x0A], [0x7F],
            [0xC0, 0x80], [0xC1, 0xBF], [0xC2, 0x80], [0xDF, 0xBF],
            [0xE0, 0x80, 0x80], [0xE0, 0x9F, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xED, 0xA0, 0x80],
            [0xEF, 0xBF, 0xBF], [0xF0, 0x8F, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],
            [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF], [0x80], [0xE2, 0x82], [0xF0, 0x9F, 0x8E],
            Array("abcdefgh\rijklmnop".utf8), Array("abcdefghijklmno\0".utf8), Array("twelve bytes".utf8),
            Array("ascii run then é".utf8),
        ]
        var generator = SplitMix64(state: 7)
        var samples = edgeCases
        for _ in 0..<2000 {
            let count = Int.random(in: 0...24, using: &generator)
            // Mostly ASCII with a few high bytes, so that valid sequences occur too.
            samples.append(
                (0..<count).map { _ in
                    Int.random(in: 0..<4, using: &generator) == 0
                        ? UInt8.random(in: 0x80...0xFF, using: &generator)
                        : UInt8.random(in: 0x01...0x7F, using: &generator)
                })
        }
        for sample in samples {
            let expected = AdversarialPayload(name: "", bytes: sample).isValidText
            #expect(sample.withUnsafeBytes { SSEEncoder.isPlainText($0) } == expected, "\(sample)")
        }
    }

    @Test func base64MatchesRFC4648TestVectors() {
        let vectors = [
            ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ]
        for (plain, encoded) in vectors {
            var out: [UInt8] = []
            utf8(plain).withUnsafeBytes { Base64.encode($0, into: &out) }
            #expect(String(decoding: out, as: UTF8.self) == encoded)
            #expect(utf8(encoded).withUnsafeBytes { Base64.decode($0) } == utf8(plain))
        }
    }

    @Test func base64DecoderRejectsMalformedAndNonCanonicalInput() {
        for text in ["Zg=", "Zh==", "Zm9=", "Z===", "====", "Zm9v\n", "=Zm9", "Zm=v", "Zm9v YmFy", "Zm9-", "Zg==Zg=="] {
            #expect(utf8(text).withUnsafeBytes { Base64.decode($0) } == nil, "\(text)")
        }
    }

    // MARK: - Incremental feeding

    @Test func feedingOneByteAtATimeGivesTheSameEventsAsFeedingWhole() {
        var stream: [UInt8] = []
        SSEEncoder.retry(milliseconds: 2500, into: &stream)
        for payload in AdversarialPayload.all where payload.bytes.count < 4096 {
            SSEEncoder.chunk(index: stream.count, payload: payload.bytes, event: "delta", into: &stream)
            SSEEncoder.comment("keep-alive", into: &stream)
        }
        // Hand-written CR, CRLF and LF endings, so CR and LF land in different feeds: counting a
        // split CRLF as two line endings would dispatch "a" and "b" separately. A BOM that is not
        // at the start of the stream makes its line an unknown field.
        stream += utf8("data: a\r\ndata: b\r\nid: x\r\n\r\n\u{FEFF}data: no\r\n\r\nevent: t\rdata:c\r\n\r")
        SSEEncoder.reset(earliest: 5, reason: "trimmed", into: &stream)
        SSEEncoder.end(status: "completed", reason: nil, into: &stream)

        let whole = parse(stream)
        #expect(whole.events.count == AdversarialPayload.all.count - 2 + 4)
        #expect(whole.events.suffix(4).map(\.data) == [utf8("a\nb"), utf8("c")] + whole.events.suffix(2).map(\.data))
        #expect(whole.events.suffix(4).map(\.id) == ["x", "x", "x", "x"])
        for pieces in [[1], [2], [3], [7, 1, 13], [4096]] {
            let split = parse(stream, pieces: pieces)
            #expect(split.events == whole.events, "pieces \(pieces)")
            #expect(split.parser.lastEventID == whole.parser.lastEventID)
            #expect(split.parser.reconnectionTime == 2500)
        }
    }

    @Test func carriageReturnAtEndOfFeedAndLineFeedAtStartOfNextAreOneLineEnding() {
        var parser = SSEParser()
        #expect(parser.feed(utf8("data: a\r")).isEmpty)
        // Were the LF a second line ending, this would dispatch "a" with an empty line.
        #expect(parser.feed(utf8("\ndata: b\r")).isEmpty)
        #expect(parser.feed(utf8("\n\r")) == [SSEEvent(text: "a\nb")])
        #expect(parser.feed(utf8("\n")).isEmpty)
    }

    // MARK: - The WHATWG specification's examples and rules

    @Test func specIntroductionStreamFiresThreeMessages() {
        let stream = """
            data: This is the first message.

            data: This is the second message, it
            data: has two lines.

            data: This is the third message.


            """
        #expect(
            parse(stream) == [
                SSEEvent(text: "This is the first message."),
                SSEEvent(text: "This is the second message, it\nhas two lines."),
                SSEEvent(text: "This is the third message."),
            ])
    }

    @Test func specStockExampleCarriesEventTypes() {
        let stream = "event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n"
        #expect(
            parse(stream) == [
                SSEEvent(event: "add", text: "73857293"),
                SSEEvent(event: "remove", text: "2153"),
                SSEEvent(event: "add", text: "113411"),
            ])
    }

    @Test func specMultiLineDataExampleJoinsLinesWithLineFeeds() {
        #expect(parse("data: YHOO\ndata: +2\ndata: 10\n\n") == [SSEEvent(text: "YHOO\n+2\n10")])
    }

    @Test func specExampleIDFieldsSetAndClearLastEventID() {
        let stream = ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"
        let (events, parser) = parse(utf8(stream))
        #expect(
            events == [
                SSEEvent(id: "1", text: "first event"),
                SSEEvent(id: nil, text: "second event"),
                SSEEvent(id: nil, text: " third event"),
            ])
        #expect(parser.lastEventID == "")
    }

    @Test func specExampleFieldsWithoutColonAndUnterminatedLastBlock() {
        // The first block gives empty data, the second one LF; the third has no blank line.
        #expect(parse("data\n\ndata\ndata\n\ndata:") == [SSEEvent(text: ""), SSEEvent(text: "\n")])
    }

    @Test func specExampleSpaceAfterColonIsOptional() {
        let events = parse("data:test\n\ndata: test\n\n")
        #expect(events == [SSEEvent(text: "test"), SSEEvent(text: "test")])
    }

    @Test func lastEventIDPersistsUntilChangedAndIsSetEvenWithoutDispatch() {
        var parser = SSEParser()
        let events = parser.feed(utf8("id: 5\ndata: a\n\ndata: b\n\nid: 6\n\n"))
        #expect(events == [SSEEvent(id: "5", text: "a"), SSEEvent(id: "5", text: "b")])
        #expect(parser.lastEventID == "6")
    }

    @Test func byteOrderMarkIsStrippedExactlyOnceAtStreamStart() {
        #expect(parse("\u{FEFF}data: x\n\n") == [SSEEvent(text: "x")])
        // A second BOM belongs to the field name, so the field is unknown and ignored.
        #expect(parse("\u{FEFF}\u{FEFF}data: x\n\ndata: y\n\n") == [SSEEvent(text: "y")])
        // Not at the start: part of the data.
        #expect(parse("data: \u{FEFF}x\n\n") == [SSEEvent(text: "\u{FEFF}x")])
        // Split across feeds.
        #expect(parse(utf8("\u{FEFF}data: x\n\n"), pieces: [1]).events == [SSEEvent(text: "x")])
        // A BOM prefix that is not a BOM stays content.
        #expect(parse([0xEF, 0xBB] + utf8(":\ndata: z\n\n"), pieces: [1]).events == [SSEEvent(text: "z")])
    }

    @Test func commentLinesAreIgnored() {
        #expect(parse(":\n: hello\ndata: a\n:data: b\n\n:\n\n") == [SSEEvent(text: "a")])
    }

    @Test func unknownFieldsAreIgnored() {
        #expect(parse("foo: bar\ndata: a\nData: b\nretryx: 5\n\n") == [SSEEvent(text: "a")])
    }

    @Test func idContainingNullIsIgnored() {
        let (events, parser) = parse(utf8("id: 1\ndata: a\n\nid: 2\u{0}3\ndata: b\n\n"))
        #expect(events == [SSEEvent(id: "1", text: "a"), SSEEvent(id: "1", text: "b")])
        #expect(parser.lastEventID == "1")
    }

    @Test func retryWithNonDigitsIsIgnored() {
        var parser = SSEParser()
        _ = parser.feed(utf8("retry: 1000\n\n"))
        #expect(parser.reconnectionTime == 1000)
        for bad in ["retry: 12a\n\n", "retry: -5\n\n", "retry: 1.5\n\n", "retry:  7\n\n", "retry:\n\n", "retry\n\n"] {
            _ = parser.feed(utf8(bad))
            #expect(parser.reconnectionTime == 1000, "\(bad)")
        }
        _ = parser.feed(utf8("retry:0042\n\n"))
        #expect(parser.reconnectionTime == 42)
        _ = parser.feed(utf8("retry: 99999999999999999999999999\n\n"))
        #expect(parser.reconnectionTime == Int.max)
    }

    @Test func carriageReturnOnlyAndMixedLineEndingsAreRecognised() {
        #expect(
            parse("data: a\rdata: b\r\rid: 3\revent: e\rdata: c\r\r") == [
                SSEEvent(text: "a\nb"), SSEEvent(id: "3", event: "e", text: "c"),
            ])
        #expect(parse("data: a\r\ndata: b\n\rdata: c\r\n\r\n") == [SSEEvent(text: "a\nb"), SSEEvent(text: "c")])
    }

    @Test func eventWithoutTrailingBlankLineIsNotDispatchedAtEndOfStream() {
        var parser = SSEParser()
        #expect(parser.feed(utf8("data: complete\n\ndata: incomplete\n")) == [SSEEvent(text: "complete")])
        #expect(parser.finish().isEmpty)
        // The next connection's stream starts clean: the unfinished data does not leak into it.
        #expect(parser.feed(utf8("\u{FEFF}data: next\n\n")) == [SSEEvent(text: "next")])
    }

    @Test func invalidUTF8NeverTrapsAndDataKeepsRawBytes() {
        let stream: [UInt8] = utf8("event: ") + [0xFF] + utf8("\ndata: ") + [0xC3, 0x28, 0xFE] + utf8("\n\n")
        let events = parse(stream).events
        #expect(events == [SSEEvent(event: "\u{FFFD}", data: [0xC3, 0x28, 0xFE])])
        // Random noise: no trap, and the bound holds whatever arrives.
        var generator = SplitMix64(state: 99)
        var parser = SSEParser(maxEventBytes: 512)
        for _ in 0..<200 {
            let noise = (0..<Int.random(in: 0...300, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            _ = parser.feed(noise)
            #expect(parser.heldByteCount <= 512)
        }
    }

    // MARK: - Control events

    @Test func endEventHasExactTextAndParsesBackToItsJSON() {
        var out: [UInt8] = []
        SSEEncoder.end(status: "completed", reason: nil, into: &out)
        let expected = #"{"status":"completed","reason":null}"#
        #expect(String(decoding: out, as: UTF8.self) == "event: end\ndata: \(expected)\n\n")
        #expect(parse(out).events == [SSEEvent(event: "end", text: expected)])

        out = []
        SSEEncoder.end(status: "failed", reason: "disk full", into: &out)
        #expect(parse(out).events == [SSEEvent(event: "end", text: #"{"status":"failed","reason":"disk full"}"#)])
    }

    @Test func jsonEscapingOfReasonIsExactValidSingleLineJSON() {
        var out: [UInt8] = []
        SSEEncoder.end(status: "failed", reason: "say \"hi\" \\ now\nthen\r\t\u{01}\u{1F} é 🎉", into: &out)
        let json = #"{"status":"failed","reason":"say \"hi\" \\ now\u000athen\u000d\u0009\u0001\u001f é 🎉"}"#
        #expect(String(decoding: out, as: UTF8.self) == "event: end\ndata: \(json)\n\n")
        #expect(parse(out).events == [SSEEvent(event: "end", text: json)])
    }

    @Test func resetEventHasExactTextAndParsesBackToItsJSON() {
        var out: [UInt8] = []
        SSEEncoder.reset(earliest: 120, reason: "chunks before 120 were \"trimmed\"", into: &out)
        let json = #"{"earliest":120,"reason":"chunks before 120 were \"trimmed\""}"#
        #expect(String(decoding: out, as: UTF8.self) == "event: reset\ndata: \(json)\n\n")
        let (events, parser) = parse(out)
        #expect(events == [SSEEvent(event: "reset", text: json)])
        #expect(parser.lastEventID == "")
    }

    @Test func controlEventsDoNotChangeLastEventID() {
        var out: [UInt8] = []
        SSEEncoder.chunk(index: 41, payload: utf8("x"), into: &out)
        SSEEncoder.reset(earliest: 0, reason: "r", into: &out)
        SSEEncoder.end(status: "completed", reason: nil, into: &out)
        let (events, parser) = parse(out)
        #expect(events.map(\.id) == ["41", "41", "41"])
        #expect(parser.lastEventID == "41")
    }

    @Test func commentHeartbeatsProduceNoEventsAndCannotInjectFields() {
        var out: [UInt8] = []
        SSEEncoder.comment(into: &out)
        SSEEncoder.comment("ping\ndata: injected\r\rid: 9", into: &out)
        #expect(String(decoding: out, as: UTF8.self) == ":\n\n: ping data: injected  id: 9\n\n")
        let (events, parser) = parse(out)
        #expect(events.isEmpty)
        #expect(parser.lastEventID == "")
    }

    @Test func retryOutputSetsReconnectionTimeAndTagsTheNextEvent() {
        var out: [UInt8] = []
        SSEEncoder.retry(milliseconds: 1500, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "retry: 1500\n\n")
        SSEEncoder.chunk(index: 0, payload: utf8("a"), into: &out)
        SSEEncoder.chunk(index: 1, payload: utf8("b"), into: &out)
        let (events, parser) = parse(out)
        #expect(parser.reconnectionTime == 1500)
        #expect(events == [SSEEvent(id: "0", text: "a", retry: 1500), SSEEvent(id: "1", text: "b")])
    }

    // MARK: - Memory bound

    @Test func eventOverMaxEventBytesIsDroppedAndNextEventParses() {
        var stream = utf8("id: 1\ndata: first\n\n")
        stream += utf8("id: 2\nevent: big\n")
        for _ in 0..<10 { stream += utf8("data: " + String(repeating: "x", count: 30) + "\n") }
        stream += utf8("\ndata: after\n\n")
        for pieces in [[stream.count], [1], [5, 17]] {
            let (events, parser) = parse(stream, pieces: pieces, maxEventBytes: 128)
            #expect(events == [SSEEvent(id: "1", text: "first"), SSEEvent(id: "1", text: "after")], "\(pieces)")
            #expect(parser.droppedEventCount == 1)
            #expect(parser.lastEventID == "1")
        }
    }

    @Test func endlessLineWithoutLineEndingStaysWithinMaxEventBytes() {
        var parser = SSEParser(maxEventBytes: 4096)
        let piece = [UInt8](repeating: UInt8(ascii: "y"), count: 1000)
        #expect(parser.feed(utf8("data: ")).isEmpty)
        for _ in 0..<1000 {
            #expect(parser.feed(piece).isEmpty)
            #expect(parser.heldByteCount <= 4096)
        }
        #expect(parser.droppedEventCount == 1)
        // The oversized line ends, then the blank line that ends its event; then all is normal.
        #expect(parser.feed(utf8("\r")).isEmpty)
        #expect(parser.feed(utf8("\n\r\ndata: ok\r\n\r\n")) == [SSEEvent(text: "ok")])
    }

    @Test func eventAtTheLimitIsKeptAndOneByteMoreIsDropped() {
        // The 10-byte line "data: abcd" is the most held at once (then 5 bytes of data buffer).
        let (events, parser) = parse(utf8("data: abcd\n\n"), maxEventBytes: 10)
        #expect(events == [SSEEvent(text: "abcd")])
        #expect(parser.droppedEventCount == 0)
        let (tooBig, overParser) = parse(utf8("data: abcde\n\n"), maxEventBytes: 10)
        #expect(tooBig.isEmpty)
        #expect(overParser.droppedEventCount == 1)
    }
}
