import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The single-writer engine behind `Journal`: owns the file, the mapping, the stream table
/// and every policy (growth, group commit, snapshots, recovery, poisoning).
///
/// Concurrency: one `Lock` guards all mutable state. Appends encode straight into the shared
/// mapping under the lock; `fdatasync` runs outside it so appenders keep going while a sync
/// is in flight (group commit). Readers copy what they need under the lock and then read the
/// mapping without it: bytes below `end` never change once written.
final class JournalEngine: @unchecked Sendable {
    /// The path as the caller gave it: `Journal.path`, and what errors name.
    let path: String
    /// `path` with its symbolic links resolved when the journal was opened: every operation
    /// on a name (opening, the compaction's temporary file, its rename and directory sync,
    /// leftovers, identity checks) uses this one. Renaming over a link replaced the link,
    /// and its target kept the old file, unlocked, for a second writer to open.
    let filePath: String
    let writable: Bool
    let options: JournalOptions
    private(set) var report: RecoveryReport

    let lock = Lock()
    // Everything below is guarded by `lock`. The hot fields are `@exclusivity(unchecked)`:
    // the lock already serialises every access, and the runtime's dynamic exclusivity
    // checks cost about a tenth of an append's instructions (callgrind).
    @exclusivity(unchecked) var fd: FileDescriptor
    @exclusivity(unchecked) var region: MappedRegion
    /// Allocated file size (writer) or last observed size (reader); never read past it.
    @exclusivity(unchecked) var fileSize: UInt64
    /// Where the next record goes; every byte below it is a valid record.
    @exclusivity(unchecked) var end: UInt64
    @exclusivity(unchecked) var table: StreamTable
    var header: FileHeader
    var headerSlot: Int
    /// Generation this writer stamps on records (reader: the highest one seen).
    @exclusivity(unchecked) var generation: UInt32
    var lastGeneration: UInt32
    /// Snapshots of this file's log a compaction skips if damaged (`LoadedState.damagedSnapshots`).
    var damagedSnapshots: [UInt64: UInt64]
    /// Records below this offset were not checked by this handle (`LoadedState.checkedFrom`).
    var checkedFrom: UInt64
    /// Set after a failed write or sync; every later write throws it.
    @exclusivity(unchecked) var failure: JournalError?
    @exclusivity(unchecked) var isClosed = false
    @exclusivity(unchecked) var syncedEnd: UInt64
    /// Set while a group-commit leader runs `fdatasync` (or is woken to run the next one).
    @exclusivity(unchecked) var syncInFlight = false
    /// Threads waiting for a sync in flight to finish, oldest first (non-empty only while
    /// `syncInFlight`).
    var syncQueue: [DurabilityTicket] = []
    @exclusivity(unchecked) var bytesSinceSnapshot: UInt64 = 0
    /// When a sync last moved the header's checkpoint (monotonic), 0 for never.
    var lastCheckpointNanoseconds: UInt64 = 0
    /// When the last sync started (monotonic), 0 for never.
    var lastSyncNanoseconds: UInt64 = 0
    /// Header writes so far, and how many of them a completed sync has covered. While one is
    /// not yet durable no checkpoint is written: that would overwrite the other slot, the
    /// last durable one, leaving both in flight in one sync.
    var headerWrites = 0
    var syncedHeaderWrites = 0
    /// The writer's mapping is faulted in up to here (`prefaultAhead`).
    @exclusivity(unchecked) var populatedEnd: UInt64 = 0
    /// Set when `end` came within half of `prefaultAhead` of `populatedEnd`.
    @exclusivity(unchecked) var prefaultRequested = false
    var stopMaintenance = false
    var maintenanceThread: pthread_t?
    var prefaultThread: pthread_t?
    var compactionThread: pthread_t?
    var statistics = EngineStatistics()
    @exclusivity(unchecked) var waiters = WaiterTable()
    /// The slot the last single-chunk append found (`StreamTable.slot(of:hint:)`).
    @exclusivity(unchecked) var lastSlot = 0
    /// Waiter ids, drawn without the lock.
    let waiterIDs = Atomic<UInt64>(1)
    /// Incremented by every compaction swap (and by a reader noticing one).
    @exclusivity(unchecked) var fileEpoch = 0
    /// The last swap: where the old log ended and where the new file's appends start.
    var lastSwap: (epoch: Int, oldEnd: UInt64, newStart: UInt64)?
    /// The streams the last swap's new file has no entry for (deleted, or dropped by
    /// retention), by number: a journal-wide follower still reading the old file's last
    /// records names them from here. Only the last swap's: a follower further behind resumes
    /// in the new file (FORMAT.md §9).
    var lastSwapNames: [UInt32: StreamID] = [:]
    var compacting = false
    /// Above zero while close or a compaction's swap waits for the sync in flight to end:
    /// new writes wait (`checkWritable`), or fail once closed. Under steady load each sync
    /// handed the next one to a queued appender, so that wait never ended: close and
    /// compaction hung for as long as producers ran. A count, as both may wait at once.
    var writePauses = 0
    /// Snapshots waiting to write their header: sync leaders write no checkpoint meanwhile,
    /// which would make the snapshot wait for one more sync, and under steady load again.
    var snapshotHeadersWaiting = 0
    /// Writers waiting in `waitWhileWritesPausedLocked` (tests check where a writer waits).
    var writersWaitingForPause = 0
    /// Device and inode of the open file, to notice (read-only) that compaction replaced it.
    var fileIdentity: FileIdentity?
    /// Async callers waiting for a sync to cover their records (`Journal.record`).
    var durabilityWaiters: [(target: UInt64, continuation: UnsafeContinuation<JournalError?, Never>)] = []
    var pollerRunning = false
    /// Why the poller's last look failed (a replacement file that does not load, a mapping
    /// that cannot grow); nil after a look that succeeded. While set, followers that have
    /// waited look themselves again, so the error reaches them instead of a silent wait.
    var pollFailure: JournalError?

    init(
        path: String, filePath: String, writable: Bool, options: JournalOptions, fd: FileDescriptor,
        region: MappedRegion, fileSize: UInt64, state: LoadedState
    ) {
        self.path = path
        self.filePath = filePath
        self.writable = writable
        self.options = options.inRange
        self.fd = fd
        self.region = region
        self.fileSize = fileSize
        self.end = state.end
        self.table = state.table
        self.header = state.header
        self.headerSlot = state.headerSlot
        self.generation = state.header.generation
        self.lastGeneration = state.lastGeneration
        self.damagedSnapshots = state.damagedSnapshots
        self.checkedFrom = state.checkedFrom
        self.syncedEnd = state.end
        self.report = state.report
        self.fileIdentity = try? fd.identity()
    }

    deinit {
        // `Journal.deinit` stops the maintenance thread (which holds the engine) first.
        if !isClosed {
            if writable { fd.unlock() }
            fd.close()
        }
    }

    /// How far ahead of the log end the maintenance thread faults in the writer's mapping.
    /// A first store to a page of a shared file mapping costs a page fault (a few µs on
    /// ext4, which also converts the preallocated extent); taking 2,048 of them in one
    /// `madvise` on another core keeps them off the appending thread.
    static let prefaultAhead: UInt64 = 8 << 20

    /// The log end as a durability target; lock held.
    var endPosition: LogPosition { LogPosition(offset: end, epoch: fileEpoch) }

    /// The I/O seam from the options (tests only).
    var interposer: (any IOInterposer)? { options.interposition?.interposer }

    /// Address space reserved ahead of the file, so appends rarely need a new mapping: at
    /// least `reserve` bytes (writers take it from `JournalOptions.mappingReserve`).
    static func mappingLength(for size: UInt64, reserve: UInt64 = 1 << 30) -> Int {
        let page: UInt64 = 2 << 20
        // Only a sparse or hostile file comes near 2^62 bytes; its mapping then fails with
        // ENOMEM, an error, where doubling it and rounding up overflowed (a trap).
        let limit = UInt64(Int.max) / page * page
        let wanted = max(reserve, size > limit / 2 ? limit : size * 2)
        return Int(min(limit, (wanted + page - 1) / page * page))
    }

    // MARK: Opening

    /// Opens (creating if allowed) the journal for writing and runs recovery.
    static func openForWriting(path: String, options: JournalOptions) throws(JournalError) -> JournalEngine {
        let started = Clock.monotonicNanoseconds()
        let filePath = FileSystem.resolvingLinks(path)
        let fd = try lockedDescriptor(path: path, filePath: filePath, options: options)
        removeLeftovers(path: filePath)
        var handedOff = false
        defer { if !handedOff { fd.close() } }
        let size = try regularFileSize(fd, path: path)
        if size == 0 { throw .notAJournal(path: path, reason: "the file is empty (0 bytes)") }
        let region = try io("mmap", path) { () throws(Errno) in
            try MappedRegion(
                fd: fd, length: mappingLength(for: size, reserve: options.mappingReserve), writable: true)
        }
        let state = try LoadedState.load(region.bytes(at: 0, count: Int(size)), path: path)
        let engine = JournalEngine(
            path: path, filePath: filePath, writable: true, options: options, fd: fd, region: region, fileSize: size,
            state: state)
        handedOff = true
        try engine.finishRecovery(started: started)
        return engine
    }

    /// Opens an existing journal without the writer lock. Of `options`, only the I/O seam
    /// applies (tests).
    static func openReadOnly(path: String, options: JournalOptions = JournalOptions()) throws(JournalError)
        -> JournalEngine
    {
        let started = Clock.monotonicNanoseconds()
        // Resolved like a writer's path, so that both look at the file the writer compacts.
        let filePath = FileSystem.resolvingLinks(path)
        let fd = try io("open", path) { () throws(Errno) in try FileDescriptor.open(filePath, .readOnly) }
        var handedOff = false
        defer { if !handedOff { fd.close() } }
        let size = try regularFileSize(fd, path: path)
        if size == 0 { throw .notAJournal(path: path, reason: "the file is empty (0 bytes)") }
        let region = try io("mmap", path) { () throws(Errno) in
            try MappedRegion(fd: fd, length: mappingLength(for: size), writable: false)
        }
        var state = try LoadedState.load(region.bytes(at: 0, count: Int(size)), path: path)
        state.report.durationNanoseconds = Clock.monotonicNanoseconds() - started
        let engine = JournalEngine(
            path: path, filePath: filePath, writable: false, options: options, fd: fd, region: region,
            fileSize: size, state: state)
        handedOff = true
        return engine
    }

    /// The size of the file open as `fd`, which must be a regular file: a directory or a
    /// device is not a journal, and `mmap` would only say "No such device".
    static func regularFileSize(_ fd: FileDescriptor, path: String) throws(JournalError) -> UInt64 {
        do {
            return try fd.regularFileSize()
        } catch {
            throw notARegularFile(path: path, errno: error) ?? .io(operation: "fstat", path: path, errno: error)
        }
    }

    /// The `notAJournal` error for a path that names a directory or another non-regular
    /// file, given the errno an open or `regularFileSize` failed with; nil for other errors.
    static func notARegularFile(path: String, errno: Errno) -> JournalError? {
        switch errno.rawValue {
        case EISDIR:
            return .notAJournal(
                path: path, reason: "it is a directory; name the journal file itself (for example \(path)/journal.sj)")
        case ENODEV: return .notAJournal(path: path, reason: "it is not a regular file")
        default: return nil
        }
    }

    /// Opens `filePath` (`path` resolved) read-write and takes the writer lock, creating the
    /// file first if needed. Errors name `path`.
    private static func lockedDescriptor(
        path: String, filePath: String, options: JournalOptions
    ) throws(JournalError) -> FileDescriptor {
        while true {
            let fd: FileDescriptor
            do {
                fd = try FileDescriptor.open(filePath, .readWrite, interposer: options.interposition?.interposer)
            } catch {
                guard error == .noEntry, options.createIfMissing else {
                    throw notARegularFile(path: path, errno: error) ?? .io(operation: "open", path: path, errno: error)
                }
                try createJournalFile(at: filePath, named: path, interposer: options.interposition?.interposer)
                continue
            }
            let locked: Bool
            do { locked = try fd.tryLockExclusive() } catch {
                fd.close()
                throw .io(operation: "flock", path: path, errno: error)
            }
            if !locked {
                let pid = headerPID(fd)
                fd.close()
                throw .locked(path: path, pid: pid)
            }
            // The path may have been replaced (compaction) between open and flock: the lock
            // must be on the file the path names now.
            let mine = try? fd.identity()
            let current = try? FileSystem.identity(of: filePath)
            if mine != nil && mine == current { return fd }
            fd.close()
        }
    }

    /// The last writer's PID from the newest valid header, for the `locked` error; nil when
    /// that process is gone, since then the lock is someone else's (a tool holding it, say),
    /// and naming the last writer sent people after a process that no longer existed.
    static func headerPID(_ fd: FileDescriptor) -> Int32? {
        var bytes = [UInt8](repeating: 0, count: Layout.headerSlotSize * Layout.headerSlotCount)
        let count = bytes.withUnsafeMutableBytes { (try? fd.read(into: $0, at: 0)) ?? 0 }
        return bytes.withUnsafeBytes { raw in
            let view = UnsafeRawBufferPointer(rebasing: raw[0..<count])
            guard let picked = try? LoadedState.pickHeader(view, path: ""), picked.header.writerPID != 0 else {
                return nil
            }
            let pid = Int32(bitPattern: picked.header.writerPID)
            return processIsGone(pid) ? nil : pid
        }
    }

    /// Writes a new, empty journal beside `filePath` and links it into place, so no reader
    /// ever sees a half-written header under the real name. Errors name `path`, the name the
    /// caller gave (the same but for symbolic links).
    static func createJournalFile(
        at filePath: String, named path: String, interposer: (any IOInterposer)?
    ) throws(JournalError) {
        let temporary = creationTemporaryPrefix(for: filePath) + "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        // Errors name the journal's path: the temporary name is an implementation detail,
        // and "No such file or directory" for it means the directory is missing.
        let fd = try io("create", path) { () throws(Errno) in
            try FileDescriptor.createExclusive(temporary, interposer: interposer)
        }
        var linked = false
        defer {
            fd.close()
            if !linked { try? FileSystem.unlink(temporary, interposer: interposer) }
        }
        let now = Clock.wallMicroseconds()
        var header = FileHeader(
            journalID: (0..<16).map { _ in UInt8.random(in: 0...255) }, sequence: 1, generation: 0, writerPID: 0,
            createdAt: now, updatedAt: now, checkpointEnd: Layout.logStart, snapshotOffset: 0, snapshotLength: 0)
        try io("write header", temporary) { () throws(Errno) in
            for slot in 0..<Layout.headerSlotCount {
                header.sequence = UInt64(slot + 1)
                try header.encoded().withBytes { (raw) throws(Errno) in
                    try fd.write(raw, at: UInt64(slot * Layout.headerSlotSize))
                }
            }
            try fd.allocate(offset: Layout.logStart, length: initialLogCapacity)
            try fd.sync()
        }
        do {
            try FileSystem.link(temporary, filePath, interposer: interposer)
        } catch {
            // Another process created it first: use theirs.
            if error == .exists { return }
            throw .io(operation: "link", path: path, errno: error)
        }
        linked = true
        Failpoint.hit("create-after-link")
        // Removed before the directory sync, so that one sync makes both names durable: once
        // it returns, no power loss can bring the temporary name back as a second link.
        try? FileSystem.unlink(temporary, interposer: interposer)
        try io("fsync directory", path) { () throws(Errno) in
            try FileSystem.syncDirectory(containing: filePath, interposer: interposer)
        }
    }

    static let initialLogCapacity: UInt64 = 1 << 20

    /// `PATH.creating-`, followed by the creator's PID, a dash and a random number.
    static func creationTemporaryPrefix(for path: String) -> String { path + ".creating-" }

    /// The writer's half of recovery: make the recovered prefix durable, clear the torn tail,
    /// take a new generation, then deal with streams the previous writer left open.
    private func finishRecovery(started: UInt64) throws(JournalError) {
        try io("fdatasync") { () throws(Errno) in try fd.dataSync() }
        if end < fileSize {
            // Bytes after the valid end are a torn tail or preallocated zeros; zeroing them
            // means no later scan can mistake leftovers for records.
            try io("zero the tail") { () throws(Errno) in try fd.zeroRange(offset: end, length: fileSize - end) }
        }
        generation = header.generation &+ 1
        if generation == 0 { throw .corruption(path: path, offset: 0, detail: "writer generation overflowed") }
        header.generation = generation
        header.writerPID = UInt32(bitPattern: getpid())
        header.checkpointEnd = end
        try writeHeader()
        try io("fdatasync") { () throws(Errno) in try fd.sync() }
        syncedEnd = end
        syncedHeaderWrites = headerWrites

        let now = Clock.wallMicroseconds()
        var interrupted: [StreamID] = []
        var kept: [StreamID] = []
        for slot in 0..<table.count where table[slot].status == .open && !table[slot].isDeleted {
            let entry = table[slot]
            switch options.openStreams {
            case .interrupt:
                interrupted.append(entry.id)
            case .keepOpen(let staleAfter):
                // A cutoff, not an age: `updatedAt` comes from the file and may be anything.
                if entry.updatedAt <= now.saturatingSubtracting(staleAfter.microseconds) {
                    interrupted.append(entry.id)
                } else {
                    kept.append(entry.id)
                }
            }
        }
        let reason: String
        if case .keepOpen(let staleAfter) = options.openStreams {
            reason = InterruptReason.stale(staleAfter)
        } else {
            reason = InterruptReason.recovery
        }
        for id in interrupted {
            try finish(id, status: .interrupted, reason: reason, durable: false)
        }
        if !interrupted.isEmpty { try makeDurable(upTo: endPosition) }
        report.interruptedStreams = interrupted
        report.streamsKeptOpen = kept
        // A long tail means the last writer died long after its last snapshot; snapshot now
        // so the next open does not scan it again.
        if report.logEnd - (report.snapshotOffset ?? Layout.logStart) > UInt64(options.snapshotInterval / 2) {
            try writeSnapshot(optional: true)
        }
        report.durationNanoseconds = Clock.monotonicNanoseconds() - started
        try startMaintenanceThread()
    }

    /// Writes `header` (with a new sequence number) to the slot not in use; the caller syncs.
    func writeHeader() throws(JournalError) {
        // A real file never gets near this; a damaged or hostile one may, and compaction adds
        // up to `headerSlotCount` more.
        guard header.sequence < UInt64.max - UInt64(2 * Layout.headerSlotCount) else {
            // Poisoned like a failed write: a handle that can write no header can make no
            // checkpoint, and its syncs would fail while its appends went on.
            throw poison(
                .corruption(
                    path: path, offset: UInt64(headerSlot * Layout.headerSlotSize),
                    detail: "header sequence number \(header.sequence) cannot be increased"))
        }
        header.sequence += 1
        header.updatedAt = Clock.wallMicroseconds()
        let slot = 1 - headerSlot
        let bytes = header.encoded()
        do {
            try bytes.withBytes { (raw) throws(Errno) in
                try fd.write(raw, at: UInt64(slot * Layout.headerSlotSize))
            }
        } catch {
            throw poison(.io(operation: "write header slot \(slotName(slot))", path: path, errno: error))
        }
        headerSlot = slot
        headerWrites += 1
    }

    // MARK: Closing

    /// Stops background work, writes a final snapshot and header, syncs, and releases the file.
    func close() throws(JournalError) {
        stopMaintenanceThread()
        var firstError: JournalError?
        if writable {
            let healthy = lock.withLock { !isClosed && failure == nil }
            if healthy {
                do { try writeSnapshot(optional: true) } catch { firstError = error }
            }
        }
        lock.withLock {
            writePauses += 1
            while syncInFlight { lock.wait() }
            // What the snapshot's sync did not cover, with writes paused so that nothing
            // follows it: records appended since that sync, or everything when the snapshot
            // was skipped (a table too large for one). The maintenance thread that would
            // sync them has stopped.
            if writable && !isClosed && failure == nil && end > syncedEnd {
                syncInFlight = true
                do throws(JournalError) { try leadSyncLocked() } catch { firstError = firstError ?? error }
            }
            writePauses -= 1
            lock.broadcast()
            if !isClosed {
                isClosed = true
                if writable { fd.unlock() }
                fd.close()
                waiters.wakeAll()
                for waiter in durabilityWaiters { waiter.continuation.resume(returning: .closed(path: path)) }
                durabilityWaiters.removeAll()
                lock.broadcast()
            }
        }
        if let firstError { throw firstError }
    }

    // MARK: Helpers

    /// Records `error` as the reason this handle refuses writes, and returns it.
    func poison(_ error: JournalError) -> JournalError {
        if failure == nil {
            // Without the "retry" hint an out-of-room error carries: this handle is done.
            let cause =
                if case .io(let operation, let path, let errno) = error {
                    "\(operation) failed on \(path): \(errno)"
                } else {
                    error.description
                }
            failure = .poisoned(path: path, cause: cause)
            // Async waiters are otherwise resumed only by a sync, and the maintenance thread
            // runs none on a failed handle: a failed `fallocate` left them suspended until
            // close. A sync in flight resumes them itself when it ends.
            if !syncInFlight { resumeDurabilityWaitersLocked() }
            lock.broadcast()
        }
        return error
    }

    /// Runs a system call, turning `Errno` into `JournalError.io` for this journal's path.
    func io<T>(_ operation: String, _ body: () throws(Errno) -> T) throws(JournalError) -> T {
        try JournalEngine.io(operation, path, body)
    }

    static func io<T>(_ operation: String, _ path: String, _ body: () throws(Errno) -> T) throws(JournalError) -> T {
        do { return try body() } catch { throw .io(operation: operation, path: path, errno: error) }
    }
}

/// Reasons written into interrupted records.
enum InterruptReason {
    static let recovery = "the writer ended without finishing this stream (interrupted by recovery)"
    static func stale(_ duration: Duration) -> String {
        "no append for \(duration.microseconds / 1_000_000) s (stale; interrupted)"
    }
}

/// Counters for benchmarks and `/metrics`.
struct EngineStatistics: Sendable {
    var syncs = 0
    var syncNanoseconds: UInt64 = 0
    var snapshots = 0
    /// Snapshots not written because the table encoded to more than a record can hold.
    var snapshotsSkipped = 0
    var compactions = 0
    /// Automatic compactions put off because the file system lacked room (`hasRoom(toCompact:)`).
    var compactionsDeferredForSpace = 0
    /// Growths of the file refused for want of room (the appends failed; the handle did not).
    var growthsRefused = 0
    var lastCompactionPauseNanoseconds: UInt64 = 0
    /// Read-only handles: looks for other processes' records (each a stat(2) of the path),
    /// those made by the poller, and waiters examined for a wake. Tests check that followers
    /// leave the looking to the poller and that a new record costs one pass over the waiters.
    var lookups = 0
    var pollerLookups = 0
    /// Read-only handles: poller threads started.
    var pollerStarts = 0
    var waiterChecks = 0
}

extension Duration {
    /// Whole microseconds, clamped to `Int64`'s range (a retention of `.seconds(.max)` means
    /// "forever", not a trap).
    var microseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return whole.saturatingAdding(attoseconds / 1_000_000_000_000)
    }
}

extension Int64 {
    /// `self + other`, clamped to the representable range.
    func saturatingAdding(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other < 0 ? .min : .max) : sum
    }

    /// `self - other`, clamped to the representable range. Timestamps read from a file may be
    /// anything, so ages and cutoffs computed from them use this rather than `-`.
    func saturatingSubtracting(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other < 0 ? .max : .min) : difference
    }
}

extension JournalEngine {
    /// Drops the file as a killed process would: no snapshot, no header, no sync. For tests
    /// that need a crashed journal without a child process.
    func abandonForTesting() {
        stopMaintenanceThread()
        lock.withLock {
            while syncInFlight { lock.wait() }
            if !isClosed {
                isClosed = true
                if writable { fd.unlock() }
                fd.close()
            }
        }
    }
}
