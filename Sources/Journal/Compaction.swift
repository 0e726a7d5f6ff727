/// Which finished streams compaction drops. Open streams are never dropped.
public struct RetentionPolicy: Sendable, Equatable {
    /// Drop completed streams this long after they finished; nil keeps them (default 7 days).
    public var completedMaxAge: Duration? = .seconds(7 * 86_400)
    /// Drop failed, cancelled and interrupted streams this long after they finished; nil
    /// keeps them (default 1 day: they are rarely resumed, and mostly interesting while fresh).
    public var unsuccessfulMaxAge: Duration? = .seconds(86_400)
    /// Keep the live records under this many bytes by dropping the oldest finished streams
    /// first (by the time they finished); nil for no cap (the default).
    public var maxTotalBytes: UInt64?
    /// Drop every finished stream, whatever its status, that finished before this wall-clock
    /// time (microseconds since the Unix epoch, as `StreamInfo.finishedAt`); nil for none (the
    /// default). A fixed cutoff for one-off compactions, where an age would move with the
    /// moment the compaction happens to start (`journalctl-stream compact --before`).
    public var finishedBefore: Int64?

    /// The defaults: completed streams 7 days, the others 1 day, no size cap.
    public init() {}

    /// Drops only what was explicitly deleted.
    public static let keepEverything: RetentionPolicy = {
        var policy = RetentionPolicy()
        policy.completedMaxAge = nil
        policy.unsuccessfulMaxAge = nil
        return policy
    }()
}

/// When the journal compacts by itself: a thread of its own looks every `checkInterval` and
/// compacts when both thresholds are passed; appends, syncs and snapshots go on meanwhile,
/// and `close` stops a running compaction at its next 64 MiB slice.
///
/// An automatic compaction also waits until the file system has room for the compacted file
/// and, beside it, for the journal to grow twice more: on a nearly full disk it would take
/// the space the writer's next growth needs (an explicit `compact` tries regardless).
public struct AutoCompaction: Sendable, Equatable {
    /// Compact once at least this many bytes of the log are dead (default 256 MiB)...
    public var minDeadBytes: UInt64 = 256 << 20
    /// ...and dead bytes are at least this fraction of the log (default 0.5).
    public var minDeadFraction: Double = 0.5
    /// How often to look (default 60 s).
    public var checkInterval: Duration = .seconds(60)

    /// The defaults.
    public init() {}
}

/// What a compaction did (or, for a dry run, would do).
public struct CompactionReport: Sendable, Equatable {
    /// True when nothing was written.
    public var dryRun = false
    /// Log bytes (records) before and after.
    public var logBytesBefore: UInt64 = 0
    /// Log bytes after. For a dry run, the records kept and the snapshot written after them:
    /// exact unless appends or deletions come before the compaction.
    public var logBytesAfter: UInt64 = 0
    /// File size before and after (the file is preallocated ahead of the log).
    public var fileBytesBefore: UInt64 = 0
    /// File size after; for a dry run, the size the new file would be preallocated to (the
    /// snapshot written into it may add a little).
    public var fileBytesAfter: UInt64 = 0
    /// Record bytes copied into the new file.
    public var bytesCopied: UInt64 = 0
    /// Streams dropped by the retention policy (deleted streams are not listed).
    public var streamsDropped: [StreamID] = []
    /// Deleted streams whose records were reclaimed (for a dry run: would be; counted by
    /// reading the log, as the copy does, since streams deleted before the journal was
    /// opened are in no snapshot).
    public var deletedStreamsReclaimed = 0
    /// Streams kept.
    public var streamsKept = 0
    /// Wall time of the whole compaction.
    public var durationNanoseconds: UInt64 = 0
    /// How long appends were held back: the final catch-up, sync and swap.
    public var pauseNanoseconds: UInt64 = 0
}

/// Where a running compaction is, for progress bars.
public struct CompactionProgress: Sendable, Equatable {
    /// The phases in order.
    public enum Phase: String, Sendable {
        /// Copying live records of the log as it was when compaction started.
        case copying
        /// Copying records appended meanwhile, appends still running.
        case catchingUp
        /// About to pause appends for the last records, the sync and the rename (reported
        /// before the pause; the final copy may go a little past `bytesTotal`).
        case swapping
    }

    /// The current phase.
    public var phase: Phase
    /// Log bytes read so far.
    public var bytesRead: UInt64
    /// Log bytes to read (grows during catch-up).
    public var bytesTotal: UInt64
}

extension Journal {
    /// Rewrites the journal without dead records: deleted streams, superseded snapshots, and
    /// finished streams `policy` (default: the journal's `JournalOptions.retention`) drops.
    /// Appends and readers keep running; appends wait only for the final swap. Stream ids
    /// and chunk indices never change, so SSE `Last-Event-ID`s stay valid. With `dryRun` it
    /// only reports what would be dropped. `progress` is called from this thread, never with
    /// the journal locked: it may call the journal (the swap's short pause of appends starts
    /// after its `.swapping` call returns).
    @discardableResult
    public func compact(
        policy: RetentionPolicy? = nil, dryRun: Bool = false,
        progress: (@Sendable (CompactionProgress) -> Void)? = nil
    ) throws(JournalError) -> CompactionReport {
        try engine.compact(
            policy: policy ?? engine.options.retention, dryRun: dryRun, now: Clock.wallMicroseconds(),
            progress: progress)
    }

    /// Bytes of the log no longer needed: deleted streams' records and superseded
    /// snapshots (not counting what retention would drop).
    public var deadBytes: UInt64 { engine.deadBytes }
}
