/// The name of a stream, chosen by the caller or generated.
///
/// 1 to 128 bytes of `A-Z a-z 0-9 . _ ~ : @ + = -`, not `.`/`..` and without `..` inside:
/// safe in a URL path segment, a file name and a log line without escaping.
public struct StreamID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The id's text.
    public let rawValue: String

    /// The longest id, in bytes.
    public static let maxLength = 128

    /// Validates `rawValue`; throws `JournalError.invalidStreamID` saying which rule it broke.
    public init(_ rawValue: String) throws(JournalError) {
        if let problem = StreamID.problem(with: rawValue) {
            throw JournalError.invalidStreamID(rawValue, reason: problem)
        }
        self.rawValue = rawValue
    }

    /// For ids read back from a valid journal, already checked when written.
    init(trusted rawValue: String) { self.rawValue = rawValue }

    /// A new unique id: 12 hex digits of milliseconds since the epoch, then 16 random hex
    /// digits, so generated ids sort by creation time.
    public static func generate() -> StreamID {
        let millis = UInt64(Clock.wallMicroseconds() / 1000)
        let time = String(millis, radix: 16)
        let random = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return StreamID(
            trusted: String(repeating: "0", count: max(0, 12 - time.count)) + time
                + String(repeating: "0", count: 16 - random.count) + random)
    }

    /// Why `text` is not a valid id, or nil when it is.
    public static func problem(with text: String) -> String? {
        let utf8 = text.utf8
        if utf8.isEmpty { return "it is empty" }
        if utf8.count > maxLength { return "it is \(utf8.count) bytes long; the limit is \(maxLength)" }
        // One pass over the bytes, through the string's own storage when it has one (every
        // native string does). `text.contains("..")` searched by Character and took more
        // than half the time of opening a journal whose snapshot holds a thousand streams:
        // every id read from a file is checked here.
        let (doubleDot, disallowed) = utf8.withContiguousStorageIfAvailable(scan) ?? scan(Array(utf8))
        if doubleDot { return "it contains \"..\" or is \".\"" }
        guard let byte = disallowed else { return nil }
        if byte >= 0x80 { return "it contains a non-ASCII byte" }
        return "it contains the character \(printable(byte)), allowed are A-Z a-z 0-9 . _ ~ : @ + = -"
    }

    /// Whether `bytes` is "." or contains "..", and its first byte outside the allowed set.
    private static func scan(_ bytes: UnsafeBufferPointer<UInt8>) -> (doubleDot: Bool, disallowed: UInt8?) {
        // Branch-free: ids are short and almost always valid.
        let dot = UInt8(ascii: ".")
        var previousDot: UInt8 = 0
        var doubleDot: UInt8 = bytes.count == 1 && bytes[0] == dot ? 1 : 0
        var refused: UInt64 = 0
        for byte in bytes {
            let isDot: UInt8 = byte == dot ? 1 : 0
            doubleDot |= isDot & previousDot
            previousDot = isDot
            refused |= ~allowedBits(byte) & 1
        }
        return (doubleDot != 0, refused == 0 ? nil : bytes.first { allowedBits($0) & 1 == 0 })
    }

    private static func scan(_ bytes: [UInt8]) -> (doubleDot: Bool, disallowed: UInt8?) {
        bytes.withUnsafeBufferPointer(scan)
    }

    /// Bit b of `allowedBelow64` (bytes 0-63) or of `allowedFrom64` (bytes 64-127): byte b is
    /// one of `A-Z a-z 0-9 . _ ~ : @ + = -`.
    private static let allowedBelow64: UInt64 = 0x27ff_6800_0000_0000
    private static let allowedFrom64: UInt64 = 0x47ff_fffe_87ff_ffff

    /// Bit 0 is set when `byte` is allowed.
    @inline(__always)
    private static func allowedBits(_ byte: UInt8) -> UInt64 {
        let word = byte < 64 ? allowedBelow64 : byte < 128 ? allowedFrom64 : 0
        return word >> (byte & 63)
    }

    private static func printable(_ byte: UInt8) -> String {
        byte >= 0x21 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "0x" + String(byte, radix: 16)
    }

    /// The id's text.
    public var description: String { rawValue }

    /// Orders ids by their text.
    public static func < (lhs: StreamID, rhs: StreamID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Where a stream is in its life: open, then exactly one terminal state.
public enum StreamStatus: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Accepting chunks.
    case open
    /// Ended normally by its producer.
    case completed
    /// Ended by its producer with an error reason.
    case failed
    /// Ended by a cancellation (a client went away, a user pressed stop).
    case cancelled
    /// Ended by the journal because the producer vanished: a crash, or no append for the
    /// stale time.
    case interrupted

    /// Whether the stream has ended.
    public var isFinished: Bool { self != .open }

    /// The status's name, as in JSON and the CLI.
    public var description: String { rawValue }

    /// Stable numbers used in snapshots (FORMAT.md, "Index snapshot").
    var code: UInt8 {
        switch self {
        case .open: return 0
        case .completed: return 1
        case .failed: return 2
        case .cancelled: return 3
        case .interrupted: return 4
        }
    }

    init?(code: UInt8) {
        switch code {
        case 0: self = .open
        case 1: self = .completed
        case 2: self = .failed
        case 3: self = .cancelled
        case 4: self = .interrupted
        default: return nil
        }
    }
}

/// What the journal knows about one stream.
public struct StreamInfo: Sendable, Equatable {
    /// The stream's id.
    public var id: StreamID
    /// Open, or how it ended.
    public var status: StreamStatus
    /// Chunks stored; the next append gets this index.
    public var chunkCount: Int
    /// Payload bytes stored, without framing.
    public var byteCount: Int
    /// When the stream was opened, microseconds since the Unix epoch.
    public var createdAt: Int64
    /// When the last record of the stream was written, microseconds since the Unix epoch.
    public var updatedAt: Int64
    /// When it ended, or nil while open.
    public var finishedAt: Int64?
    /// The reason given by `fail`, `cancel` or the journal's interruption.
    public var reason: String?
    /// The metadata given at creation.
    public var metadata: [String: String]
}
