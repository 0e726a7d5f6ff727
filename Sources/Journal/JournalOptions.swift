/// How durable an acknowledged append is. Every policy survives a crash of the process:
/// appends land in the kernel's page cache through the shared mapping before they return.
/// They differ in what survives losing power or the kernel.
public enum Durability: Sendable, Equatable {
    /// No explicit sync: the kernel writes pages back on its own schedule (about 30 s on
    /// Linux by default). A power loss may lose any append since the last snapshot.
    case none
    /// A background thread calls `fdatasync` at this interval (at least 1 ms) when anything
    /// changed. A power loss loses at most about one interval of acknowledged appends.
    case interval(Duration)
    /// Every append, create and finish returns only after an `fdatasync` covering it.
    /// Concurrent callers share one `fdatasync` (group commit). Nothing acknowledged is lost.
    case everyAcknowledgement
}

/// What opening a journal does with streams a previous writer left open.
public enum OpenStreamPolicy: Sendable, Equatable {
    /// End them as interrupted at once: their producers lived in the process that died.
    case interrupt
    /// Keep them open for producers that live elsewhere and come back (HTTP clients of a
    /// server); end a stream as interrupted once it has had no append for `staleAfter`,
    /// checked at open and while the journal runs. A `staleAfter` of zero or less makes
    /// every open stream stale at the next check (within a second), new ones included.
    case keepOpen(staleAfter: Duration)
}

/// Settings chosen when opening a journal for writing.
public struct JournalOptions: Sendable, Equatable {
    /// Sync policy; the default bounds loss on power failure to about 100 ms.
    public var durability: Durability = .interval(.milliseconds(100))
    /// What to do with streams left open by a previous writer.
    public var openStreams: OpenStreamPolicy = .interrupt
    /// Largest chunk accepted, in bytes (default 1 MiB; at most 1 GiB, the format's limit on
    /// a record body, FORMAT.md §4: a larger value counts as 1 GiB). Larger chunks fail with
    /// `chunkTooLarge`; nothing is ever skipped silently.
    public var maxChunkSize: Int = 1 << 20
    /// Write an index snapshot after this many bytes of records (default 64 MiB), so that
    /// opening reads at most this much log after the latest snapshot. Values below 1 count
    /// as 1 (a snapshot after every record).
    public var snapshotInterval: Int = 64 << 20
    /// Create the file when it does not exist (default true).
    public var createIfMissing = true
    /// Which finished streams compaction drops.
    public var retention = RetentionPolicy()
    /// When to compact without being asked; nil turns automatic compaction off.
    public var autoCompaction: AutoCompaction? = AutoCompaction()
    /// The I/O seam: sees (and may fail) every file operation. Tests only.
    var interposition: Interposition?
    /// How often, at most, a sync moves the header's checkpoint (FORMAT.md §10). Tests that
    /// count file operations set 0 (every sync) and turn `idleCheckpointSync` off, so that
    /// the operations a workload makes do not depend on timing.
    var checkpointInterval: Duration = .milliseconds(100)
    /// Whether the maintenance thread syncs after a second without a sync when the
    /// checkpoint lags.
    var idleCheckpointSync = true
    /// The least length of a writer's mapping (it maps twice the file when that is more).
    /// Tests set a few MiB so that appends cross the end of a mapping, which otherwise takes
    /// a 1 GiB file.
    var mappingReserve: UInt64 = 1 << 30
    /// The largest snapshot body written (the format's record limit); tests set less, as a
    /// table that encodes to over 1 GiB takes millions of streams.
    var snapshotBodyLimit = Layout.maxBodyLength
    /// How much of the log compaction copies between two progress reports. Tests set a few
    /// KiB, so that a small journal takes several slices.
    var compactionSlice: UInt64 = 64 << 20

    /// The defaults.
    public init() {}

    /// These options with every value the format and the engine can honour: a `maxChunkSize`
    /// above the format's limit let an append write a record that every later open rejects
    /// as damage, and a `snapshotInterval` of 0 made the maintenance thread write snapshots
    /// without end (a negative one trapped).
    var inRange: JournalOptions {
        var options = self
        options.maxChunkSize = min(max(maxChunkSize, 0), Layout.maxBodyLength)
        options.snapshotInterval = max(snapshotInterval, 1)
        options.compactionSlice = max(compactionSlice, 1)
        return options
    }

    /// Defaults with the given durability and open-stream policy.
    public init(durability: Durability, openStreams: OpenStreamPolicy = .interrupt) {
        self.durability = durability
        self.openStreams = openStreams
    }
}

/// What opening the journal found and did (also printed by `journalctl-stream info`).
public struct RecoveryReport: Sendable, Equatable {
    /// Header slot in use (0 = A, 1 = B).
    public var headerSlot: Int = 0
    /// Damaged header slots and why; the other slot was used.
    public var damagedHeaderSlots: [String] = []
    /// Offset of the snapshot the index was loaded from, nil when the log was scanned from
    /// the start.
    public var snapshotOffset: UInt64?
    /// Snapshots that were unusable and why (the open fell back to an older one or a scan).
    public var snapshotProblems: [String] = []
    /// Records read after the snapshot.
    public var recordsScanned: Int = 0
    /// End of the valid log: the offset where the next record goes.
    public var logEnd: UInt64 = Layout.logStart
    /// Offset of a torn or invalid tail after the last durable point, dropped quietly;
    /// nil when the log ended cleanly.
    public var tornTailOffset: UInt64?
    /// Why the tail was dropped (the rule its first record broke).
    public var tornTailReason: String?
    /// Streams ended as interrupted by this open.
    public var interruptedStreams: [StreamID] = []
    /// Streams left open under `OpenStreamPolicy.keepOpen`.
    public var streamsKeptOpen: [StreamID] = []
    /// Wall time the open took, in nanoseconds.
    public var durationNanoseconds: UInt64 = 0
}
