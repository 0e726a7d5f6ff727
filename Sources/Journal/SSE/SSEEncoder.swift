/// How a chunk's payload was carried in its `data:` line(s).
public enum SSEDataEncoding: String, Sendable {
    /// The payload bytes are the data lines themselves, so plain `EventSource` clients read them.
    case text
    /// One `data:` line of padded base64, for payloads that text framing would alter.
    case base64
}

/// Writes the `text/event-stream` bytes of the journal's events into a caller-owned buffer.
///
/// Pure and allocation-light: every function appends to `out` so a response writer can batch
/// many events into one buffer and one `write`. Only LF line endings are produced, and every
/// event ends with a blank line. Control events (`end`, `reset`) carry no `id:` line, so a
/// reconnecting client's `Last-Event-ID` always names a chunk.
public struct SSEEncoder: Sendable {
    /// How `chunk` chooses between text and base64 data.
    ///
    /// The event stream format can carry neither CR (every CR ends a line, so a CR or CRLF in a
    /// payload would come back as LF) nor, for browser clients, invalid UTF-8 (replaced with
    /// U+FFFD). Such payloads are sent as base64 instead, and the switch is signalled in the
    /// event type so that no extra field is needed: the event type gets the suffix `.b64`
    /// (`message.b64` for an unnamed chunk, `x.b64` for a chunk named `x`), and the data is a
    /// single `data:` line of standard base64 with padding. `SSEEvent.decodedPayload` and
    /// `SSEEvent.payloadEventName` undo this.
    ///
    /// A name that already ends in `.b64` is always sent as base64, in every mode: as text it
    /// would be misread as base64 by the receiver.
    public enum Mode: Sendable {
        /// Text when the payload is valid UTF-8 without CR or NUL; base64 otherwise.
        case automatic
        /// Text without checking: for callers that already know the payload is plain text.
        /// A payload with CR would be altered in transit (debug builds trap on it).
        case text
        /// Always base64, for consumers that want one decoding path.
        case base64
    }

    /// Appends one chunk as an event: `id: <index>`, `event:` when named, then the data.
    ///
    /// In text mode each LF-separated line of the payload gets its own `data: ` line (the space
    /// after the colon is written so that a line starting with a space keeps it: the parser
    /// strips exactly one). Returns the encoding used so the caller can count or log it.
    @discardableResult
    public static func chunk(
        index: Int, payload: UnsafeRawBufferPointer, event: String? = nil, mode: Mode = .automatic,
        into out: inout [UInt8]
    ) -> SSEDataEncoding {
        let name = event.flatMap { $0.isEmpty ? nil : $0 }
        let encoding: SSEDataEncoding
        if let name, name.utf8.count >= 4, name.utf8.suffix(4).elementsEqual(SSEEvent.base64Suffix.utf8) {
            encoding = .base64
        } else {
            switch mode {
            case .automatic: encoding = isPlainText(payload) ? .text : .base64
            case .text: encoding = .text
            case .base64: encoding = .base64
            }
        }

        append("id: ", to: &out)
        appendDecimal(index, to: &out)
        out.append(lf)

        switch encoding {
        case .text:
            assert(!payload.contains(cr), "SSEEncoder.Mode.text used for a payload with CR")
            if let name {
                append("event: ", to: &out)
                appendLineSafe(name, to: &out)
                out.append(lf)
            }
            var lineStart = 0
            for position in 0..<payload.count where payload[position] == lf {
                appendDataLine(UnsafeRawBufferPointer(rebasing: payload[lineStart..<position]), to: &out)
                lineStart = position + 1
            }
            appendDataLine(UnsafeRawBufferPointer(rebasing: payload[lineStart...]), to: &out)
        case .base64:
            append("event: ", to: &out)
            if let name { appendLineSafe(name, to: &out) } else { append("message", to: &out) }
            out.append(contentsOf: SSEEvent.base64Suffix.utf8)
            out.append(lf)
            append("data: ", to: &out)
            Base64.encode(payload, into: &out)
            out.append(lf)
        }
        out.append(lf)
        return encoding
    }

    /// `chunk(index:payload:event:mode:into:)` for a payload already in an array.
    @discardableResult
    public static func chunk(
        index: Int, payload: [UInt8], event: String? = nil, mode: Mode = .automatic, into out: inout [UInt8]
    ) -> SSEDataEncoding {
        payload.withUnsafeBytes { chunk(index: index, payload: $0, event: event, mode: mode, into: &out) }
    }

    /// Appends `retry: N` and a blank line, telling clients how long to wait before reconnecting.
    /// A negative value is a programming error: clients ignore a retry that is not all digits.
    public static func retry(milliseconds: Int, into out: inout [UInt8]) {
        precondition(milliseconds >= 0, "SSE retry must be non-negative")
        append("retry: ", to: &out)
        appendDecimal(milliseconds, to: &out)
        append("\n\n", to: &out)
    }

    /// Appends a comment block (`:` alone when `text` is empty), the usual heartbeat that keeps
    /// proxies from closing an idle connection. CR and LF in `text` become spaces so the comment
    /// cannot end early and inject fields.
    public static func comment(_ text: String = "", into out: inout [UInt8]) {
        if text.isEmpty {
            append(":\n\n", to: &out)
        } else {
            append(": ", to: &out)
            appendLineSafe(text, to: &out)
            append("\n\n", to: &out)
        }
    }

    /// Appends the `end` control event, `{"status":...,"reason":...}` as one line of JSON, so a
    /// client can tell a finished stream from a dropped connection and stop reconnecting.
    public static func end(status: String, reason: String?, into out: inout [UInt8]) {
        append("event: end\ndata: {\"status\":", to: &out)
        appendJSONString(status, to: &out)
        append(",\"reason\":", to: &out)
        if let reason { appendJSONString(reason, to: &out) } else { append("null", to: &out) }
        append("}\n\n", to: &out)
    }

    /// Appends the `reset` control event, `{"earliest":K,"reason":...}`, sent when a client's
    /// `Last-Event-ID` names chunks that were removed or never existed, so it can restart from
    /// `earliest` instead of silently missing data.
    public static func reset(earliest: Int, reason: String, into out: inout [UInt8]) {
        append("event: reset\ndata: {\"earliest\":", to: &out)
        appendDecimal(earliest, to: &out)
        append(",\"reason\":", to: &out)
        appendJSONString(reason, to: &out)
        append("}\n\n", to: &out)
    }

    // MARK: - Internals

    private static let lf = UInt8(ascii: "\n")
    private static let cr = UInt8(ascii: "\r")

    @inline(__always)
    private static func append(_ text: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    private static func appendDataLine(_ line: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        append("data: ", to: &out)
        out.append(contentsOf: line)
        out.append(lf)
    }

    /// Appends `text` with CR and LF replaced by spaces: they would end the field early.
    private static func appendLineSafe(_ text: String, to out: inout [UInt8]) {
        for byte in text.utf8 { out.append(byte == lf || byte == cr ? UInt8(ascii: " ") : byte) }
    }

    /// Decimal digits without going through `String`.
    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var start = digits.count
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            } while magnitude != 0
            out.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }

    /// A JSON string literal: quote and backslash escaped, every control character as `\u00XX`,
    /// everything else (including non-ASCII UTF-8) as is. The result never contains CR or LF,
    /// so it fits on one `data:` line.
    static func appendJSONString(_ text: String, to out: inout [UInt8]) {
        let hex: StaticString = "0123456789abcdef"
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case 0..<0x20:
                append("\\u00", to: &out)
                out.append(hex.utf8Start[Int(byte >> 4)])
                out.append(hex.utf8Start[Int(byte & 0x0F)])
            default:
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Whether `bytes` can travel as text unchanged: valid UTF-8 (no overlongs, surrogates or
    /// values past U+10FFFF) with no CR and no NUL. ASCII is checked eight bytes at a time
    /// because almost every payload is mostly ASCII.
    static func isPlainText(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        let crs = ones &* UInt64(cr)
        let count = bytes.count
        var i = 0
        while i < count {
            if i + 8 <= count {
                let word = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                if word & highBits == 0 {
                    // Exact for 7-bit bytes: a borrow can only start at a byte that is zero.
                    let zero = (word &- ones) & ~word & highBits
                    let crWord = word ^ crs
                    let crFound = (crWord &- ones) & ~crWord & highBits
                    if zero | crFound != 0 { return false }
                    i += 8
                    continue
                }
            }
            let lead = bytes[i]
            if lead < 0x80 {
                if lead == 0 || lead == cr { return false }
                i += 1
                continue
            }
            let length: Int
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0:
                length = 3
                low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED:
                length = 3
                high = 0x9F
            case 0xF0:
                length = 4
                low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4:
                length = 4
                high = 0x8F
            default: return false
            }
            guard i + length <= count else { return false }
            let second = bytes[i + 1]
            guard second >= low && second <= high else { return false }
            for offset in 2..<length where bytes[i + offset] & 0xC0 != 0x80 { return false }
            i += length
        }
        return true
    }
}
