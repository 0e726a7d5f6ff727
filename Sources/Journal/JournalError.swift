/// Everything that can go wrong, each case with what a person needs to act on it.
///
/// `description` is one sentence naming what failed, where (path, offset, stream, index) and
/// what to do next; `code` is a stable identifier for programs (and HTTP error bodies).
/// Payload bytes never appear in an error.
public enum JournalError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No stream has this id.
    case unknownStream(StreamID)
    /// The stream has ended; it takes no more chunks or terminal records.
    case streamFinished(StreamID, status: StreamStatus)
    /// `createStream` with an id that exists.
    case duplicateStream(StreamID)
    /// The text is not a valid stream id.
    case invalidStreamID(String, reason: String)
    /// A chunk over the configured maximum; nothing was stored.
    case chunkTooLarge(size: Int, limit: Int)
    /// Stream metadata over the format's limit.
    case metadataTooLarge(size: Int, limit: Int)
    /// A reason over `Journal.maxReasonBytes`; the stream was not ended.
    case reasonTooLarge(size: Int, limit: Int)
    /// An idempotent append named an index that holds different bytes.
    case chunkConflict(StreamID, index: Int)
    /// An idempotent append named an index beyond the next one.
    case indexGap(StreamID, index: Int, next: Int)
    /// An index outside the stream (reads).
    case indexOutOfRange(StreamID, index: Int, count: Int)
    /// The stream holds as many chunks as a stream can (`Journal.maxChunksPerStream`);
    /// nothing was stored.
    case streamFull(StreamID, chunkCount: Int)
    /// Another process (or another open in this one) holds the writer lock.
    case locked(path: String, pid: Int32?)
    /// The file is not a StreamJournal file (or is empty).
    case notAJournal(path: String, reason: String)
    /// The file was written by a newer format version.
    case unsupportedVersion(path: String, found: UInt32, supported: UInt32)
    /// Bytes that should be valid are not.
    case corruption(path: String, offset: UInt64, detail: String)
    /// A system call failed.
    case io(operation: String, path: String, errno: Errno)
    /// An earlier write or sync failed; this handle takes no more writes.
    case poisoned(path: String, cause: String)
    /// A write on a journal opened read-only.
    case readOnly(path: String)
    /// The journal was closed.
    case closed(path: String)
    /// The operation cannot run now because another one is in progress.
    case busy(path: String, what: String)

    /// A stable identifier for the case, e.g. `"unknown_stream"`.
    public var code: String {
        switch self {
        case .unknownStream: return "unknown_stream"
        case .streamFinished: return "stream_finished"
        case .duplicateStream: return "duplicate_stream"
        case .invalidStreamID: return "invalid_stream_id"
        case .chunkTooLarge: return "chunk_too_large"
        case .metadataTooLarge: return "metadata_too_large"
        case .reasonTooLarge: return "reason_too_large"
        case .chunkConflict: return "chunk_conflict"
        case .indexGap: return "index_gap"
        case .indexOutOfRange: return "index_out_of_range"
        case .streamFull: return "stream_full"
        case .locked: return "locked"
        case .notAJournal: return "not_a_journal"
        case .unsupportedVersion: return "unsupported_version"
        case .corruption: return "corruption"
        case .io: return "io"
        case .poisoned: return "poisoned"
        case .readOnly: return "read_only"
        case .closed: return "closed"
        case .busy: return "busy"
        }
    }

    /// One sentence: what failed, where, and what to do next.
    public var description: String {
        switch self {
        case .unknownStream(let id):
            return "no stream \"\(id)\" in this journal (never created, or deleted or compacted away); check the id"
        case .streamFinished(let id, let status):
            return "stream \"\(id)\" has already ended (\(status)); it takes no more chunks and cannot end again; "
                + "write to a new stream"
        case .duplicateStream(let id):
            return "a stream \"\(id)\" already exists; choose another id or read the existing stream"
        case .invalidStreamID(let text, let reason):
            let shown = text.utf8.count > 40 ? String(text.prefix(40)) + "…" : text
            return "\"\(shown)\" is not a valid stream id: \(reason)"
        case .chunkTooLarge(let size, let limit):
            return
                "chunk of \(size) bytes exceeds the maximum of \(limit) bytes; nothing was stored; split it, or raise the limit (JournalOptions.maxChunkSize, journal-server --max-chunk-bytes)"
        case .reasonTooLarge(let size, let limit):
            return
                "a reason of \(size) bytes exceeds the maximum of \(limit) bytes; the stream is still open; end it with a shorter reason"
        case .metadataTooLarge(let size, let limit):
            return
                "stream metadata encodes to \(size) bytes (the id, keys and values with their length fields), over the maximum of \(limit) bytes; no stream was created; keep large values elsewhere and store a reference"
        case .chunkConflict(let id, let index):
            return
                "chunk \(index) of stream \"\(id)\" already holds different bytes; a retry must resend the same chunk"
        case .indexGap(let id, let index, let next):
            return
                "cannot append chunk \(index) to stream \"\(id)\": the next index is \(next); resend from chunk \(next)"
        case .indexOutOfRange(let id, let index, let count):
            return "stream \"\(id)\" has \(count) chunks; index \(index) is out of range"
        case .streamFull(let id, let count):
            return "stream \"\(id)\" holds \(count) chunks, the most a stream can hold (chunk indices are 32-bit, "
                + "FORMAT.md §4); nothing was stored; finish it and continue in a new stream"
        case .locked(let path, let pid):
            let holder = pid.map { "process \($0)" } ?? "another process"
            return "\(path) is locked by \(holder), which has it open for writing; stop it or open read-only"
        case .notAJournal(let path, let reason):
            return "\(path) is not a StreamJournal file: \(reason); check the path"
        case .unsupportedVersion(let path, let found, let supported):
            return "\(path) uses format version \(found), this build reads up to \(supported); upgrade StreamJournal"
        case .corruption(let path, let offset, let detail):
            return "\(path) is damaged at byte offset \(offset): \(detail); run `journalctl-stream verify` and `repair`"
        case .io(let operation, let path, let errno):
            if errno.isOutOfRoom {
                return "\(operation) failed on \(path): \(errno); the file system (or a quota or file-size limit) "
                    + "has no room: free some space, then retry"
            }
            return "\(operation) failed on \(path): \(errno)"
        case .poisoned(let path, let cause):
            return "\(path) refuses writes after an earlier failure (\(cause)); close and reopen it to recover"
        case .readOnly(let path):
            return "\(path) is open read-only; open it for writing to change it"
        case .closed(let path):
            return "\(path) has been closed"
        case .busy(let path, let what):
            return "\(path) is busy: \(what); try again when it has finished"
        }
    }
}
