#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Waiting for change: the doorbells behind `StreamFollower` and `JournalEventSequence`.
extension JournalEngine {
    /// How often a read-only handle looks for records another process committed while
    /// someone follows it (FORMAT.md §10: readers poll the committed end).
    static let pollIntervalNanoseconds: UInt64 = 5_000_000

    /// A stream follower's next step, decided under one lock acquisition.
    enum FollowStep {
        /// The next chunk (the common live case: exactly one new chunk, found through the
        /// stream's last-record offset without walking any pointer).
        case chunk(Chunk)
        /// Several chunks are ready: read them with a cursor.
        case replay(ReadView)
        /// The stream has ended and every chunk was seen.
        case finished(StreamInfo)
        /// Nothing new; wait on `slot` (meaningful only within `epoch`, see `fileEpoch`).
        case wait(slot: Int, epoch: Int)
    }

    /// Where a follower that has seen `nextIndex` chunks goes next. `slot`, when given with
    /// the current epoch, spares hashing the id.
    func followStep(of id: StreamID, slot hint: (slot: Int, epoch: Int)?, nextIndex: Int) throws(JournalError)
        -> FollowStep
    {
        try lock.withLock { () throws(JournalError) in try followStepLocked(of: id, slot: hint, nextIndex: nextIndex) }
    }

    private func followStepLocked(of id: StreamID, slot hint: (slot: Int, epoch: Int)?, nextIndex: Int)
        throws(JournalError) -> FollowStep
    {
        // Throws `closed` once the journal is closed (a reader also catches up here).
        try refreshLocked()
        let slot: Int
        if let hint, hint.epoch == fileEpoch, hint.slot < table.count, !table[hint.slot].isDeleted {
            slot = hint.slot
        } else {
            guard let found = table.slot(of: id) else { throw .unknownStream(id) }
            slot = found
        }
        let count = Int(table[slot].chunkCount)
        if count == nextIndex + 1 && table[slot].status == .open {
            // The stream's latest record is this chunk.
            let offset = table[slot].lastOffset
            let header = region.bytes(at: offset, count: RecordField.size)
            return .chunk(
                Chunk(
                    index: nextIndex, timestamp: header.le(RecordField.timestamp, as: Int64.self), region: region,
                    bodyOffset: offset + UInt64(RecordField.size),
                    count: Int(header.le(RecordField.bodyLength, as: UInt32.self))
                ))
        }
        if count > nextIndex {
            let entry = table[slot]
            return .replay(
                ReadView(region: region, end: end, entry: entry, lastChunk: try lastChunkOffsetLocked(entry)))
        }
        if table[slot].status.isFinished { return .finished(table[slot].info) }
        return .wait(slot: slot, epoch: fileEpoch)
    }

    /// Suspends until stream `slot` has more than `knownCount` chunks or has finished, the
    /// journal closes, or the task is cancelled. Returns at once if that is already so.
    func waitForStream(slot: Int, knownCount: Int, epoch: Int) async {
        await wait(slot: slot, known: UInt64(knownCount)) { engine in
            if engine.fileEpoch != epoch { return true }
            let entry = engine.table[slot]
            return Int(entry.chunkCount) > knownCount || entry.status.isFinished
        }
    }

    /// Suspends until the log grows past `knownEnd` (or close, or cancellation).
    func waitForLog(beyond knownEnd: UInt64, epoch: Int) async {
        await wait(slot: nil, known: knownEnd) { engine in engine.end > knownEnd || engine.fileEpoch != epoch }
    }

    private func wait(slot: Int?, known: UInt64, satisfied: (JournalEngine) -> Bool) async {
        let id = waiterIDs.wrappingAdd(1, ordering: .relaxed).oldValue
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                lock.withLock {
                    if !writable { try? refreshLocked() }
                    // Cancellation sets the flag before running the handler, and both run under
                    // the lock: either the handler finds this waiter, or this sees the flag.
                    if isClosed || Task.isCancelled || satisfied(self) {
                        continuation.resume()
                        return
                    }
                    waiters.add(.init(id: id, slot: slot, known: known, wake: .continuation(continuation)))
                    if !writable { startPollerLocked() }
                }
            }
        } onCancel: {
            lock.withLock { waiters.remove(id, slot: slot)?.wake.fire() }
        }
    }

    /// Registers `callback` to run once when stream `id` has more than `knownCount` chunks or
    /// has ended (at once if it already has). Returns a token for `cancelWatch`.
    func watch(_ id: StreamID, beyond knownCount: Int, callback: @escaping @Sendable () -> Void) throws(JournalError)
        -> UInt64
    {
        try lock.withLock { () throws(JournalError) in
            try refreshLocked()
            guard let slot = table.slot(of: id) else { throw .unknownStream(id) }
            let token = waiterIDs.wrappingAdd(1, ordering: .relaxed).oldValue
            let entry = table[slot]
            if Int(entry.chunkCount) > knownCount || entry.status.isFinished {
                callback()
            } else {
                waiters.add(.init(id: token, slot: slot, known: UInt64(knownCount), wake: .callback(callback)))
                if !writable { startPollerLocked() }
            }
            return token
        }
    }

    /// Drops a watch that has not fired; returns whether it was still registered.
    func cancelWatch(_ token: UInt64) -> Bool {
        lock.withLock { waiters.remove(token) != nil }
    }

    /// Number of suspended followers (tests check that cancellation releases them).
    var waiterCount: Int { lock.withLock { waiters.count } }

    // MARK: Read-only poller

    /// Starts the thread that polls for other processes' commits, if none runs; lock held.
    private func startPollerLocked() {
        if pollerRunning { return }
        pollerRunning = true
        if let thread = startBackgroundThread({ self.pollLoop() }) {
            pthread_detach(thread)
        } else {
            pollerRunning = false
        }
    }

    /// Refreshes every few milliseconds while anyone waits; exits when nobody does.
    private func pollLoop() {
        lock.lock()
        while !isClosed && !waiters.isEmpty {
            lock.wait(nanoseconds: JournalEngine.pollIntervalNanoseconds)
            try? refreshLocked()
            wakeSatisfiedLocked()
        }
        pollerRunning = false
        lock.unlock()
    }

    /// Resumes every waiter whose condition now holds; lock held.
    func wakeSatisfiedLocked() {
        if waiters.isEmpty { return }
        waiters.wake { waiter in
            guard let slot = waiter.slot else { return end > waiter.known }
            let entry = table[slot]
            return UInt64(entry.chunkCount) > waiter.known || entry.status.isFinished
        }
    }
}
