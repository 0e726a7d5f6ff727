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

    /// What a stream follower needs to decide its next step.
    struct FollowState {
        let chunkCount: Int
        let info: StreamInfo
        let slot: Int
        /// Slots are only meaningful within one file: see `fileEpoch`.
        let epoch: Int
    }

    func followState(of id: StreamID) throws(JournalError) -> FollowState {
        try lock.withLock { () throws(JournalError) in
            try refreshLocked()
            guard let slot = table.slot(of: id) else { throw .unknownStream(id) }
            let entry = table[slot]
            return FollowState(chunkCount: Int(entry.chunkCount), info: entry.info, slot: slot, epoch: fileEpoch)
        }
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

    private func wait(slot: Int?, known: UInt64, satisfied: @escaping (JournalEngine) -> Bool) async {
        let id = lock.withLock { waiters.makeID() }
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
            lock.withLock { waiters.remove(id)?.wake.fire() }
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
            let token = waiters.makeID()
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
