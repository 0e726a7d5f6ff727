#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Online compaction (FORMAT.md §9): copy live records into a new file beside the old one
/// while appends continue, catch up, then pause appends for the last records, sync, rename
/// over the old name and swap the mapping.
extension JournalEngine {
    /// The size a compacted file is preallocated to for `logBytes` of kept records: room to
    /// grow (an eighth of the log, at least what a new journal starts with, at most 16 MiB),
    /// but never a bigger file than before. A fixed 16 MiB made compacting a small journal
    /// grow its file many times over.
    static func compactedFileSize(logBytes: UInt64, fileBytesBefore: UInt64) -> UInt64 {
        let live = Layout.logStart + logBytes
        let spare = fileBytesBefore > live ? fileBytesBefore - live : 0
        return live + min(CompactionWriter.headroom(for: logBytes), spare)
    }

    /// Name of the temporary file a compaction writes.
    static func compactionTemporaryPrefix(for path: String) -> String { path + ".compact-" }

    /// Bytes of the log that compaction would reclaim without any retention drop.
    var deadBytes: UInt64 {
        lock.withLock {
            let log = end - Layout.logStart
            let live = table.liveRecordBytes + (header.snapshotLength)
            return log > live ? log - live : 0
        }
    }

    /// Which streams a policy keeps; call with the lock held.
    func planRetention(_ policy: RetentionPolicy, now: Int64) -> (keep: Set<UInt32>, dropped: [StreamEntry]) {
        var keep = Set<UInt32>()
        var candidates: [StreamEntry] = []
        var dropped: [StreamEntry] = []
        for entry in table.live {
            guard entry.status.isFinished else {
                keep.insert(entry.number)
                continue
            }
            let maxAge = entry.status == .completed ? policy.completedMaxAge : policy.unsuccessfulMaxAge
            // Cutoffs, not ages: `finishedAt` comes from the file and may be anything. The
            // later of the two drops the most, as each alone would.
            var cutoff = policy.finishedBefore
            if let maxAge {
                let aged = now.saturatingSubtracting(maxAge.microseconds)
                cutoff = max(cutoff ?? aged, aged)
            }
            if let cutoff, entry.finishedAt < cutoff {
                dropped.append(entry)
            } else {
                candidates.append(entry)
                keep.insert(entry.number)
            }
        }
        if let cap = policy.maxTotalBytes {
            var total = table.live.filter { keep.contains($0.number) }.reduce(0) { $0 + $1.recordBytes }
            for entry in candidates.sorted(by: { $0.finishedAt < $1.finishedAt }) where total > cap {
                keep.remove(entry.number)
                dropped.append(entry)
                total -= entry.recordBytes
            }
        }
        return (keep, dropped)
    }

    func compact(
        policy: RetentionPolicy, dryRun: Bool, now: Int64, progress: (@Sendable (CompactionProgress) -> Void)?
    ) throws(JournalError) -> CompactionReport {
        let started = Clock.monotonicNanoseconds()
        var report = CompactionReport()
        report.dryRun = dryRun
        // One compaction at a time; appends go on meanwhile.
        var keptEntries: [StreamEntry] = []
        let plan = try lock.withLock { () throws(JournalError) in
            try checkWritable()
            if compacting { throw .busy(path: path, what: "a compaction is already running") }
            let plan = planRetention(policy, now: now)
            report.logBytesBefore = end - Layout.logStart
            report.fileBytesBefore = fileSize
            report.streamsDropped = plan.dropped.map(\.id)
            report.streamsKept = plan.keep.count
            keptEntries = table.live.filter { plan.keep.contains($0.number) }
            report.logBytesAfter = keptEntries.reduce(0) { $0 + $1.recordBytes }
            if !dryRun { compacting = true }
            return (plan.keep, table.highestNumber, end, region, generation, damagedSnapshots)
        }
        let (keep, highest, cutoff, oldRegion, writerGeneration, damaged) = plan
        let estimate = Self.compactedFileSize(logBytes: report.logBytesAfter, fileBytesBefore: report.fileBytesBefore)
        if dryRun {
            // The copy ends with a snapshot of the streams it kept (unless over the limit, as
            // `CompactionWriter.appendSnapshot` decides); its size depends only on them, since
            // offsets are fixed-width. Encoded here, outside the lock appends need.
            let body = SnapshotBody(logEnd: 0, highestStreamNumber: 0, streams: keptEntries).encoded()
            if body.count <= options.snapshotBodyLimit {
                report.logBytesAfter += UInt64(Layout.aligned(RecordField.size + body.count))
            }
            // Counted from the log, as the copy counts: the table knows only the deletions
            // made since the open (a snapshot holds live streams only), and a dry run on a
            // fresh open, as the CLI's is, always said 0.
            let leftBehind = try streamsLeftBehind(
                oldRegion.bytes(at: 0, count: Int(cutoff)), keep: keep, generation: writerGeneration,
                damagedSnapshots: damaged)
            report.deletedStreamsReclaimed = leftBehind - report.streamsDropped.count
            report.fileBytesAfter = estimate
            report.durationNanoseconds = Clock.monotonicNanoseconds() - started
            return report
        }
        defer { lock.withLock { compacting = false } }

        let temporary = JournalEngine.compactionTemporaryPrefix(for: filePath) + "\(getpid())"
        try? FileSystem.unlink(temporary, interposer: interposer)
        let newFD = try io("create \(temporary)") { () throws(Errno) in
            try FileDescriptor.createExclusive(temporary, interposer: interposer)
        }
        var installed = false
        defer {
            if !installed {
                newFD.close()
                try? FileSystem.unlink(temporary, interposer: interposer)
            }
        }
        try io("fallocate (compaction)") { () throws(Errno) in try newFD.allocate(offset: 0, length: estimate) }
        Failpoint.hit("compact-after-create")

        var writer = CompactionWriter(
            fd: newFD, path: temporary, sourcePath: path, damagedSnapshots: damagedSnapshots, plannedHighest: highest,
            keep: keep, allocated: estimate)
        progress?(CompactionProgress(phase: .copying, bytesRead: 0, bytesTotal: cutoff - Layout.logStart))
        var copied = try copyInSlices(
            &writer, region: oldRegion, from: Layout.logStart, to: cutoff, generation: writerGeneration,
            phase: .copying, progress: progress)
        Failpoint.hit("compact-after-copy")

        // Catch up with appends made meanwhile until what is left is small enough to copy with
        // appends paused.
        var rounds = 0
        while true {
            let (currentEnd, currentRegion) = lock.withLock { (end, region) }
            if currentEnd - copied <= (1 << 20) || rounds >= 8 { break }
            copied = try copyInSlices(
                &writer, region: currentRegion, from: copied, to: currentEnd, generation: writerGeneration,
                phase: .catchingUp, progress: progress)
            rounds += 1
        }
        // Sync the bulk of the copy while appends still run, so the sync inside the pause
        // only covers the last records.
        try writer.flush()
        try io("fdatasync (compaction)") { () throws(Errno) in try newFD.dataSync() }
        Failpoint.hit("compact-after-catch-up")

        // Reported before the pause, never under the lock: a callback that asked the journal
        // anything (an info for a progress line) waited for the lock this thread held, and
        // every appender waited behind it, for good.
        let swapEnd = lock.withLock { end }
        progress?(
            CompactionProgress(
                phase: .swapping, bytesRead: swapEnd - Layout.logStart, bytesTotal: swapEnd - Layout.logStart))

        // The pause: appends wait from here to the swap.
        lock.lock()
        let pauseStarted = Clock.monotonicNanoseconds()
        defer { lock.unlock() }
        try checkWritable()
        writePauses += 1
        defer {
            writePauses -= 1
            lock.broadcast()
        }
        while syncInFlight { lock.wait() }
        // The wait let go of the lock: a close, or a failed sync, may have come meanwhile
        // (and a close closed the descriptor this would rename over and unlock).
        if isClosed { throw .closed(path: path) }
        if let failure { throw failure }
        _ = try writer.copy(region.bytes(at: 0, count: Int(end)), from: copied, until: end, maxGeneration: generation)
        // A dropped stream's number stays used: a follower of it, or a journal-wide follower
        // naming the old file's last records, would otherwise take a new stream for it.
        writer.raiseHighestNumber(to: table.highestNumber)
        let (snapshotOffset, snapshotLength) = try writer.appendSnapshot(
            generation: generation, limit: options.snapshotBodyLimit)
        try io("fdatasync (compaction)") { () throws(Errno) in try newFD.dataSync() }
        var newHeader = header
        newHeader.checkpointEnd = writer.end
        newHeader.snapshotOffset = snapshotOffset
        newHeader.snapshotLength = snapshotLength
        newHeader.updatedAt = Clock.wallMicroseconds()
        for slot in 0..<Layout.headerSlotCount {
            newHeader.sequence = header.sequence + UInt64(slot) + 1
            try io("write header (compaction)") { () throws(Errno) in
                try newHeader.encoded().withBytes { (raw) throws(Errno) in
                    try newFD.write(raw, at: UInt64(slot * Layout.headerSlotSize))
                }
            }
        }
        try io("fsync (compaction)") { () throws(Errno) in try newFD.sync() }
        guard try io("flock (compaction)", { () throws(Errno) in try newFD.tryLockExclusive() }) else {
            throw .busy(path: temporary, what: "another process locked the compaction file")
        }
        Failpoint.hit("compact-after-sync")
        try io("rename \(temporary)") { () throws(Errno) in
            try FileSystem.rename(temporary, filePath, interposer: interposer)
        }
        installed = true
        Failpoint.hit("compact-after-rename")
        do throws(Errno) {
            try FileSystem.syncDirectory(containing: filePath, interposer: interposer)
        } catch {
            // The rename happened; whether it is durable is unknown: refuse further writes.
            newFD.close()
            throw poison(.io(operation: "fsync directory (compaction)", path: path, errno: error))
        }
        let newRegion: MappedRegion
        do throws(Errno) {
            newRegion = try MappedRegion(
                fd: newFD, length: JournalEngine.mappingLength(for: writer.fileSize, reserve: options.mappingReserve),
                writable: true)
        } catch {
            // The path names the new file now: appending to the old one would write where no
            // reopen will look. Refuse writes; reopening finds the complete new file.
            newFD.close()
            throw poison(.io(operation: "mmap (compaction)", path: path, errno: error))
        }
        // Swap. The old descriptor's lock goes explicitly; its mapping stays alive for any
        // reader still holding it, and the old inode disappears when the last one lets go.
        let oldFD = fd
        let oldEnd = end
        fd = newFD
        region = newRegion
        fileSize = writer.fileSize
        end = writer.end
        syncedEnd = writer.end
        // Nothing of the new mapping is faulted in. Left at the old file's mark, at or past
        // the new file's end, it stopped every prefault request until the log grew back.
        populatedEnd = writer.end
        // The new file's headers were synced with it; a pending write was to the old file.
        syncedHeaderWrites = headerWrites
        lastSwapNames = StreamTable.namesMissing(from: writer.table, in: table)
        table = writer.table
        damagedSnapshots = [:]
        checkedFrom = Layout.logStart  // this process wrote and checked every record of the new file
        newHeader.sequence = header.sequence + UInt64(Layout.headerSlotCount)
        header = newHeader
        headerSlot = Layout.headerSlotCount - 1
        bytesSinceSnapshot = 0
        fileEpoch += 1
        lastSwap = (epoch: fileEpoch, oldEnd: oldEnd, newStart: writer.end)
        oldFD.unlock()
        oldFD.close()
        // Slots changed: every follower looks again. Async durability waiters are covered:
        // everything they wrote is in the synced new file.
        waiters.wakeAll()
        for waiter in durabilityWaiters { waiter.continuation.resume(returning: nil) }
        durabilityWaiters.removeAll()
        lock.broadcast()
        statistics.compactions += 1
        Failpoint.hit("compact-after-swap")
        report.bytesCopied = writer.bytesCopied
        // Counted from the copy: a stream deleted before this process opened the journal is
        // not in memory, but its records are still in the log.
        report.deletedStreamsReclaimed = writer.streamsLeftBehind - report.streamsDropped.count
        report.logBytesAfter = writer.end - Layout.logStart
        report.fileBytesAfter = writer.fileSize
        let finished = Clock.monotonicNanoseconds()
        report.pauseNanoseconds = finished - pauseStarted
        report.durationNanoseconds = finished - started
        statistics.lastCompactionPauseNanoseconds = report.pauseNanoseconds
        return report
    }

    /// How many streams a compaction keeping `keep` would leave behind: the stream-open
    /// records in `log` of streams not kept, deleted or dropped. Reads the log as the copy
    /// does, skipping the damaged snapshots the open skipped, and fails where it would.
    private func streamsLeftBehind(
        _ log: UnsafeRawBufferPointer, keep: Set<UInt32>, generation: UInt32, damagedSnapshots: [UInt64: UInt64]
    ) throws(JournalError) -> Int {
        let end = UInt64(log.count)
        var scanner = LogScanner(log: log, from: Layout.logStart, maxGeneration: generation)
        var count = 0
        while scanner.offset < end {
            let next = scanner.next()
            if case .invalid(let offset, _) = next, let length = damagedSnapshots[offset], offset + length <= end {
                scanner.skip(to: offset + length)
                continue
            }
            guard case .record(let header, _, _) = next else {
                throw .corruption(path: path, offset: scanner.offset, detail: "compaction met an invalid record")
            }
            if header.type == .streamOpen && !keep.contains(header.stream) { count += 1 }
        }
        return count
    }

    /// Copies `[from, to)` in slices of `JournalOptions.compactionSlice` (64 MiB), reporting
    /// progress after each.
    private func copyInSlices(
        _ writer: inout CompactionWriter, region: MappedRegion, from: UInt64, to: UInt64, generation: UInt32,
        phase: CompactionProgress.Phase, progress: (@Sendable (CompactionProgress) -> Void)?
    ) throws(JournalError) -> UInt64 {
        let log = region.bytes(at: 0, count: Int(to))
        var position = from
        while position < to {
            // Closing stops the background threads and waits for them: an automatic
            // compaction of a large journal would otherwise hold `close` for its whole copy.
            if lock.withLock({ stopMaintenance }) { throw .closed(path: path) }
            // Slice ends fall on record boundaries because the writer copies whole records and
            // returns where the next one starts. Bounded by the slice: copying up to `to` made
            // one slice of the whole log, and the progress went from 0 to 100% in one step.
            let bound = min(position + options.compactionSlice, to)
            position = try writer.copy(log, from: position, until: bound, maxGeneration: generation)
            progress?(
                CompactionProgress(
                    phase: phase, bytesRead: position - Layout.logStart, bytesTotal: to - Layout.logStart))
        }
        return position
    }

    /// Name of the copy `journalctl-stream compact --dry-run` reports on, followed by the
    /// PID of the process that made it (the CLI spells the same name).
    static func dryRunCopyPrefix(for path: String) -> String { path + ".dry-run-" }

    /// Removes what crashed processes left beside the journal; call holding the writer lock.
    /// Every `PATH.compact-*` goes: only the lock holder compacts, so none is in use. A
    /// `PATH.creating-PID-*` goes only when process PID is gone: a live one may be a creator
    /// that lost the race to ours and is about to find that out and remove its own name. So
    /// does a `PATH.dry-run-PID`: a dry run killed before it removed its copy left a whole
    /// copy of the journal for good, while a live one may still be reading its copy.
    static func removeLeftovers(path: String) {
        let (directory, base) = FileSystem.split(path)
        let compacting = compactionTemporaryPrefix(for: base)
        let creating = creationTemporaryPrefix(for: base)
        let dryRun = dryRunCopyPrefix(for: base)
        guard let handle = opendir(directory) else { return }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            let leftover: Bool
            if name.hasPrefix(compacting) {
                leftover = true
            } else if name.hasPrefix(creating) {
                let pid = name.dropFirst(creating.count).prefix { $0 != "-" }
                leftover = Int32(pid).map(processIsGone) ?? false
            } else if name.hasPrefix(dryRun) {
                // The whole rest is the PID: anything else is not a name a dry run makes.
                leftover = Int32(name.dropFirst(dryRun.count)).map(processIsGone) ?? false
            } else {
                leftover = false
            }
            if leftover { try? FileSystem.unlink(directory == "/" ? "/" + name : directory + "/" + name) }
        }
    }

    /// Whether no process `pid` exists. Not for 0 or a negative number, which `kill` takes as
    /// a process group: a name with one is nobody's to remove.
    static func processIsGone(_ pid: Int32) -> Bool {
        pid > 0 && kill(pid, 0) != 0 && errno == ESRCH
    }
}

/// Crash points for the compaction tests: with `JOURNAL_FAILPOINT=name` set, a debug build
/// kills itself with SIGKILL at that point. Release builds compile it away.
enum Failpoint {
    @inline(__always)
    static func hit(_ name: StaticString) {
        #if DEBUG
            if let wanted = getenv("JOURNAL_FAILPOINT"), String(cString: wanted) == name.description {
                kill(getpid(), SIGKILL)
            }
        #endif
    }
}
