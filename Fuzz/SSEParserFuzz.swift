// libFuzzer target: hostile bytes into the SSE parser, and SSEEncoder output back through it
// (Fuzz/run.sh builds it with the Sources/Journal/SSE files).
//
// The parser promises that where the input is cut changes nothing, and that memory stays
// bounded by `maxEventBytes`; the encoder promises that any payload and event name come back
// from the parser unchanged (names with CR or LF have them replaced by spaces).

private struct Outcome: Equatable {
    var events: [SSEEvent]
    var lastEventID: String
    var reconnectionTime: Int?
    var dropped: Int
}

/// Parses `bytes` in pieces ending at each of `cuts`.
private func parse(_ bytes: ArraySlice<UInt8>, cuts: [Int], maxEventBytes: Int) -> Outcome {
    var parser = SSEParser(maxEventBytes: maxEventBytes)
    var events: [SSEEvent] = []
    var start = bytes.startIndex
    for cut in cuts + [bytes.endIndex] where cut >= start {
        events += parser.feed(Array(bytes[start..<cut]))
        start = cut
        require(parser.heldByteCount <= maxEventBytes, "the parser holds more than maxEventBytes")
    }
    for event in events {
        require(event.data.count <= maxEventBytes, "an event over maxEventBytes was dispatched")
        _ = event.decodedPayload
        _ = event.payloadEventName
    }
    parser.finish()
    return Outcome(
        events: events, lastEventID: parser.lastEventID, reconnectionTime: parser.reconnectionTime,
        dropped: parser.droppedEventCount)
}

/// Encodes `payload` as chunk `index` named `name`, and checks the parser gives it back.
private func roundTrip(_ payload: [UInt8], name: String?, index: Int, mode: SSEEncoder.Mode) {
    var out: [UInt8] = []
    SSEEncoder.chunk(index: index, payload: payload, event: name, mode: mode, into: &out)
    var parser = SSEParser()
    let events = parser.feed(out)
    require(events.count == 1, "one chunk became \(events.count) events")
    let event = events[0]
    require(event.id == String(index), "id \(String(describing: event.id)) for chunk \(index)")
    require(event.decodedPayload == payload, "the payload did not survive encoding")
    let expectedName = name.map {
        String(decoding: $0.utf8.map { $0 == 0x0A || $0 == 0x0D ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
    }
    let sent = expectedName.flatMap { $0.isEmpty ? nil : $0 } ?? "message"
    require(event.payloadEventName == sent, "event name \(event.payloadEventName), sent \(sent)")
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    // A small bound, chosen by the input, so short inputs exercise dropping oversized events.
    let maxEventBytes = input[0] & 0x80 != 0 ? 1 + Int(input[0] & 0x7F) : 16 * 1024 * 1024
    let bytes = input[2...]
    let split = bytes.startIndex + Int(input[1]) % (bytes.count + 1)
    let whole = parse(bytes, cuts: [], maxEventBytes: maxEventBytes)
    let halves = parse(bytes, cuts: [split], maxEventBytes: maxEventBytes)
    require(whole == halves, "whole and split parses differ: \(whole) vs \(halves)")
    let single = parse(bytes, cuts: Array(bytes.indices), maxEventBytes: maxEventBytes)
    require(whole == single, "whole and byte-by-byte parses differ: \(whole) vs \(single)")

    // The same bytes as a payload, named by a prefix of themselves.
    let nameLength = Int(input[1]) % 8
    let name = input[1] & 0x40 != 0 ? String(decoding: bytes.prefix(nameLength), as: UTF8.self) : nil
    let modes: [SSEEncoder.Mode] = [.automatic, .base64]
    roundTrip(Array(bytes), name: name, index: size &* 7919 &- 1000, mode: modes[Int(input[0] & 1)])
    bytes.withUnsafeBytes { _ = Base64.decode($0) }
    return 0
}

/// `precondition` that prints its message in optimized builds too (the fuzzer's report).
private func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}
