/// Where a reconnecting SSE client resumes, decided from its `Last-Event-ID` (FORMAT-free
/// policy; README "Resume semantics").
///
/// Event ids are chunk indices. A client that saw id *k* receives exactly *k*+1, *k*+2, …;
/// nothing is replayed twice and nothing is skipped. Ids that cannot be honoured get an
/// in-band `event: reset` instead of silence or a silent replay from zero.
public enum SSEResumePoint: Sendable, Equatable {
    /// Replay from this chunk index, then follow live.
    case from(Int)
    /// Send `event: reset` (with the earliest available index and the reason), then replay
    /// from `earliest`: the id was malformed, from the future, or names removed chunks.
    case reset(earliest: Int, reason: String)
    /// The client has every chunk and the stream has ended: answer 204, which tells a
    /// browser's EventSource to stop reconnecting.
    case alreadyEnded

    /// The resume point for a client presenting `lastEventID` (nil or empty on a first
    /// connection) to a stream described by `info`, whose chunks before `earliestAvailable`
    /// are gone; 0 when none were removed. The journal never removes part of a stream
    /// (compaction drops whole streams), so this is for a service that serves a trimmed
    /// copy of one; `journal-server` always passes 0.
    public static func decide(lastEventID: String?, info: StreamInfo, earliestAvailable: Int = 0) -> SSEResumePoint {
        guard let text = lastEventID, !text.isEmpty else { return .from(earliestAvailable) }
        guard case .value(let seen)? = DecimalNumber(text) else {
            return .reset(earliest: earliestAvailable, reason: "Last-Event-ID is not a chunk index")
        }
        return resume(at: seen + 1, info: info, earliestAvailable: earliestAvailable, asked: "Last-Event-ID \(seen)")
    }

    /// The resume point for a client asking for chunks from `index` on (`?from=`), with the
    /// same rules as `decide(lastEventID:info:earliestAvailable:)` for a client that saw
    /// `index - 1`; reset reasons name `from=` rather than an id the client never sent.
    public static func decide(from index: Int, info: StreamInfo, earliestAvailable: Int = 0) -> SSEResumePoint {
        resume(at: index, info: info, earliestAvailable: earliestAvailable, asked: "from=\(index)")
    }

    private static func resume(at next: Int, info: StreamInfo, earliestAvailable: Int, asked: String)
        -> SSEResumePoint
    {
        if next > info.chunkCount {
            let last =
                info.chunkCount == 0 ? "the stream has no chunks yet" : "the last chunk is \(info.chunkCount - 1)"
            return .reset(earliest: earliestAvailable, reason: "\(asked) is beyond the end (\(last))")
        }
        if next < earliestAvailable {
            return .reset(earliest: earliestAvailable, reason: "chunks before \(earliestAvailable) were removed")
        }
        if next == info.chunkCount && info.status.isFinished { return .alreadyEnded }
        return .from(next)
    }
}
