/// An incremental `text/event-stream` parser following the WHATWG HTML "Parsing an event
/// stream" and "Interpreting an event stream" rules, for clients and tests of our own stream.
///
/// It works on bytes, not decoded text: field names are compared as bytes, data is kept as the
/// bytes that were sent (the spec would first replace invalid UTF-8 with U+FFFD; keeping the
/// bytes lets binary-clean consumers see exactly what the server wrote), while the event type
/// and last event ID are decoded with replacement, as the spec does. No input can make it trap.
///
/// Input may be cut anywhere, including between the CR and LF of a CRLF, inside the byte order
/// mark, or inside a multi-byte character: the result is the same as feeding the stream whole.
/// Memory stays bounded by `maxEventBytes` whatever the input.
public struct SSEParser: Sendable {
    /// The most bytes held for one event (data buffer, event type, pending ID and the line being
    /// read). An event that needs more is dropped, counted in `droppedEventCount`, and parsing
    /// resumes after the next blank line: a misbehaving server cannot exhaust the client's memory.
    public let maxEventBytes: Int
    /// The last event ID string: what a reconnecting client sends as `Last-Event-ID` (when not
    /// empty). Set at each blank line, as in the spec, even when no event is dispatched.
    public private(set) var lastEventID = ""
    /// The reconnection time (ms) from the latest valid `retry` field; nil until one arrives.
    public private(set) var reconnectionTime: Int?
    /// How many events were dropped for exceeding `maxEventBytes`, so the loss is visible.
    public private(set) var droppedEventCount = 0

    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var eventType: [UInt8] = []
    /// An `id` value seen since the last blank line; nil keeps `lastEventID` as it is.
    private var pendingID: [UInt8]?
    private var pendingRetry: Int?
    /// The last byte fed was a CR that ended a line, so an LF opening the next feed belongs to it.
    private var afterCR = false
    private var atStreamStart = true
    private var bomMatched = 0
    /// Skipping the rest of an oversized event, up to and including the next blank line.
    private var discarding = false
    /// While discarding: no byte seen since the last line ending, so another ending is a blank line.
    private var discardLineIsEmpty = true

    private static let lf = UInt8(ascii: "\n")
    private static let cr = UInt8(ascii: "\r")
    private static let colon = UInt8(ascii: ":")
    private static let space = UInt8(ascii: " ")
    private static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// Starts at the beginning of a stream; `maxEventBytes` defaults to 16 MiB.
    public init(maxEventBytes: Int = 16 * 1024 * 1024) {
        precondition(maxEventBytes > 0, "maxEventBytes must be positive")
        self.maxEventBytes = maxEventBytes
    }

    /// Bytes held for the event being read; internal so tests can check the bound.
    var heldByteCount: Int { line.count + data.count + eventType.count + (pendingID?.count ?? 0) }

    /// Parses the next piece of the stream and returns the events it completed, in order.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [SSEEvent] {
        var events: [SSEEvent] = []
        let count = bytes.count
        var position = 0

        // One leading BOM is ignored; it may arrive split across feeds.
        while atStreamStart && position < count {
            if bytes[position] == Self.byteOrderMark[bomMatched] {
                bomMatched += 1
                position += 1
                if bomMatched == Self.byteOrderMark.count { atStreamStart = false }
            } else {
                atStreamStart = false
                // A partial match was ordinary line content after all (no CR or LF in it).
                line.append(contentsOf: Self.byteOrderMark.prefix(bomMatched))
            }
        }

        if afterCR && position < count {
            if bytes[position] == Self.lf { position += 1 }
            afterCR = false
        }

        var lineStart = position
        while position < count {
            let byte = bytes[position]
            guard byte == Self.lf || byte == Self.cr else {
                position += 1
                continue
            }
            endLine(UnsafeRawBufferPointer(rebasing: bytes[lineStart..<position]), into: &events)
            position += 1
            if byte == Self.cr {
                if position == count {
                    afterCR = true
                } else if bytes[position] == Self.lf {
                    position += 1
                }
            }
            lineStart = position
        }
        if lineStart < count { keepPartialLine(UnsafeRawBufferPointer(rebasing: bytes[lineStart..<count])) }
        return events
    }

    /// `feed(_:)` for bytes already in an array.
    public mutating func feed(_ bytes: [UInt8]) -> [SSEEvent] {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// Ends the stream. The spec discards an event not yet closed by a blank line, so this
    /// returns no events; it exists so the caller states where the stream ended and the parser
    /// is ready for the next connection's stream (BOM allowed again). `lastEventID` and
    /// `reconnectionTime` are kept because reconnecting needs them.
    @discardableResult
    public mutating func finish() -> [SSEEvent] {
        line = []
        data = []
        eventType = []
        pendingID = nil
        pendingRetry = nil
        afterCR = false
        atStreamStart = true
        bomMatched = 0
        discarding = false
        discardLineIsEmpty = true
        return []
    }

    // MARK: - Lines

    private mutating func keepPartialLine(_ bytes: UnsafeRawBufferPointer) {
        if discarding {
            discardLineIsEmpty = false
        } else if heldByteCount + bytes.count > maxEventBytes {
            dropEvent(atLineStart: false)
        } else {
            line.append(contentsOf: bytes)
        }
    }

    /// Handles the line made of `line` (bytes from earlier feeds) followed by `tail`.
    private mutating func endLine(_ tail: UnsafeRawBufferPointer, into events: inout [SSEEvent]) {
        if discarding {
            if discardLineIsEmpty && tail.isEmpty {
                // The blank line that ends the dropped event: nothing of it is dispatched.
                discarding = false
                eventType.removeAll(keepingCapacity: true)
            }
            discardLineIsEmpty = true
            return
        }
        if heldByteCount + tail.count > maxEventBytes {
            dropEvent(atLineStart: true)
            return
        }
        if line.isEmpty {
            process(tail, into: &events)
        } else {
            line.append(contentsOf: tail)
            // Moved out (not copied) so `process` may mutate `self`; the buffer is then reused.
            var whole: [UInt8] = []
            swap(&whole, &line)
            whole.withUnsafeBytes { process($0, into: &events) }
            whole.removeAll(keepingCapacity: true)
            line = whole
        }
    }

    private mutating func dropEvent(atLineStart: Bool) {
        droppedEventCount += 1
        line = []
        data = []
        eventType = []
        pendingID = nil
        discarding = true
        discardLineIsEmpty = atLineStart
    }

    /// Applies one complete line (without its line ending) per "Interpreting an event stream".
    private mutating func process(_ current: UnsafeRawBufferPointer, into events: inout [SSEEvent]) {
        guard let first = current.first else {
            dispatchOrReset(into: &events)
            return
        }
        if first == Self.colon { return }

        let name: UnsafeRawBufferPointer
        let value: UnsafeRawBufferPointer
        if let colonIndex = current.firstIndex(of: Self.colon) {
            name = UnsafeRawBufferPointer(rebasing: current[..<colonIndex])
            var valueStart = colonIndex + 1
            if valueStart < current.count && current[valueStart] == Self.space { valueStart += 1 }
            value = UnsafeRawBufferPointer(rebasing: current[valueStart...])
        } else {
            name = current
            value = UnsafeRawBufferPointer(rebasing: current[current.count...])
        }

        if Self.equals(name, "data") {
            data.append(contentsOf: value)
            data.append(Self.lf)
        } else if Self.equals(name, "event") {
            eventType.removeAll(keepingCapacity: true)
            eventType.append(contentsOf: value)
        } else if Self.equals(name, "id") {
            if !value.contains(0) { pendingID = Array(value) }
        } else if Self.equals(name, "retry") {
            if let milliseconds = Self.digits(value) {
                reconnectionTime = milliseconds
                pendingRetry = milliseconds
            }
        }
    }

    /// The spec's "dispatch the event", run at each blank line.
    private mutating func dispatchOrReset(into events: inout [SSEEvent]) {
        if let id = pendingID {
            lastEventID = String(decoding: id, as: UTF8.self)
            pendingID = nil
        }
        guard !data.isEmpty else {
            eventType.removeAll(keepingCapacity: true)
            return
        }
        data.removeLast()
        events.append(
            SSEEvent(
                id: lastEventID.isEmpty ? nil : lastEventID,
                event: eventType.isEmpty ? nil : String(decoding: eventType, as: UTF8.self),
                data: data, retry: pendingRetry))
        data = []
        eventType.removeAll(keepingCapacity: true)
        pendingRetry = nil
    }

    private static func equals(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        bytes.elementsEqual(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// A `retry` value: only ASCII digits, at least one. Absurdly long values saturate at
    /// `Int.max` rather than being ignored: the server clearly asked for "wait very long".
    private static func digits(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !bytes.isEmpty else { return nil }
        var result = 0
        var saturated = false
        for byte in bytes {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            if saturated { continue }
            let (times10, overflow1) = result.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            if overflow1 || overflow2 {
                saturated = true
                result = Int.max
            } else {
                result = sum
            }
        }
        return result
    }
}
