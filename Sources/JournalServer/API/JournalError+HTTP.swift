import Glibc
import Journal

extension JournalError {
    /// The HTTP status for this error: the client's fault (4xx) when its request named
    /// something missing, conflicting or too large; 503 when the journal cannot take writes
    /// now; 507 for a full disk; 500 for damage.
    var httpStatus: Int {
        // By code rather than by case: the library grows cases (compaction) and an unknown
        // one is a server-side 500 until it is mapped here.
        switch code {
        case "unknown_stream": return 404
        case "stream_finished", "duplicate_stream", "chunk_conflict", "index_gap", "stream_full": return 409
        case "invalid_stream_id", "index_out_of_range": return 400
        case "chunk_too_large", "metadata_too_large", "reason_too_large": return 413
        case "locked", "poisoned", "read_only", "closed", "busy": return 503
        case "io":
            // EFBIG too: a file-size limit (systemd's LimitFSIZE) is the same "no room".
            if case .io(_, _, let errno) = self, errno.isOutOfRoom { return 507 }
            return 500
        default: return 500
        }
    }

    /// The JSON error response: `error` (the description), `code`, and the fields a client
    /// needs to act (`next` for an index gap, `status` for a finished stream, ...).
    var response: HTTPResponse {
        .error(httpStatus, code: code, message: description) { json in
            switch self {
            case .indexGap(_, let index, let next):
                json.key("index")
                json.int(index)
                json.key("next")
                json.int(next)
            case .chunkConflict(_, let index):
                json.key("index")
                json.int(index)
            case .streamFinished(_, let status):
                json.key("status")
                json.string(status.rawValue)
            case .chunkTooLarge(let size, let limit), .reasonTooLarge(let size, let limit):
                json.key("size")
                json.int(size)
                json.key("limit")
                json.int(limit)
            case .indexOutOfRange(_, let index, let count):
                json.key("index")
                json.int(index)
                json.key("count")
                json.int(count)
            default:
                break
            }
        }
    }
}
