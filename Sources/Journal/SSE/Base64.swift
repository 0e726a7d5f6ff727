/// Standard base64 (RFC 4648 section 4, with padding): the SSE encoder's binary mode, the
/// export format, and the server's batch bodies all use this one implementation.
///
/// Hand-written because the library avoids Foundation; strict on decode so that a damaged or
/// truncated `data:` line is reported instead of silently yielding different bytes.
public enum Base64 {
    private static let alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// 0xFF marks bytes outside the alphabet; `=` is handled separately.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, symbol) in alphabet.enumerated() { table[Int(symbol)] = UInt8(value) }
        return table
    }()

    private static let pad = UInt8(ascii: "=")

    /// The encoded length, so callers can size their buffer once. `count` is a buffer's
    /// length: from 0 to `Int.max / 4 * 3` (any buffer that fits in memory).
    public static func encodedCount(_ count: Int) -> Int { (count + 2) / 3 * 4 }

    /// Appends the encoding of `bytes` to `out` in one resize (no intermediate buffers).
    public static func encode(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        let needed = encodedCount(bytes.count)
        guard needed > 0 else { return }
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: needed))
        alphabet.withUnsafeBufferPointer { table in
            out.withUnsafeMutableBufferPointer { buffer in
                var o = start
                var i = 0
                let whole = bytes.count - bytes.count % 3
                while i < whole {
                    let triple = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
                    buffer[o] = table[Int(triple >> 18)]
                    buffer[o + 1] = table[Int(triple >> 12 & 0x3F)]
                    buffer[o + 2] = table[Int(triple >> 6 & 0x3F)]
                    buffer[o + 3] = table[Int(triple & 0x3F)]
                    i += 3
                    o += 4
                }
                switch bytes.count - whole {
                case 1:
                    let triple = UInt32(bytes[i]) << 16
                    buffer[o] = table[Int(triple >> 18)]
                    buffer[o + 1] = table[Int(triple >> 12 & 0x3F)]
                    buffer[o + 2] = pad
                    buffer[o + 3] = pad
                case 2:
                    let triple = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
                    buffer[o] = table[Int(triple >> 18)]
                    buffer[o + 1] = table[Int(triple >> 12 & 0x3F)]
                    buffer[o + 2] = table[Int(triple >> 6 & 0x3F)]
                    buffer[o + 3] = pad
                default:
                    break
                }
            }
        }
    }

    /// The decoded bytes, or nil unless `text` is canonical padded base64: length a multiple of
    /// four, padding only at the end, no whitespace, and zero unused bits in the last symbol.
    public static func decode(_ text: UnsafeRawBufferPointer) -> [UInt8]? {
        guard text.count % 4 == 0 else { return nil }
        guard !text.isEmpty else { return [] }
        let padding = text[text.count - 1] == pad ? (text[text.count - 2] == pad ? 2 : 1) : 0
        let decodedCount = text.count / 4 * 3 - padding
        return values.withUnsafeBufferPointer { table -> [UInt8]? in
            var valid = true
            let result = [UInt8](unsafeUninitializedCapacity: decodedCount) { buffer, initialized in
                var o = 0
                var i = 0
                while i < text.count {
                    let isLast = i + 4 == text.count
                    let a = table[Int(text[i])]
                    let b = table[Int(text[i + 1])]
                    let c = isLast && padding == 2 ? 0 : table[Int(text[i + 2])]
                    let d = isLast && padding >= 1 ? 0 : table[Int(text[i + 3])]
                    guard (a | b | c | d) & 0xC0 == 0 else {
                        valid = false
                        break
                    }
                    let quad = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                    if isLast && padding > 0 {
                        // A non-zero remainder would mean two encodings of the same bytes.
                        let unused: UInt32 = padding == 2 ? 0xFFFF : 0xFF
                        guard quad & unused == 0 else {
                            valid = false
                            break
                        }
                        buffer[o] = UInt8(truncatingIfNeeded: quad >> 16)
                        if padding == 1 { buffer[o + 1] = UInt8(truncatingIfNeeded: quad >> 8) }
                        o += 3 - padding
                    } else {
                        buffer[o] = UInt8(truncatingIfNeeded: quad >> 16)
                        buffer[o + 1] = UInt8(truncatingIfNeeded: quad >> 8)
                        buffer[o + 2] = UInt8(truncatingIfNeeded: quad)
                        o += 3
                    }
                    i += 4
                }
                initialized = valid ? o : 0
            }
            return valid ? result : nil
        }
    }

    /// The encoding of `bytes` as a string.
    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        bytes.withUnsafeBytes { encode($0, into: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes `text` encodes, or nil unless it is canonical padded base64.
    public static func decode(_ text: String) -> [UInt8]? {
        Array(text.utf8).withUnsafeBytes { decode($0) }
    }
}
