/// The type byte of a record (FORMAT.md, "Record types").
enum RecordType: UInt8, Sendable, CaseIterable {
    /// Opens a stream: body carries its id and metadata.
    case streamOpen = 1
    /// One chunk of a stream: body is the payload.
    case chunk = 2
    /// The stream ended normally.
    case completed = 3
    /// The stream ended with an error: body is the UTF-8 reason.
    case failed = 4
    /// The stream was cancelled: body is an optional UTF-8 reason.
    case cancelled = 5
    /// The stream's producer vanished (crash, or no append within the stale time).
    case interrupted = 6
    /// An index snapshot: derived data that makes opening fast.
    case snapshot = 7
    /// Filler that readers skip; body bytes are zero.
    case padding = 8
    /// The stream was deleted: it and its records are gone for readers, and compaction
    /// reclaims them. Nothing of the stream may follow.
    case deleted = 9

    /// Whether the record belongs to a stream (a non-zero stream number).
    var isStreamScoped: Bool {
        switch self {
        case .snapshot, .padding: return false
        default: return true
        }
    }

    /// The status a terminal record gives its stream, or nil for other types.
    var terminalStatus: StreamStatus? {
        switch self {
        case .completed: return .completed
        case .failed: return .failed
        case .cancelled: return .cancelled
        case .interrupted: return .interrupted
        default: return nil
        }
    }

    /// The terminal record type for a finished status.
    init?(terminal status: StreamStatus) {
        switch status {
        case .completed: self = .completed
        case .failed: self = .failed
        case .cancelled: self = .cancelled
        case .interrupted: self = .interrupted
        case .open: return nil
        }
    }
}
