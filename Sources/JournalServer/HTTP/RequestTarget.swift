/// An origin-form request target split into percent-decoded path segments and query items.
///
/// Decoding happens once, here, and every decoded segment is raw bytes: whether a segment is
/// an acceptable stream id (valid UTF-8, no `..`) is the router's decision, made on exactly
/// the bytes that will be used, so an escape cannot smuggle a `/` or `..` past a check.
struct RequestTarget: Sendable, Equatable {
    /// Path segments after decoding, without the empty segment of the leading `/`.
    var segments: [[UInt8]]
    /// Query items in order, names and values decoded (`+` is a space, as in forms).
    var query: [(name: String, value: String)]

    /// Why a target could not be decoded.
    struct DecodingError: Error, Equatable {
        /// The reason, one sentence.
        var message: String
    }

    /// Splits and decodes `target` (which the parser already checked is visible ASCII and
    /// starts with `/`).
    init(_ target: String) throws(DecodingError) {
        let bytes = Array(target.utf8)
        let questionMark = bytes.firstIndex(of: UInt8(ascii: "?")) ?? bytes.count
        let pathBytes = bytes[..<questionMark]
        segments = []
        var path = pathBytes.dropFirst()
        // "/streams/" and "/streams" name the same collection.
        if path.last == UInt8(ascii: "/") { path = path.dropLast() }
        if !path.isEmpty {
            for raw in path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
                segments.append(try RequestTarget.percentDecode(raw, plusIsSpace: false))
            }
        }
        query = []
        if questionMark < bytes.count {
            for item in bytes[(questionMark + 1)...].split(separator: UInt8(ascii: "&")) {
                let parts = item.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
                let name = try RequestTarget.percentDecode(parts[0], plusIsSpace: true)
                let value = parts.count > 1 ? try RequestTarget.percentDecode(parts[1], plusIsSpace: true) : []
                guard let nameText = String(validating: name, as: UTF8.self),
                    let valueText = String(validating: value, as: UTF8.self)
                else { throw DecodingError(message: "a query parameter is not valid UTF-8") }
                query.append((nameText, valueText))
            }
        }
    }

    /// The first value of query parameter `name`.
    func queryValue(_ name: String) -> String? {
        query.first { $0.name == name }?.value
    }

    /// Compares segments and query items.
    static func == (lhs: RequestTarget, rhs: RequestTarget) -> Bool {
        lhs.segments == rhs.segments
            && lhs.query.elementsEqual(rhs.query) { $0.name == $1.name && $0.value == $1.value }
    }

    /// Decodes `%XX` escapes; a `%` not followed by two hex digits is an error.
    static func percentDecode(_ bytes: ArraySlice<UInt8>, plusIsSpace: Bool) throws(DecodingError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.endIndex, let high = hex(bytes[index + 1]), let low = hex(bytes[index + 2])
                else { throw DecodingError(message: "a percent escape is not followed by two hex digits") }
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(plusIsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                index += 1
            }
        }
        return out
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
