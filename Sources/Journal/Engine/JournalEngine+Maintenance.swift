#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The writer's background threads: one for interval syncs, stale-stream checks and
/// snapshots, one that faults in the mapping ahead of the writer, and one for automatic
/// compaction when it is on.
///
/// A plain pthread rather than a task: it blocks in `fdatasync`, which must stay off Swift's
/// cooperative pool.
extension JournalEngine {
    /// Starts the threads, or none: a thread that cannot start (EAGAIN under a process or
    /// container thread limit) fails the open. A handle without its maintenance thread made
    /// no interval sync, snapshot or stale check, and durable async appends waited for a sync
    /// that nobody led.
    func startMaintenanceThread() throws(JournalError) {
        do throws(JournalError) {
            // The threads keep the engine alive until told to stop (`close`, `Journal.deinit`).
            let maintenance = try startThread("maintenance") { self.maintenanceLoop() }
            lock.withLock { maintenanceThread = maintenance }
            // Prefaulting has a thread of its own: on the maintenance thread it stopped for as
            // long as a snapshot's fdatasync of up to 64 MiB took, and the writer ran past the
            // faulted-in window into its own page faults (single-core no-sync append,
            // `journal-bench`: 4.14 M chunks/s before, 4.77 M after).
            let prefault = try startThread("prefault") { self.prefaultLoop() }
            lock.withLock { prefaultThread = prefault }
            // Compaction too: on the maintenance thread, a compaction's whole copy held up the
            // syncs that thread runs (durable appends waited seconds, `Durability.interval`
            // made no sync at all meanwhile) and its snapshots.
            if options.autoCompaction != nil {
                let compaction = try startThread("compaction") { self.compactionLoop() }
                lock.withLock { compactionThread = compaction }
            }
        } catch {
            stopMaintenanceThread()
            throw error
        }
    }

    private func startThread(_ name: String, _ body: @escaping () -> Void) throws(JournalError) -> pthread_t {
        try io("pthread_create (the \(name) thread)") { () throws(Errno) in
            try interposer.around(.startThread(name: name), descriptor: -1) { () throws(Errno) in
                try startBackgroundThread(body)
            }
        }
    }

    func stopMaintenanceThread() {
        let threads: [pthread_t] = lock.withLock {
            stopMaintenance = true
            lock.broadcast()
            let threads = [maintenanceThread, prefaultThread, compactionThread].compactMap { $0 }
            maintenanceThread = nil
            prefaultThread = nil
            compactionThread = nil
            return threads
        }
        for thread in threads { pthread_join(thread, nil) }
    }

    /// How often the loop looks at open streams under `keepOpen`.
    private var staleCheckNanoseconds: UInt64? {
        guard case .keepOpen(let staleAfter) = options.openStreams else { return nil }
        // Capped in microseconds before scaling, so an enormous stale time cannot overflow.
        let quarter = min(UInt64(max(staleAfter.microseconds, 4)) / 4, 1_000_000) * 1000
        return min(max(quarter, 1_000_000), 1_000_000_000)
    }

    private var autoCompactionNanoseconds: UInt64? {
        options.autoCompaction.map { Self.intervalNanoseconds($0.checkInterval, atLeastMicroseconds: 1000) }
    }

    /// An interval in nanoseconds, at least `floor` microseconds and at most 2⁵² µs (about
    /// 142 years), so that the deadline `now + interval` cannot overflow: `.seconds(.max)`,
    /// an embedder's way of saying "never", trapped the maintenance thread.
    static func intervalNanoseconds(_ duration: Duration, atLeastMicroseconds floor: Int64) -> UInt64 {
        UInt64(min(max(duration.microseconds, floor), 1 << 52)) * 1000
    }

    /// Compacts when dead bytes (deleted streams, old snapshots, and what retention drops)
    /// pass both thresholds of `JournalOptions.autoCompaction`.
    func compactIfWorthIt() {
        guard let auto = options.autoCompaction else { return }
        let now = Clock.wallMicroseconds()
        // One look at the table under the lock serves both questions.
        let (log, kept, snapshot, fileBytes, growth) = lock.withLock {
            (end - Layout.logStart, keptRecordBytesLocked(now: now), header.snapshotLength, fileSize, growthStep)
        }
        guard Self.worthIt(auto, log: log, live: kept + snapshot) else { return }
        guard hasRoom(toCompact: kept, fileBytes: fileBytes, growth: growth) else {
            lock.withLock { statistics.compactionsDeferredForSpace += 1 }
            return
        }
        // Failures poison the handle or are transient (busy); the next check tries again.
        _ = try? compact(policy: options.retention, dryRun: false, now: now, progress: nil)
    }

    /// Whether the file system has room for the compacted file and, beside it, for one
    /// growth of the writer's file. A compaction allocates its new file up front and holds it
    /// for the whole copy; on a nearly full disk that space was the writer's, whose next
    /// growth then failed with ENOSPC (which poisoned the handle until 1.15 of FORMAT.md),
    /// for a compaction nobody asked for. An automatic compaction waits for the room instead (an explicit `compact` tries).
    /// One growth, not more: a compaction that would free space must not wait until the
    /// writer has used it up. When the file system cannot say, it proceeds as before.
    private func hasRoom(toCompact kept: UInt64, fileBytes: UInt64, growth: UInt64) -> Bool {
        let needed = Self.compactedFileSize(logBytes: kept, fileBytesBefore: fileBytes) + growth
        // By name, outside the lock: a statfs can block on a network file system, and the
        // descriptor is replaced by a compaction's swap.
        guard let available = TestHooks.availableBytes(path: path) ?? FileSystem.availableBytes(at: filePath) else {
            return true
        }
        return available >= needed
    }

    /// Whether dead bytes pass both thresholds of `auto`. The current snapshot counts as
    /// live, as in `deadBytes`: a compaction writes one again, so counting it dead made
    /// thresholds at or below a snapshot's size compact an idle journal over and over (and
    /// thresholds of zero, back to back on a full core). Nothing dead is never worth it.
    func compactionWorthIt(_ auto: AutoCompaction, now: Int64) -> Bool {
        lock.withLock {
            Self.worthIt(
                auto, log: end - Layout.logStart, live: keptRecordBytesLocked(now: now) + header.snapshotLength)
        }
    }

    private static func worthIt(_ auto: AutoCompaction, log: UInt64, live: UInt64) -> Bool {
        let dead = log > live ? log - live : 0
        return dead > 0 && dead >= auto.minDeadBytes && Double(dead) >= auto.minDeadFraction * Double(max(log, 1))
    }

    /// Record bytes of the streams the retention policy keeps at `now`; lock held.
    private func keptRecordBytesLocked(now: Int64) -> UInt64 {
        let (keep, _) = planRetention(options.retention, now: now)
        return table.live.filter { keep.contains($0.number) }.reduce(0) { $0 + $1.recordBytes }
    }

    /// The sync interval of `Durability.interval`, at least a millisecond: shorter ones
    /// (zero, negative, a microsecond) woke this thread nearly without pause on an idle
    /// journal, about a third of a core.
    var syncIntervalNanoseconds: UInt64? {
        guard case .interval(let interval) = options.durability else { return nil }
        return Self.intervalNanoseconds(interval, atLeastMicroseconds: 1000)
    }

    private func maintenanceLoop() {
        let now = Clock.monotonicNanoseconds()
        var nextSync = syncIntervalNanoseconds.map { now + $0 }
        var nextStaleCheck = staleCheckNanoseconds.map { now + $0 }
        // After a snapshot that failed without poisoning the handle (no room to grow the
        // file): the next try waits a second, or this loop spun on a full core meanwhile.
        var snapshotRetryAt: UInt64?
        lock.lock()
        while !stopMaintenance {
            let current = Clock.monotonicNanoseconds()
            // A second after the last sync, if the checkpoint still trails what it covered
            // (appends stopped, or `Durability.none`): one more sync carries it to disk. A
            // sync in flight moves it itself, and wakes this loop when it ends.
            let idleCheckpointAt =
                options.idleCheckpointSync && !syncInFlight && checkpointDue
                ? lastSyncNanoseconds + 1_000_000_000 : nil
            let snapshotWanted = bytesSinceSnapshot >= UInt64(options.snapshotInterval)
            let snapshotDue = snapshotWanted && (snapshotRetryAt.map { $0 <= current } ?? true)
            let deadline = [
                nextSync, nextStaleCheck, idleCheckpointAt, snapshotWanted ? snapshotRetryAt : nil,
                current + 1_000_000_000,
            ].compactMap { $0 }.min()!
            let asyncSyncDue = !durabilityWaiters.isEmpty
            if !snapshotDue && !asyncSyncDue && deadline > current {
                lock.wait(nanoseconds: deadline - current)
                continue
            }
            let syncDue = nextSync.map { $0 <= current } ?? false
            let staleDue = nextStaleCheck.map { $0 <= current } ?? false
            let dirty = end > syncedEnd
            let healthy = failure == nil && !isClosed
            // Never while syncs are coming anyway, so a busy journal makes no extra sync and
            // every sync failure reaches a caller waiting on it.
            let checkpointSyncDue =
                (idleCheckpointAt.map { $0 <= current } ?? false) && !(syncDue && dirty) && !asyncSyncDue
            lock.unlock()
            if healthy {
                // Errors poison the handle, and the next caller sees them, or they are a full
                // disk, which the next append meets itself: nothing is lost here.
                if snapshotDue {
                    do throws(JournalError) {
                        try writeSnapshot()
                        snapshotRetryAt = nil
                    } catch {
                        snapshotRetryAt = Clock.monotonicNanoseconds() + 1_000_000_000
                    }
                }
                if (syncDue && dirty) || asyncSyncDue { try? sync() }
                if checkpointSyncDue { try? syncCheckpoint() }
                if staleDue { interruptStaleStreams() }
            }
            lock.lock()
            let after = Clock.monotonicNanoseconds()
            if syncDue, let interval = syncIntervalNanoseconds { nextSync = after + interval }
            if staleDue, let interval = staleCheckNanoseconds { nextStaleCheck = after + interval }
            if !healthy {
                // Nothing more to do, but stay joinable until `stopMaintenanceThread` (see
                // `prefaultLoop`).
                while !stopMaintenance { lock.wait() }
                break
            }
        }
        lock.unlock()
    }

    /// Checks every `AutoCompaction.checkInterval` whether compacting is worth it, and
    /// compacts, until the journal stops (a compaction running then stops at its next slice).
    private func compactionLoop() {
        guard let interval = autoCompactionNanoseconds else { return }
        lock.lock()
        var next = Clock.monotonicNanoseconds() + interval
        while !stopMaintenance {
            let now = Clock.monotonicNanoseconds()
            if now < next {
                lock.wait(nanoseconds: next - now)
                continue
            }
            let healthy = failure == nil && !isClosed
            lock.unlock()
            if healthy { compactIfWorthIt() }
            lock.lock()
            next = Clock.monotonicNanoseconds() + interval
        }
        lock.unlock()
    }

    /// Serves the writer's prefault requests until the journal stops. It does not return
    /// early on a failure: `stopMaintenanceThread` joins it, and a process that exits without
    /// closing should leave no finished, unjoined thread behind (TSan reports those).
    private func prefaultLoop() {
        lock.lock()
        while !stopMaintenance {
            // Requests and the stop both broadcast under the lock, so an untimed wait misses
            // neither.
            if prefaultRequested { prefaultLocked() } else { lock.wait() }
        }
        lock.unlock()
    }

    /// Faults in the writer's mapping from `populatedEnd` to `prefaultAhead` past the log end
    /// (within the allocated file), with the lock released meanwhile; lock held.
    private func prefaultLocked() {
        let from = max(populatedEnd, end)
        let to = min(fileSize, end + JournalEngine.prefaultAhead)
        let mapping = region
        if to > from {
            lock.unlock()
            mapping.populateForWriting(offset: from, count: Int(to - from))
            lock.lock()
        }
        // A compaction swap meanwhile leaves a new mapping: fault it in from its own end.
        populatedEnd = mapping === region ? max(populatedEnd, to) : end
        prefaultRequested = false
    }

    /// Ends as interrupted every open stream with no append for the stale time.
    func interruptStaleStreams() {
        guard case .keepOpen(let staleAfter) = options.openStreams else { return }
        let cutoff = Clock.wallMicroseconds().saturatingSubtracting(staleAfter.microseconds)
        let stale: [StreamID] = lock.withLock {
            table.live.filter { $0.status == .open && $0.updatedAt <= cutoff }.map(\.id)
        }
        for id in stale {
            // The stream may have been appended to or finished since the look: re-check
            // under the lock inside `finishIfStale`.
            do throws(JournalError) {
                try finishIfStale(id, cutoff: cutoff, reason: InterruptReason.stale(staleAfter))
            } catch .io(_, _, let errno) where errno.isOutOfRoom {
                // The next check tries again; the rest of this pass would only meet the full
                // disk once per stream.
                break
            } catch {
            }
        }
    }

    private func finishIfStale(_ id: StreamID, cutoff: Int64, reason: String) throws(JournalError) {
        let ackEnd: LogPosition? = try lock.withLock { () throws(JournalError) in
            waitWhileWritesPausedLocked()
            try checkWritable()
            guard let slot = table.slot(of: id), table[slot].status == .open, table[slot].updatedAt <= cutoff else {
                return nil
            }
            let entry = table[slot]
            let now = Clock.wallMicroseconds()
            let offset = try Array(reason.utf8).withBytes { (raw) throws(JournalError) in
                try appendRecord(
                    .interrupted, stream: entry.number, chunkIndex: entry.chunkCount, previous: entry.lastOffset,
                    timestamp: now, body: raw)
            }
            table[slot].noteFinish(.interrupted, reason: reason, at: offset, timestamp: now)
            if !waiters.isEmpty { waiters.wake(slot: slot) }
            return endPosition
        }
        if let ackEnd { try acknowledge(ackEnd) }
    }
}
