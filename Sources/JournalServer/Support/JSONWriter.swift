import Journal

/// Builds compact JSON into a byte array without `Foundation`: response bodies are small and
/// made on the event loop, where an encoder's reflection and allocations would cost more than
/// the response itself.
///
/// Call order follows the document: `beginObject`, `key`, a value, ..., `endObject`. Commas
/// are inserted automatically.
struct JSONWriter {
    /// The document so far.
    private(set) var bytes: [UInt8] = []
    /// For each open container, whether it is still empty.
    private var empty: [Bool] = []
    private var afterKey = false

    /// An empty writer.
    init() {
        bytes.reserveCapacity(256)
    }

    /// Opens `{`.
    mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        empty.append(true)
    }

    /// Closes `}`.
    mutating func endObject() {
        empty.removeLast()
        bytes.append(UInt8(ascii: "}"))
    }

    /// Opens `[`.
    mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        empty.append(true)
    }

    /// Closes `]`.
    mutating func endArray() {
        empty.removeLast()
        bytes.append(UInt8(ascii: "]"))
    }

    /// Writes an object key; the next call writes its value.
    mutating func key(_ name: String) {
        separate()
        appendQuoted(name)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    /// A string value.
    mutating func string(_ value: String) {
        separate()
        appendQuoted(value)
    }

    /// A string value from bytes that are known to be valid UTF-8.
    mutating func string(utf8 value: UnsafeRawBufferPointer) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        for byte in value { appendEscaped(byte) }
        bytes.append(UInt8(ascii: "\""))
    }

    /// A string value holding the base64 encoding of `value`.
    mutating func base64(_ value: UnsafeRawBufferPointer) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        Base64.encode(value, into: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// An integer value.
    mutating func int(_ value: Int) {
        separate()
        bytes.append(contentsOf: String(value).utf8)
    }

    /// A number value; non-finite numbers (not representable in JSON) become null.
    mutating func double(_ value: Double) {
        separate()
        bytes.append(contentsOf: (value.isFinite ? String(value) : "null").utf8)
    }

    /// A boolean value.
    mutating func bool(_ value: Bool) {
        separate()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// `null`.
    mutating func null() {
        separate()
        bytes.append(contentsOf: "null".utf8)
    }

    /// A string, or null when `value` is nil.
    mutating func optionalString(_ value: String?) {
        if let value { string(value) } else { null() }
    }

    /// A value written by `body` in the element position.
    mutating func value(_ body: (inout JSONWriter) -> Void) {
        body(&self)
    }

    private mutating func separate() {
        if afterKey {
            afterKey = false
            return
        }
        guard let last = empty.indices.last else { return }
        if empty[last] {
            empty[last] = false
        } else {
            bytes.append(UInt8(ascii: ","))
        }
    }

    private mutating func appendQuoted(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 { appendEscaped(byte) }
        bytes.append(UInt8(ascii: "\""))
    }

    @inline(__always)
    private mutating func appendEscaped(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"):
            bytes.append(UInt8(ascii: "\\"))
            bytes.append(byte)
        case UInt8(ascii: "\n"):
            bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
        case 0..<0x20, 0x7F:
            let hex = Array("0123456789abcdef".utf8)
            bytes.append(contentsOf: Array("\\u00".utf8))
            bytes.append(hex[Int(byte >> 4)])
            bytes.append(hex[Int(byte & 0x0F)])
        default:
            bytes.append(byte)
        }
    }
}
