/// Appending records, group commit and snapshots.
extension JournalEngine {
    /// Checks the handle may write; call with the lock held.
    @inline(__always)
    func checkWritable() throws(JournalError) {
        if isClosed { throw .closed(path: path) }
        if !writable { throw .readOnly(path: path) }
        if let failure { throw failure }
    }

    /// Waits, lock held, while close or a compaction's swap drains the syncs in flight
    /// (`writePauses`). The first thing in every block that appends a record, before it
    /// reads any state: the wait lets go of the lock, and a compaction's swap renumbers the
    /// stream table. An async appender waits here too, on its thread, for at most the one
    /// or two syncs the pause drains.
    @inline(__always)
    func waitWhileWritesPausedLocked() {
        if writePauses == 0 { return }
        writersWaitingForPause += 1
        while writePauses > 0 && !isClosed && failure == nil { lock.wait() }
        writersWaitingForPause -= 1
    }

    /// Makes room for `needed` bytes of file; call with the lock held. Grows by at least an
    /// eighth of the file (4 MiB to 256 MiB) with `fallocate`, so that a full disk is an error
    /// here rather than a SIGBUS in a write through the mapping.
    ///
    /// A file system without room for that step may still have room for the record: the
    /// growth is tried again with only what `needed` asks (in 64 KiB units). Running out of
    /// room (`ENOSPC`, `EDQUOT`, `EFBIG`) fails this call and nothing else: nothing was
    /// written into the new space, so the handle stays writable and the next append tries
    /// again (FORMAT.md §10). It used to poison the handle, so one moment of a full disk
    /// took a server's writer down until a restart. Any other failure still poisons.
    func ensureCapacity(_ needed: UInt64) throws(JournalError) {
        if needed <= fileSize { return }
        let step = max(needed - fileSize, growthStep)
        let least = (needed - fileSize + 0xFFFF) & ~UInt64(0xFFFF)
        var grow = step
        do {
            do {
                try fd.allocate(offset: fileSize, length: step)
            } catch let error where error.isOutOfRoom && least < step {
                grow = least
                try fd.allocate(offset: fileSize, length: least)
            }
        } catch {
            let failure = JournalError.io(
                operation: "fallocate \(grow) bytes at offset \(fileSize)", path: path, errno: error)
            if error.isOutOfRoom {
                statistics.growthsRefused += 1
                throw failure
            }
            throw poison(failure)
        }
        fileSize += grow
        if fileSize > UInt64(region.length) {
            do {
                region = try MappedRegion(
                    fd: fd, length: JournalEngine.mappingLength(for: fileSize, reserve: options.mappingReserve),
                    writable: true)
            } catch {
                throw poison(.io(operation: "mmap", path: path, errno: error))
            }
        }
    }

    /// How much the file grows by at least when the log needs room; lock held.
    var growthStep: UInt64 { min(max(fileSize / 8, 4 << 20), 256 << 20) }

    /// Encodes one record at the end of the log; call with the lock held. Returns its offset.
    @inline(__always)
    func appendRecord(
        _ type: RecordType, stream: UInt32, chunkIndex: UInt32, previous: UInt64, timestamp: Int64,
        body: UnsafeRawBufferPointer
    ) throws(JournalError) -> UInt64 {
        let record = RecordHeader(
            type: type, bodyLength: UInt32(body.count), generation: generation, stream: stream,
            chunkIndex: chunkIndex, timestamp: timestamp, previous: previous)
        let size = UInt64(record.alignedSize)
        try ensureCapacity(end + size)
        let offset = end
        record.write(body: body, to: region.base + Int(offset))
        end = offset + size
        let before = bytesSinceSnapshot
        bytesSinceSnapshot += size
        if before < UInt64(options.snapshotInterval) && bytesSinceSnapshot >= UInt64(options.snapshotInterval) {
            lock.broadcast()  // the maintenance thread writes the snapshot
        }
        // (Once faulted in up to the allocated size, wait for the file to grow.)
        if end + JournalEngine.prefaultAhead / 2 > populatedEnd && populatedEnd < fileSize && !prefaultRequested {
            prefaultRequested = true
            lock.broadcast()  // the prefault thread faults in the next pages
        }
        return offset
    }

    /// Waits until an acknowledgement is as durable as the policy promises.
    @inline(__always)
    func acknowledge(_ position: LogPosition) throws(JournalError) {
        if case .everyAcknowledgement = options.durability { try makeDurable(upTo: position) }
    }

    // MARK: Streams

    func createStream(_ id: StreamID, metadata: [String: String]) throws(JournalError) {
        // Checked before encoding: within 64 KiB every count and length fits its field.
        let length = StreamOpenBody.encodedLength(id: id.rawValue, metadata: metadata)
        if length > StreamOpenBody.maxMetadataBytes {
            throw .metadataTooLarge(size: length, limit: StreamOpenBody.maxMetadataBytes)
        }
        let body = StreamOpenBody(id: id.rawValue, metadata: metadata).encoded()
        let ackEnd: LogPosition = try lock.withLock { () throws(JournalError) in
            waitWhileWritesPausedLocked()
            try checkWritable()
            if table.slot(of: id) != nil { throw .duplicateStream(id) }
            // Numbers are never reused (FORMAT.md §5); only a damaged or hostile file has
            // used the last one.
            guard table.highestNumber < UInt32.max else {
                throw .corruption(
                    path: path, offset: end, detail: "every stream number is used (the highest is \(UInt32.max))")
            }
            let number = table.highestNumber + 1
            let now = Clock.wallMicroseconds()
            let offset = try body.withBytes { (raw) throws(JournalError) in
                try appendRecord(.streamOpen, stream: number, chunkIndex: 0, previous: 0, timestamp: now, body: raw)
            }
            table.insert(
                StreamEntry(
                    id: id, number: number, status: .open, metadata: metadata, openOffset: offset, lastOffset: offset,
                    chunkCount: 0, byteCount: 0, recordBytes: end - offset, createdAt: now, updatedAt: now,
                    finishedAt: 0, reason: nil,
                    blockStarts: []))
            if !waiters.isEmpty { waiters.wakeGlobal() }
            return endPosition
        }
        try acknowledge(ackEnd)
    }

    /// Appends chunks to one stream under one lock acquisition; returns the first index.
    func append(
        _ count: Int, to id: StreamID, chunk: (Int) -> UnsafeRawBufferPointer
    ) throws(JournalError) -> Int {
        let (first, ackEnd, bells): (Int, LogPosition, WaiterTable.Doorbells?) = try lock.withLock {
            () throws(JournalError) in
            waitWhileWritesPausedLocked()
            try checkWritable()
            guard let slot = table.slot(of: id, hint: lastSlot) else { throw .unknownStream(id) }
            lastSlot = slot
            guard table[slot].status == .open else { throw .streamFinished(id, status: table[slot].status) }
            var bytes: UInt64 = 0
            for i in 0..<count {
                let size = chunk(i).count
                if size > options.maxChunkSize { throw .chunkTooLarge(size: size, limit: options.maxChunkSize) }
                bytes += UInt64(Layout.aligned(RecordField.size + size))
            }
            let first = Int(table[slot].chunkCount)
            // All or nothing, as for the sizes: a batch that would not fit stores none of it.
            if count > Journal.maxChunksPerStream - first { throw .streamFull(id, chunkCount: first) }
            // And the room for all of it, before the first record: a growth refused halfway
            // (a full disk, which no longer poisons the handle) stored the batch's first half.
            try ensureCapacity(end + bytes)
            for i in 0..<count { try appendChunkLocked(slot: slot, chunk(i)) }
            return (first, endPosition, doorbellsLocked(slot: slot, lastChunkLength: nil))
        }
        // Followers wake after the lock is released: they need it to read.
        bells?.ring()
        try acknowledge(ackEnd)
        return first
    }

    /// Appends one chunk record to the open stream in `slot` and indexes it; lock held, the
    /// caller has checked the stream and the size.
    @inline(__always)
    func appendChunkLocked(slot: Int, _ bytes: UnsafeRawBufferPointer) throws(JournalError) {
        // The index must fit the record's 32-bit field, and the count with it (the terminal
        // record carries it): past that, `noteChunk` would trap, here and in every later open.
        guard table[slot].chunkCount < UInt32.max else {
            throw .streamFull(table[slot].id, chunkCount: Int(table[slot].chunkCount))
        }
        let now = Clock.wallMicroseconds()
        let offset = try appendRecord(
            .chunk, stream: table[slot].number, chunkIndex: table[slot].chunkCount, previous: table[slot].lastOffset,
            timestamp: now, body: bytes)
        table[slot].noteChunk(at: offset, length: bytes.count, timestamp: now)
    }

    /// Takes the waiters of `slot` after an append, handing the last chunk (of
    /// `lastChunkLength` bytes, when a single chunk was appended) to those waiting for it;
    /// lock held. The caller rings them after unlocking.
    @inline(__always)
    func doorbellsLocked(slot: Int, lastChunkLength: Int?) -> WaiterTable.Doorbells? {
        if waiters.isEmpty { return nil }
        var bells = waiters.take(slot: slot)
        if let lastChunkLength {
            let offset = table[slot].lastOffset
            bells.fresh = WaiterTable.FreshChunk(
                index: Int(table[slot].chunkCount) - 1, timestamp: table[slot].updatedAt,
                bodyOffset: offset + UInt64(RecordField.size), count: lastChunkLength,
                mappingBase: UInt(bitPattern: region.base))
        }
        return bells
    }

    /// Appends one chunk: the common call, without the batch's closure and loops.
    func appendOne(_ bytes: UnsafeRawBufferPointer, to id: StreamID) throws(JournalError) -> Int {
        let (index, ackEnd, bells): (Int, LogPosition, WaiterTable.Doorbells?) = try lock.withLock {
            () throws(JournalError) in
            waitWhileWritesPausedLocked()
            try checkWritable()
            guard let slot = table.slot(of: id, hint: lastSlot) else { throw .unknownStream(id) }
            lastSlot = slot
            guard table[slot].status == .open else { throw .streamFinished(id, status: table[slot].status) }
            if bytes.count > options.maxChunkSize {
                throw .chunkTooLarge(size: bytes.count, limit: options.maxChunkSize)
            }
            let index = Int(table[slot].chunkCount)
            try appendChunkLocked(slot: slot, bytes)
            return (index, endPosition, doorbellsLocked(slot: slot, lastChunkLength: bytes.count))
        }
        // Followers wake after the lock is released: they need it to read.
        bells?.ring()
        try acknowledge(ackEnd)
        return index
    }

    /// The idempotent append: stores `bytes` as chunk `index` unless that chunk already holds
    /// exactly these bytes. Returns true when it stored, false for a duplicate.
    func append(_ bytes: UnsafeRawBufferPointer, to id: StreamID, at index: Int) throws(JournalError) -> Bool {
        let (stored, ackEnd, bells): (Bool, LogPosition, WaiterTable.Doorbells?) = try lock.withLock {
            () throws(JournalError) in
            waitWhileWritesPausedLocked()
            if isClosed { throw .closed(path: path) }
            guard let slot = table.slot(of: id) else { throw .unknownStream(id) }
            let entry = table[slot]
            if index < 0 { throw .indexOutOfRange(id, index: index, count: Int(entry.chunkCount)) }
            if index < Int(entry.chunkCount) {
                let offset = try chunkOffsetLocked(
                    entry, index: index, end: end, lastChunk: lastChunkOffsetLocked(entry))
                // Checked like a read: a damaged length must not compare bytes past the log.
                guard
                    let stored = JournalEngine.checkedChunkHeader(
                        in: region.bytes(at: 0, count: Int(end)), at: offset, stream: entry.number, index: index)
                else {
                    throw JournalEngine.chunkRecordError(
                        in: region, end: end, at: offset, id: entry.id, index: index, path: path)
                }
                let existing = region.bytes(at: offset + UInt64(RecordField.size), count: Int(stored.bodyLength))
                guard existing.elementsEqual(bytes) else { throw .chunkConflict(id, index: index) }
                return (false, endPosition, nil)
            }
            try checkWritable()
            guard entry.status == .open else { throw .streamFinished(id, status: entry.status) }
            if index > Int(entry.chunkCount) { throw .indexGap(id, index: index, next: Int(entry.chunkCount)) }
            if bytes.count > options.maxChunkSize {
                throw .chunkTooLarge(size: bytes.count, limit: options.maxChunkSize)
            }
            try appendChunkLocked(slot: slot, bytes)
            return (true, endPosition, doorbellsLocked(slot: slot, lastChunkLength: bytes.count))
        }
        bells?.ring()
        // A duplicate is acknowledged only once the original is as durable as a fresh append.
        try acknowledge(ackEnd)
        return stored
    }

    /// Writes a terminal record. `reasonLimit` is `Journal.maxReasonBytes` except for the
    /// tools that copy streams (import, repair), which must write back any reason a file
    /// holds: older writers allowed reasons up to their chunk limit, up to 1 GiB.
    @discardableResult
    func finish(
        _ id: StreamID, status: StreamStatus, reason: String?, durable: Bool = true,
        reasonLimit: Int = Journal.maxReasonBytes
    ) throws(JournalError) -> LogPosition {
        let type = RecordType(terminal: status)!
        let body = Array((reason ?? "").utf8)
        if body.count > reasonLimit { throw .reasonTooLarge(size: body.count, limit: reasonLimit) }
        let ackEnd: LogPosition = try lock.withLock { () throws(JournalError) in
            waitWhileWritesPausedLocked()
            try checkWritable()
            guard let slot = table.slot(of: id) else { throw .unknownStream(id) }
            let entry = table[slot]
            guard entry.status == .open else { throw .streamFinished(id, status: entry.status) }
            let now = Clock.wallMicroseconds()
            let offset = try body.withBytes { (raw) throws(JournalError) in
                try appendRecord(
                    type, stream: entry.number, chunkIndex: entry.chunkCount, previous: entry.lastOffset,
                    timestamp: now, body: raw)
            }
            table[slot].noteFinish(status, reason: reason, at: offset, timestamp: now)
            if !waiters.isEmpty { waiters.wake(slot: slot) }
            return endPosition
        }
        if durable { try acknowledge(ackEnd) }
        return ackEnd
    }

    /// Deletes a stream (open or ended): readers get `unknownStream` from now on, followers
    /// end with that error, the id may be used again, and compaction reclaims its records.
    func deleteStream(_ id: StreamID) throws(JournalError) {
        let ackEnd: LogPosition = try lock.withLock { () throws(JournalError) in
            waitWhileWritesPausedLocked()
            try checkWritable()
            guard let slot = table.slot(of: id) else { throw .unknownStream(id) }
            let entry = table[slot]
            _ = try appendRecord(
                .deleted, stream: entry.number, chunkIndex: entry.chunkCount, previous: entry.lastOffset,
                timestamp: Clock.wallMicroseconds(), body: UnsafeRawBufferPointer(start: nil, count: 0))
            table.markDeleted(slot: slot)
            if !waiters.isEmpty { waiters.wake(slot: slot) }
            return endPosition
        }
        try acknowledge(ackEnd)
    }

    // MARK: Durability

    /// Returns once every byte below `target` has been covered by a successful `fdatasync`.
    ///
    /// Group commit: the first caller to find no sync in flight leads one for everything
    /// written so far; callers arriving meanwhile queue a ticket and sleep. When the sync
    /// returns, the leader hands the next sync to the first uncovered ticket (so it covers
    /// everything appended during this one) before waking the tickets it covered, then
    /// returns. A failed sync poisons the handle and fails every ticket: the kernel may have
    /// dropped the dirty pages, so retrying could report success for lost data.
    func makeDurable(upTo target: LogPosition) throws(JournalError) {
        lock.lock()
        // A compaction swap since the records were written: everything written before it is
        // in the synced new file.
        if target.epoch != fileEpoch || syncedEnd >= target.offset {
            lock.unlock()
            return
        }
        if let failure {
            lock.unlock()
            throw failure
        }
        if isClosed {
            lock.unlock()
            throw .closed(path: path)
        }
        if syncInFlight {
            let ticket = DurabilityTicket(target: target.offset)
            syncQueue.append(ticket)
            lock.unlock()
            switch ticket.wait() {
            case .covered, .pending: return
            case .failed(let error): throw error
            case .lead: lock.lock()  // the sync slot was reserved for this thread
            }
        } else {
            syncInFlight = true
        }
        defer { lock.unlock() }
        try leadSyncLocked()
    }

    /// Runs one `fdatasync` of everything written so far, then resolves the queue; called
    /// with the lock held and `syncInFlight` set by (or for) this thread.
    func leadSyncLocked() throws(JournalError) {
        var failed: JournalError?
        do { try advanceCheckpointLocked() } catch { failed = error }
        let goal = end
        let headerGoal = headerWrites
        if failed == nil {
            let descriptor = fd
            lastSyncNanoseconds = Clock.monotonicNanoseconds()
            lock.unlock()
            let started = Clock.monotonicNanoseconds()
            var syncError: Errno?
            do { try descriptor.dataSync() } catch { syncError = error }
            let elapsed = Clock.monotonicNanoseconds() - started
            lock.lock()
            statistics.syncs += 1
            statistics.syncNanoseconds += elapsed
            if let syncError { failed = poison(.io(operation: "fdatasync", path: path, errno: syncError)) }
        }
        if let failed {
            syncInFlight = false
            let queued = syncQueue
            syncQueue.removeAll()
            for ticket in queued { ticket.resolve(.failed(failed)) }
            resumeDurabilityWaitersLocked(failedSync: failed)
            lock.broadcast()
            throw failed
        }
        syncedEnd = max(syncedEnd, goal)
        syncedHeaderWrites = max(syncedHeaderWrites, headerGoal)
        // The next leader first, so its sync starts while the covered threads wake.
        let covered = syncQueue.filter { $0.target <= syncedEnd }
        syncQueue.removeAll { $0.target <= syncedEnd }
        if syncQueue.isEmpty {
            syncInFlight = false
        } else {
            syncQueue.removeFirst().resolve(.lead)
        }
        for ticket in covered { ticket.resolve(.covered) }
        resumeDurabilityWaitersLocked()
        lock.broadcast()
    }

    /// Whether the checkpoint trails what earlier syncs covered and may move now (at most
    /// every `checkpointInterval`: the bound on how much synced log a damaged record could
    /// otherwise pass off as a torn tail, FORMAT.md §5); lock held.
    var checkpointDue: Bool {
        guard writable, syncedEnd > header.checkpointEnd, headerWrites == syncedHeaderWrites,
            snapshotHeadersWaiting == 0
        else { return false }
        let interval = UInt64(max(options.checkpointInterval.microseconds, 0)) * 1000
        return lastCheckpointNanoseconds == 0 || Clock.monotonicNanoseconds() - lastCheckpointNanoseconds >= interval
    }

    /// Before a sync: moves the header's checkpoint to the end that earlier syncs covered, at
    /// most every `options.checkpointInterval`, so that this sync makes it durable; lock
    /// held. A failed header write poisons the handle and fails this sync's callers.
    ///
    /// Without this the checkpoint moved only at snapshots and closes, and recovery took
    /// damage in records synced since for a torn tail and dropped them. Only synced bytes:
    /// the sync that carries the header may be cut short, and the checkpoint must never
    /// claim bytes the disk may not hold.
    func advanceCheckpointLocked() throws(JournalError) {
        guard checkpointDue else { return }
        header.checkpointEnd = syncedEnd
        lastCheckpointNanoseconds = Clock.monotonicNanoseconds()
        try writeHeader()
    }

    /// Runs a sync when none is pending, so that a checkpoint trailing the last sync gets
    /// written and made durable (the maintenance thread, when appends stopped). One byte past
    /// the end: only a sync that starts now covers it.
    func syncCheckpoint() throws(JournalError) {
        let target = try lock.withLock { () throws(JournalError) in
            try checkWritable()
            return LogPosition(offset: end + 1, epoch: fileEpoch)
        }
        try makeDurable(upTo: target)
    }

    /// Syncs everything written so far.
    func sync() throws(JournalError) {
        let target = try lock.withLock { () throws(JournalError) in
            if isClosed { throw .closed(path: path) }
            return endPosition
        }
        if writable { try makeDurable(upTo: target) }
    }

    /// Appends an index snapshot, makes it durable, then points the header at it; writes
    /// nothing when the table encodes to more than a record body can hold (FORMAT.md §7).
    ///
    /// `optional` snapshots (at close, after recovery) are skipped, not failed, when the file
    /// system has no room for them: they only save the next open a scan, and a full disk
    /// failed the close (journal-server then exited 1) or the open that would have freed
    /// space.
    func writeSnapshot(optional: Bool = false) throws(JournalError) {
        do {
            try writeSnapshotOrThrow()
        } catch .io(_, _, let errno) where optional && errno.isOutOfRoom && lock.withLock({ failure == nil }) {
            // A growth refused (the handle is as before); an `fdatasync` or header write that
            // failed with ENOSPC poisoned it, and that is thrown.
            lock.withLock { statistics.snapshotsSkipped += 1 }
        }
    }

    private func writeSnapshotOrThrow() throws(JournalError) {
        let written: (UInt64, UInt64, Int)? = try lock.withLock { () throws(JournalError) in
            waitWhileWritesPausedLocked()
            try checkWritable()
            // Room for one more snapshot of the last one's size, before encoding this one
            // under the lock: on a full disk the maintenance thread tries every second, and a
            // table of tens of megabytes was encoded each time only to find no room. The
            // length is the header's only when it points at a snapshot (the open checked it
            // against the log then); without one it may be anything (fuzzing found a length
            // near 2^64, which trapped in `fallocate`'s arguments).
            let lastSnapshot = header.snapshotOffset == 0 ? 0 : min(header.snapshotLength, end)
            try ensureCapacity(end + lastSnapshot)
            let body = SnapshotBody(logEnd: end, highestStreamNumber: table.highestNumber, streams: table.live)
                .encoded()
            // Millions of streams: a body over 1 GiB would be a record every later open
            // rejects. The header keeps the previous snapshot (opens read more log after it:
            // slower, never wrong), and the next try waits for another interval of records.
            guard body.count <= options.snapshotBodyLimit else {
                bytesSinceSnapshot = 0
                statistics.snapshotsSkipped += 1
                return nil
            }
            let offset = try body.withBytes { (raw) throws(JournalError) in
                try appendRecord(
                    .snapshot, stream: 0, chunkIndex: 0, previous: 0, timestamp: Clock.wallMicroseconds(), body: raw)
            }
            bytesSinceSnapshot = 0
            return (offset, end - offset, fileEpoch)
        }
        guard let (offset, length, epoch) = written else { return }
        // Sync leaders write no checkpoint while this waits (`checkpointDue`), so at most the
        // ones already written, or another snapshot's header, stand between this and its write.
        lock.withLock { snapshotHeadersWaiting += 1 }
        defer { lock.withLock { snapshotHeadersWaiting -= 1 } }
        var target = LogPosition(offset: offset + length, epoch: epoch)
        var headerSync: LogPosition?
        while true {
            try makeDurable(upTo: target)
            let next: LogPosition? = try lock.withLock { () throws(JournalError) in
                try checkWritable()
                // A compaction swapped files meanwhile and wrote its own snapshot (this one
                // was in the old file), or a newer snapshot has the header: nothing to write.
                if fileEpoch != epoch || offset < header.snapshotOffset { return nil }
                // Never two header writes unsynced at once (FORMAT.md §10): a header written
                // since that sync is in the other slot, and writing this one would replace the
                // last durable slot, so a power cut could tear both. Sync it first, then look
                // again. One byte past the end: only a sync that starts now covers it.
                if headerWrites != syncedHeaderWrites { return LogPosition(offset: end + 1, epoch: fileEpoch) }
                // Only ever move the checkpoint forward: a concurrent sync may have covered more.
                header.checkpointEnd = max(header.checkpointEnd, offset + length)
                header.snapshotOffset = offset
                header.snapshotLength = length
                try writeHeader()
                statistics.snapshots += 1
                headerSync = LogPosition(offset: end + 1, epoch: fileEpoch)
                return nil
            }
            guard let next else { break }
            target = next
        }
        // The header page becomes durable with this sync, run through group commit so that
        // appends continue meanwhile. A header that did not reach the disk only means the
        // open uses the older slot.
        if let headerSync { try makeDurable(upTo: headerSync) }
    }
}

/// Durability for async callers: they suspend instead of blocking a cooperative thread in
/// `fdatasync`; the maintenance thread runs the sync for them.
extension JournalEngine {
    /// Suspends until a sync covers `target` (or the handle fails).
    func awaitDurable(upTo position: LogPosition) async throws(JournalError) {
        let target = position.offset
        let error: JournalError? = await withUnsafeContinuation { continuation in
            lock.withLock {
                // A compaction swap since: the records are in the synced new file.
                if position.epoch != fileEpoch || syncedEnd >= target {
                    continuation.resume(returning: nil)
                } else if let failure {
                    continuation.resume(returning: failure)
                } else if isClosed {
                    continuation.resume(returning: .closed(path: path))
                } else {
                    durabilityWaiters.append((target, continuation))
                    lock.broadcast()
                }
            }
        }
        if let error { throw error }
    }

    /// Resumes the async waiters a sync has covered, or all of them after a failure; lock held.
    /// `failedSync` is the error of the sync that just failed: the waiters it was meant to
    /// cover learn its errno, as blocked threads do, rather than only that the handle is
    /// poisoned.
    func resumeDurabilityWaitersLocked(failedSync: JournalError? = nil) {
        if durabilityWaiters.isEmpty { return }
        if let failedSync {
            for waiter in durabilityWaiters { waiter.continuation.resume(returning: failedSync) }
            durabilityWaiters.removeAll()
            return
        }
        // Covered by a sync that succeeded: durable, even if the handle failed since.
        durabilityWaiters.removeAll { waiter in
            guard waiter.target <= syncedEnd else { return false }
            waiter.continuation.resume(returning: nil)
            return true
        }
        if let failure {
            for waiter in durabilityWaiters { waiter.continuation.resume(returning: failure) }
            durabilityWaiters.removeAll()
        }
    }

    /// Appends without waiting for durability; returns (first index, end to make durable).
    func appendWithoutAcknowledging(_ bytes: UnsafeRawBufferPointer, to id: StreamID) throws(JournalError) -> (
        Int, LogPosition
    ) {
        let (index, position, bells): (Int, LogPosition, WaiterTable.Doorbells?) = try lock.withLock {
            () throws(JournalError) in
            waitWhileWritesPausedLocked()
            try checkWritable()
            guard let slot = table.slot(of: id) else { throw .unknownStream(id) }
            let entry = table[slot]
            guard entry.status == .open else { throw .streamFinished(id, status: entry.status) }
            if bytes.count > options.maxChunkSize {
                throw .chunkTooLarge(size: bytes.count, limit: options.maxChunkSize)
            }
            try appendChunkLocked(slot: slot, bytes)
            return (Int(entry.chunkCount), endPosition, doorbellsLocked(slot: slot, lastChunkLength: bytes.count))
        }
        bells?.ring()
        return (index, position)
    }
}
