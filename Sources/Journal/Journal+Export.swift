/// One line of a journal export (JSON Lines): a stream's open, one chunk, or its end.
///
/// The line shapes, one JSON object per line, keys in this order:
///
/// ```text
/// {"event":"open","stream":"chat-42","timestamp":1763800000000000,"metadata":{"model":"small"}}
/// {"stream":"chat-42","index":0,"timestamp":1763800000000100,"text":"Hel"}
/// {"stream":"chat-42","index":1,"timestamp":1763800000000200,"base64":"/w0K"}
/// {"event":"end","stream":"chat-42","timestamp":1763800000000300,"status":"completed","reason":null,"chunks":2}
/// ```
///
/// A chunk whose payload is valid UTF-8 carries it as `text` (a JSON string decodes to exactly
/// the same bytes: only `"`, `\` and control characters are escaped); any other payload is
/// `base64` (standard alphabet, padded). Timestamps are microseconds since the Unix epoch.
/// Readers ignore keys they do not know, so later versions may add some.
public enum ExportRecord: Sendable, Equatable {
    /// A stream was opened with this metadata.
    case open(StreamID, metadata: [String: String], timestamp: Int64)
    /// Chunk `index` of the stream, with its exact bytes.
    case chunk(StreamID, index: Int, timestamp: Int64, bytes: [UInt8])
    /// The stream ended with this status and reason after `chunkCount` chunks.
    case end(StreamID, status: StreamStatus, reason: String?, chunkCount: Int, timestamp: Int64)

    /// The stream the record belongs to.
    public var stream: StreamID {
        switch self {
        case .open(let id, _, _), .chunk(let id, _, _, _), .end(let id, _, _, _, _): return id
        }
    }

    /// The open record of a stream, from its info.
    public init(opening info: StreamInfo) {
        self = .open(info.id, metadata: info.metadata, timestamp: info.createdAt)
    }

    /// The end record of a finished stream, from its info; nil while the stream is open.
    public init?(ending info: StreamInfo) {
        guard info.status.isFinished else { return nil }
        self = .end(
            info.id, status: info.status, reason: info.reason, chunkCount: info.chunkCount,
            timestamp: info.finishedAt ?? info.updatedAt)
    }

    /// Appends the record's line and a line feed to `out`.
    public func encode(into out: inout [UInt8]) {
        switch self {
        case .open(let id, let metadata, let timestamp):
            JSONLine.append(#"{"event":"open","stream":"#, to: &out)
            JSONLine.appendString(id.rawValue.utf8, to: &out)
            JSONLine.append(#","timestamp":"#, to: &out)
            JSONLine.append("\(timestamp)", to: &out)
            JSONLine.append(#","metadata":{"#, to: &out)
            for (position, key) in metadata.keys.sorted().enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                JSONLine.appendString(key.utf8, to: &out)
                out.append(UInt8(ascii: ":"))
                JSONLine.appendString(metadata[key]!.utf8, to: &out)
            }
            JSONLine.append("}}\n", to: &out)
        case .chunk(let id, let index, let timestamp, let bytes):
            bytes.withUnsafeBytes {
                ExportRecord.encodeChunk(stream: id, index: index, timestamp: timestamp, payload: $0, into: &out)
            }
        case .end(let id, let status, let reason, let chunkCount, let timestamp):
            JSONLine.append(#"{"event":"end","stream":"#, to: &out)
            JSONLine.appendString(id.rawValue.utf8, to: &out)
            JSONLine.append(#","timestamp":"#, to: &out)
            JSONLine.append("\(timestamp)", to: &out)
            JSONLine.append(#","status":"#, to: &out)
            JSONLine.appendString(status.rawValue.utf8, to: &out)
            JSONLine.append(#","reason":"#, to: &out)
            if let reason { JSONLine.appendString(reason.utf8, to: &out) } else { JSONLine.append("null", to: &out) }
            JSONLine.append(#","chunks":"#, to: &out)
            JSONLine.append("\(chunkCount)}\n", to: &out)
        }
    }

    /// Appends a chunk's line and a line feed to `out`, reading the payload in place.
    public static func encode(_ chunk: Chunk, of stream: StreamID, into out: inout [UInt8]) {
        chunk.withUnsafeBytes {
            encodeChunk(stream: stream, index: chunk.index, timestamp: chunk.timestamp, payload: $0, into: &out)
        }
    }

    private static func encodeChunk(
        stream: StreamID, index: Int, timestamp: Int64, payload: UnsafeRawBufferPointer, into out: inout [UInt8]
    ) {
        JSONLine.append(#"{"stream":"#, to: &out)
        JSONLine.appendString(stream.rawValue.utf8, to: &out)
        JSONLine.append(#","index":"#, to: &out)
        JSONLine.append("\(index)", to: &out)
        JSONLine.append(#","timestamp":"#, to: &out)
        JSONLine.append("\(timestamp)", to: &out)
        if String(validating: payload, as: UTF8.self) != nil {
            JSONLine.append(#","text":"#, to: &out)
            JSONLine.appendString(payload, to: &out)
        } else {
            JSONLine.append(#","base64":""#, to: &out)
            Base64.encode(payload, into: &out)
            out.append(UInt8(ascii: "\""))
        }
        JSONLine.append("}\n", to: &out)
    }

    /// Decodes one line (without its line feed). Throws `ExportFormatError` naming the first
    /// thing that is not as described above.
    public init(jsonLine: [UInt8]) throws(ExportFormatError) {
        var reader = JSONReader(jsonLine)
        let object = try reader.document()
        func string(_ key: String) throws(ExportFormatError) -> String? {
            switch object[key] {
            case nil, .null?: return nil
            case .string(let bytes)?: return String(decoding: bytes, as: UTF8.self)
            default: throw ExportFormatError(detail: "\"\(key)\" must be a string")
            }
        }
        func integer(_ key: String) throws(ExportFormatError) -> Int64? {
            switch object[key] {
            case nil: return nil
            case .number(let text)?:
                guard let value = JSONReader.integer(text) else {
                    throw ExportFormatError(detail: "\"\(key)\" must be an integer (found \(text.prefix(40)))")
                }
                return value
            default: throw ExportFormatError(detail: "\"\(key)\" must be a number")
            }
        }
        guard let name = try string("stream") else { throw ExportFormatError(detail: "\"stream\" is missing") }
        let id: StreamID
        do { id = try StreamID(name) } catch {
            throw ExportFormatError(detail: "\"stream\" is not a valid stream id: \(error.description)")
        }
        let timestamp = try integer("timestamp") ?? 0
        switch try string("event") {
        case nil:
            guard let index = try integer("index"), index >= 0, index <= Int64(UInt32.max) else {
                throw ExportFormatError(detail: "a chunk line needs a non-negative \"index\"")
            }
            let bytes: [UInt8]
            switch (object["text"], object["base64"]) {
            case (.string(let text)?, nil):
                bytes = text
            case (nil, .string(let encoded)?):
                guard let decoded = encoded.withUnsafeBytes({ Base64.decode($0) }) else {
                    throw ExportFormatError(detail: "\"base64\" is not canonical padded base64")
                }
                bytes = decoded
            default:
                throw ExportFormatError(
                    detail: "a chunk line needs exactly one of \"text\" and \"base64\", as a string")
            }
            self = .chunk(id, index: Int(index), timestamp: timestamp, bytes: bytes)
        case "open":
            var metadata: [String: String] = [:]
            switch object["metadata"] {
            case nil, .null?:
                break
            case .object(let pairs)?:
                for (key, value) in pairs {
                    guard case .string(let bytes) = value else {
                        throw ExportFormatError(detail: "metadata value of \"\(key)\" must be a string")
                    }
                    metadata[key] = String(decoding: bytes, as: UTF8.self)
                }
            default:
                throw ExportFormatError(detail: "\"metadata\" must be an object of strings")
            }
            self = .open(id, metadata: metadata, timestamp: timestamp)
        case "end":
            guard let statusName = try string("status"), let status = StreamStatus(rawValue: statusName),
                status.isFinished
            else {
                throw ExportFormatError(detail: "\"status\" must be completed, failed, cancelled or interrupted")
            }
            guard let chunks = try integer("chunks"), chunks >= 0, chunks <= Int64(UInt32.max) else {
                throw ExportFormatError(detail: "an end line needs a non-negative \"chunks\" count")
            }
            self = .end(
                id, status: status, reason: try string("reason"), chunkCount: Int(chunks), timestamp: timestamp)
        case let other?:
            throw ExportFormatError(detail: "unknown \"event\" \"\(other)\" (expected open or end)")
        }
    }
}

/// Why an export line could not be read.
public struct ExportFormatError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, in words.
    public var detail: String
    /// The detail.
    public var description: String { detail }
}

/// An import record that contradicts what the journal already holds.
public struct ImportConflict: Error, Sendable, Equatable, CustomStringConvertible {
    /// The stream concerned.
    public var stream: StreamID
    /// What differs.
    public var detail: String
    /// One sentence naming the stream and the difference.
    public var description: String { "stream \"\(stream)\": \(detail)" }
}

/// What `Journal.importRecord` did with one record.
public enum ImportOutcome: Sendable, Equatable {
    /// The record was written.
    case applied
    /// The journal already held exactly this (an import run twice, or resumed).
    case alreadyPresent
}

extension Journal {
    /// Calls `body` with every record of the journal's streams, stream by stream in creation
    /// order: the open record, the chunks in index order, then the end when the stream has
    /// finished. `streams` restricts the export to those ids (in that order) and `status` to
    /// streams with that status. A stream still being written is exported as far as it has
    /// been committed when its chunks are read, without an end record.
    public func export(
        streams selection: [StreamID]? = nil, status: StreamStatus? = nil, _ body: (ExportRecord) throws -> Void
    ) throws {
        let ids: [StreamID]
        if let selection {
            // Every named stream is checked before anything is written.
            for id in selection { _ = try info(id) }
            ids = selection
        } else {
            ids = try streams().map(\.id)
        }
        for id in ids {
            // The cursor is taken before the open record is written, and the records come from
            // the stream as the cursor saw it: a stream deleted (or compacted away) since the
            // listing is skipped, where it ended the export with an open record and no chunks,
            // and its open, chunks and end always agree (a stream open then has no end yet in
            // this export, even if it finished meanwhile).
            var cursor: ChunkCursor
            switch Result(catching: { () throws(JournalError) in try chunks(of: id) }) {
            case .success(let opened): cursor = opened
            case .failure(.unknownStream) where selection == nil: continue
            case .failure(let error): throw error
            }
            let info = cursor.info
            guard status == nil || info.status == status else { continue }
            try body(ExportRecord(opening: info))
            while let chunk = try cursor.next() {
                try body(.chunk(info.id, index: chunk.index, timestamp: chunk.timestamp, bytes: chunk.bytes))
            }
            if let end = ExportRecord(ending: info) { try body(end) }
        }
    }

    /// Applies one export record: opens the stream with the same id and metadata, appends the
    /// chunk at the same index with the same bytes (idempotently), or ends the stream with
    /// the same status and reason. Timestamps are not kept: the journal stamps its own.
    ///
    /// Running an import twice is harmless: records the journal already holds identically
    /// return `.alreadyPresent`. Throws `JournalError` (e.g. `indexGap` for a missing chunk,
    /// `chunkConflict` for different bytes) or `ImportConflict` when the journal holds
    /// something else for the stream.
    @discardableResult
    public func importRecord(_ record: ExportRecord) throws -> ImportOutcome {
        switch record {
        case .open(let id, let metadata, _):
            do {
                try createStream(id, metadata: metadata)
                return .applied
            } catch JournalError.duplicateStream {
                // Byte for byte: String equality takes canonically equivalent spellings
                // ("é" and "e" + U+0301) for the same text.
                let existing = try info(id).metadata
                guard Self.sameBytes(existing, metadata) else {
                    throw ImportConflict(stream: id, detail: "it already exists with different metadata")
                }
                return .alreadyPresent
            }
        case .chunk(let id, let index, _, let bytes):
            return try append(bytes, to: id, at: index) == .appended ? .applied : .alreadyPresent
        case .end(let id, let status, let reason, let chunkCount, _):
            // The JSON reader never builds one; a record built by hand trapped in `finish`.
            guard status.isFinished else {
                throw ExportFormatError(detail: "an end record for \"\(id)\" needs a finished status, not \(status)")
            }
            let current = try info(id)
            if current.status == .open {
                if current.chunkCount < chunkCount {
                    throw ImportConflict(
                        stream: id,
                        detail:
                            "it has \(current.chunkCount) chunks but the export ends it after \(chunkCount); chunk lines are missing"
                    )
                }
                if current.chunkCount > chunkCount {
                    throw ImportConflict(
                        stream: id,
                        detail:
                            "it has \(current.chunkCount) chunks, more than the \(chunkCount) the export ends it after")
                }
                try finish(id, status: status, reason: reason)
                return .applied
            }
            // An empty reason is no reason, as `finish` stores it; compared byte for byte.
            let sameReason = Self.sameBytes(current.reason, reason)
            guard current.status == status, sameReason, current.chunkCount == chunkCount else {
                throw ImportConflict(
                    stream: id,
                    detail:
                        "it already ended \(current.status) after \(current.chunkCount) chunks\(Self.quoted(current.reason)); the export says \(status) after \(chunkCount)\(Self.quoted(reason))"
                )
            }
            return .alreadyPresent
        }
    }

    /// Whether two metadata dictionaries hold the same keys and values, byte for byte: `==`
    /// compares strings as Unicode text, equal for canonically equivalent spellings. Import
    /// and journal-server's idempotent create both decide with it.
    package static func sameBytes(_ a: [String: String], _ b: [String: String]) -> Bool {
        func bytes(_ d: [String: String]) -> [[UInt8]: [UInt8]] {
            // Keys of one dictionary are distinct as text, so distinct as bytes too.
            Dictionary(uniqueKeysWithValues: d.map { (Array($0.key.utf8), Array($0.value.utf8)) })
        }
        return a.count == b.count && bytes(a) == bytes(b)
    }

    /// Whether two reasons are the same bytes, an empty one being none.
    static func sameBytes(_ a: String?, _ b: String?) -> Bool {
        let left = a ?? ""
        let right = b ?? ""
        return left.utf8.elementsEqual(right.utf8)
    }

    /// ` with reason "…"`, or nothing for no reason.
    static func quoted(_ reason: String?) -> String {
        guard let reason, !reason.isEmpty else { return "" }
        let shown = reason.count > 200 ? reason.prefix(200) + "…" : Substring(reason)
        return " with reason \"\(shown)\""
    }

    /// Ends the stream with any finished status and an optional reason: the general form of
    /// `complete`, `fail`, `cancel` and `interrupt`, for tools that copy streams (import,
    /// repair) and must reproduce a status and reason exactly, including a completion note.
    /// `status` must not be `.open` (a programming error). A reason may be as long as the
    /// format allows (1 GiB), not only `Journal.maxReasonBytes`: a copy must reproduce what
    /// older writers stored.
    public func finish(_ stream: StreamID, status: StreamStatus, reason: String?) throws(JournalError) {
        precondition(status.isFinished, "finish(_:status:reason:) needs a finished status")
        try engine.finish(stream, status: status, reason: reason, reasonLimit: Layout.maxBodyLength)
    }
}

// MARK: JSON

/// The few JSON helpers the export lines need (and journal-server's request parser).
package enum JSONLine {
    /// Why an object that holds `key` after `earlier` is refused: the same bytes twice, or
    /// two canonically equivalent spellings ("é" and "e" + U+0301), which a Swift
    /// dictionary, and so stream metadata, holds as one key. Import and journal-server say
    /// the same.
    package static func duplicateKey(_ earlier: String, _ key: String) -> String {
        earlier.utf8.elementsEqual(key.utf8)
            ? "duplicate key \"\(key.prefix(40))\""
            : "keys \"\(earlier.prefix(40))\" and \"\(key.prefix(40))\" are canonically equivalent Unicode, "
                + "which a journal stores as one key; use one spelling (NFC)"
    }

    static func append(_ text: String, to out: inout [UInt8]) { out.append(contentsOf: text.utf8) }

    /// A JSON string of `bytes` (valid UTF-8): `"` and `\` escaped, control characters as
    /// short escapes or `\u00XX`, everything else as is, so decoding gives back the bytes.
    static func appendString<Bytes: Sequence<UInt8>>(_ bytes: Bytes, to out: inout [UInt8]) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case UInt8(ascii: "\n"):
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"):
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case UInt8(ascii: "\t"):
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                out.append(contentsOf: Array(#"\u00"#.utf8))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            default:
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// A strict reader for one JSON document (RFC 8259) whose top level is an object.
struct JSONReader {
    /// A parsed value. Strings stay UTF-8 bytes (validated) so payloads never pass through a
    /// `String`; numbers stay their source text.
    indirect enum Value: Equatable {
        case string([UInt8])
        case number(String)
        case bool(Bool)
        case null
        case array([Value])
        case object([(String, Value)])

        static func == (lhs: Value, rhs: Value) -> Bool {
            switch (lhs, rhs) {
            case (.string(let a), .string(let b)): return a == b
            case (.number(let a), .number(let b)): return a == b
            case (.bool(let a), .bool(let b)): return a == b
            case (.null, .null): return true
            case (.array(let a), .array(let b)): return a == b
            case (.object(let a), .object(let b)): return a.map(\.0) == b.map(\.0) && a.map(\.1) == b.map(\.1)
            default: return false
            }
        }
    }

    private let bytes: [UInt8]
    private var position = 0
    private var depth = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The top-level object as a dictionary (objects with a duplicate key are refused).
    mutating func document() throws(ExportFormatError) -> [String: Value] {
        skipSpace()
        guard peek == UInt8(ascii: "{"), case .object(let pairs) = try value() else {
            throw fail("a line must be one JSON object")
        }
        skipSpace()
        guard position == bytes.count else { throw fail("unexpected text after the object") }
        return Dictionary(pairs, uniquingKeysWith: { _, last in last })
    }

    private var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    private func fail(_ detail: String) -> ExportFormatError {
        ExportFormatError(detail: "\(detail) (at byte \(position + 1))")
    }

    private mutating func skipSpace() {
        while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { position += 1 }
    }

    private mutating func expect(_ literal: String) throws(ExportFormatError) {
        for byte in literal.utf8 {
            guard peek == byte else { throw fail("expected \(literal)") }
            position += 1
        }
    }

    private mutating func value() throws(ExportFormatError) -> Value {
        skipSpace()
        guard let byte = peek else { throw fail("unexpected end of line") }
        switch byte {
        case UInt8(ascii: "{"):
            depth += 1
            defer { depth -= 1 }
            guard depth <= 64 else { throw fail("objects nest too deeply") }
            position += 1
            var pairs: [(String, Value)] = []
            // Each key's first spelling, by key: a dictionary finds a duplicate (String
            // hashing, like `==`, follows canonical equivalence) without comparing every
            // earlier key, which made a line of a million keys take hours.
            var seen: [String: String] = [:]
            skipSpace()
            if peek == UInt8(ascii: "}") {
                position += 1
                return .object(pairs)
            }
            while true {
                skipSpace()
                guard peek == UInt8(ascii: "\"") else { throw fail("expected a key string") }
                let keyStart = position
                let key = String(decoding: try string(), as: UTF8.self)
                // Refused, as journal-server refuses them: which one did the writer mean?
                // Canonically equivalent spellings ("é" and "e" + U+0301) are one key to a
                // Swift dictionary, and so to stream metadata: the import kept the last.
                if let other = seen[key] {
                    position = keyStart
                    throw fail(JSONLine.duplicateKey(other, key))
                }
                seen[key] = key
                skipSpace()
                try expect(":")
                pairs.append((key, try value()))
                skipSpace()
                if peek == UInt8(ascii: ",") {
                    position += 1
                    continue
                }
                try expect("}")
                return .object(pairs)
            }
        case UInt8(ascii: "["):
            depth += 1
            defer { depth -= 1 }
            guard depth <= 64 else { throw fail("arrays nest too deeply") }
            position += 1
            var items: [Value] = []
            skipSpace()
            if peek == UInt8(ascii: "]") {
                position += 1
                return .array(items)
            }
            while true {
                items.append(try value())
                skipSpace()
                if peek == UInt8(ascii: ",") {
                    position += 1
                    continue
                }
                try expect("]")
                return .array(items)
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"):
            try expect("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expect("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expect("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let start = position
            try number()
            return .number(String(decoding: bytes[start..<position], as: UTF8.self))
        default:
            throw fail("unexpected character")
        }
    }

    /// The exact integer a JSON number's text denotes, however it is spelt (`3`, `3.0`,
    /// `3e0`, `30e-1`); nil when it has a fraction or is outside `Int64`. JSON has one number
    /// type, and serializers that hold every number as a double write integers as `3.0`.
    static func integer(_ text: String) -> Int64? {
        if let plain = Int64(text) { return plain }
        var digits: [UInt8] = []
        var scale = 0  // the value is digits × 10^scale
        var negative = false
        var exponent = ""
        var part = 0  // 0 integer digits, 1 fraction, 2 exponent
        for byte in text.utf8 {
            switch (part, byte) {
            case (0, UInt8(ascii: "-")): negative = true
            case (0, UInt8(ascii: ".")): part = 1
            case (_, UInt8(ascii: "e")), (_, UInt8(ascii: "E")): part = 2
            case (0, _): digits.append(byte)
            case (1, _):
                digits.append(byte)
                scale -= 1
            default: exponent.unicodeScalars.append(UnicodeScalar(byte))
            }
        }
        // Exponents past a few dozen give values beyond Int64 or below 1 anyway; the length
        // is checked first, so that no exponent text is too long for `Int` (an exponent of
        // -2^63 trapped in `abs`).
        guard exponent.utf8.count <= 5, let shift = exponent.isEmpty ? 0 : Int(exponent) else { return nil }
        scale += shift
        while scale < 0 {
            guard digits.last == UInt8(ascii: "0") else { return nil }
            digits.removeLast()
            scale += 1
        }
        let significant = digits.drop { $0 == UInt8(ascii: "0") }
        if significant.isEmpty { return 0 }
        guard significant.count + scale <= 19 else { return nil }
        var magnitude = String(decoding: significant, as: UTF8.self)
        magnitude += String(repeating: "0", count: scale)
        return Int64((negative ? "-" : "") + magnitude)
    }

    /// Moves past a number as RFC 8259 §6 spells it:
    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`. Any run of `-+.eE` and digits
    /// was taken before, so `00`, `1-2` and a lone `-` passed in keys the reader ignores.
    private mutating func number() throws(ExportFormatError) {
        if peek == UInt8(ascii: "-") { position += 1 }
        if peek == UInt8(ascii: "0") {
            position += 1
        } else if skipDigits() == 0 {
            throw fail("a number needs a digit")
        }
        if peek == UInt8(ascii: ".") {
            position += 1
            guard skipDigits() > 0 else { throw fail("a number needs digits after its decimal point") }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            position += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { position += 1 }
            guard skipDigits() > 0 else { throw fail("a number needs digits in its exponent") }
        }
    }

    /// Moves past decimal digits; returns how many.
    private mutating func skipDigits() -> Int {
        let start = position
        while let next = peek, next >= UInt8(ascii: "0"), next <= UInt8(ascii: "9") { position += 1 }
        return position - start
    }

    /// A string's UTF-8 bytes; the reader is at its opening quote.
    private mutating func string() throws(ExportFormatError) -> [UInt8] {
        position += 1
        var out: [UInt8] = []
        while true {
            guard let byte = peek else { throw fail("unterminated string") }
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard String(validating: out, as: UTF8.self) != nil else { throw fail("string is not valid UTF-8") }
                return out
            case UInt8(ascii: "\\"):
                guard let escape = peek else { throw fail("unterminated escape") }
                position += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        try expect("\\u")
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(scalar) {
                        throw fail("unpaired surrogate")
                    }
                    out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
                default:
                    throw fail("unknown escape")
                }
            case 0..<0x20:
                throw fail("control character inside a string")
            default:
                out.append(byte)
            }
        }
    }

    private mutating func hex4() throws(ExportFormatError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = peek else { throw fail("short \\u escape") }
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw fail("bad \\u escape")
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }
}
