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

    /// Where a follower that has seen `nextIndex` chunks goes next; lock held. `slot`, when
    /// given with the current epoch, spares hashing the id. `alias` is the follower's own
    /// handle on the mapping (see `MappedRegion(aliasing:)`): the chunks and views returned
    /// read through it, and it is replaced when the engine has mapped the file again.
    private func followStepLocked(
        of id: StreamID, number: UInt32, slot hint: (slot: Int, epoch: Int)?, nextIndex: Int,
        alias: inout MappedRegion?
    ) throws(JournalError) -> FollowStep {
        // A read-only handle looks for other processes' records at each step until the
        // follower first waits (`hint` is where it waited); from then on the poller looks,
        // every `pollIntervalNanoseconds` while anyone waits, and wakes whoever new records
        // satisfy. A look per step cost each live follower a stat(2) of the path per chunk:
        // a thousand per chunk for a thousand followers. When the poller's look failed, each
        // follower looks again to meet the error itself.
        if hint == nil || pollFailure != nil {
            try refreshLocked()
        } else if isClosed {
            throw .closed(path: path)
        }
        let slot: Int
        if let hint, hint.epoch == fileEpoch, hint.slot < table.count, !table[hint.slot].isDeleted {
            slot = hint.slot
        } else {
            // The id may name a stream created since under it (deleted and created again):
            // the follower's stream is the one with its number, which compaction keeps and no
            // later stream gets (§9). Following the new one on from this index would skip its
            // first chunks and pass off the old stream's as its own.
            guard let found = table.slot(of: id), table[found].number == number else { throw .unknownStream(id) }
            slot = found
        }
        if alias?.base != region.base { alias = MappedRegion(aliasing: region) }
        let mapping = alias!
        let count = Int(table[slot].chunkCount)
        if count == nextIndex + 1 && table[slot].status == .open && table[slot].lastOffset >= checkedFrom {
            // The stream's latest record is this chunk, and this handle checked it when it
            // wrote or scanned it. One from before the snapshot the open loaded goes the
            // replay way below, whose cursor checks it as every read checks a record it
            // returns (FORMAT.md §7), outside the lock: a snapshot's `lastOffset` is taken on
            // trust, and a damaged or hostile one led this read into another record's
            // payload (a length from there read past the mapping: SIGBUS).
            let offset = table[slot].lastOffset
            let header = mapping.bytes(at: offset, count: RecordField.size)
            return .chunk(
                Chunk(
                    index: nextIndex, timestamp: header.le(RecordField.timestamp, as: Int64.self), region: mapping,
                    bodyOffset: offset + UInt64(RecordField.size),
                    count: Int(header.le(RecordField.bodyLength, as: UInt32.self))
                ))
        }
        if count > nextIndex {
            let entry = table[slot]
            return .replay(
                ReadView(region: mapping, end: end, entry: entry, lastChunk: try lastChunkOffsetLocked(entry)))
        }
        if table[slot].status.isFinished { return .finished(table[slot].info) }
        return .wait(slot: slot, epoch: fileEpoch)
    }

    /// Where a reader that has seen `nextIndex` chunks goes next, decided now: `.wait` when
    /// nothing is new (the caller arms a watch; `StreamBroadcast` reads this way, never
    /// suspending a task). `slot` and `alias` are as for `nextFollowStep`.
    func followStep(
        of id: StreamID, number: UInt32, slot hint: inout (slot: Int, epoch: Int)?, nextIndex: Int,
        alias: inout MappedRegion?
    ) throws(JournalError) -> FollowStep {
        try lock.withLock { () throws(JournalError) in
            let step = try followStepLocked(of: id, number: number, slot: hint, nextIndex: nextIndex, alias: &alias)
            if case .wait(let slot, let epoch) = step { hint = (slot, epoch) }
            return step
        }
    }

    /// A follower's next step: `.chunk`, `.replay` or `.finished`, never `.wait`: while
    /// there is nothing new it suspends. Nil when the task is cancelled.
    ///
    /// One lock acquisition decides and, when nothing is new, registers the waiter; an append
    /// of the awaited chunk hands it over with the wake, so a live follower takes the lock
    /// once per chunk (twice for the first chunk after the writer maps the file again).
    func nextFollowStep(
        of id: StreamID, number: UInt32, slot hint: inout (slot: Int, epoch: Int)?, nextIndex: Int,
        alias: inout MappedRegion?
    ) async throws(JournalError) -> FollowStep? {
        while true {
            if Task.isCancelled { return nil }
            let waiterID = waiterIDs.wrappingAdd(1, ordering: .relaxed).oldValue
            let knownSlot = hint?.slot
            var outcome: Result<FollowStep, JournalError>?
            var waitedOn: (slot: Int, epoch: Int)?
            var mapping = alias
            let news: WaiterTable.News = await withTaskCancellationHandler {
                await withUnsafeContinuation { (continuation: UnsafeContinuation<WaiterTable.News, Never>) in
                    lock.lock()
                    do throws(JournalError) {
                        let step = try followStepLocked(
                            of: id, number: number, slot: knownSlot.map { ($0, hint!.epoch) }, nextIndex: nextIndex,
                            alias: &mapping)
                        // Cancellation sets the flag before running the handler, and both take
                        // the lock: either the handler finds this waiter, or this sees the flag.
                        if case .wait(let slot, let epoch) = step, !Task.isCancelled {
                            // Before registering: a poller that cannot start is this
                            // follower's error, not a wait nobody would end.
                            if !writable { try startPollerLocked() }
                            waitedOn = (slot, epoch)
                            waiters.add(
                                .init(
                                    id: waiterID, slot: slot, known: UInt64(nextIndex),
                                    wake: .continuation(continuation)))
                            lock.unlock()
                            return
                        }
                        outcome = .success(step)
                    } catch {
                        outcome = .failure(error)
                    }
                    lock.unlock()
                    continuation.resume(returning: .changed)
                }
            } onCancel: {
                lock.withLock { waiters.remove(waiterID, slot: knownSlot)?.wake.fire() }
            }
            if let waitedOn { hint = waitedOn }
            alias = mapping
            if let outcome {
                let step = try outcome.get()
                if case .wait = step { return nil }  // cancelled before registering
                return step
            }
            if case .chunk(let fresh) = news, fresh.index == nextIndex, let mapping,
                let chunk = fresh.chunk(through: mapping)
            {
                return .chunk(chunk)
            }
        }
    }

    /// Suspends until the log grows past `knownEnd` (or close, or cancellation). Throws when
    /// a read-only handle cannot start the poller that would end the wait.
    func waitForLog(beyond knownEnd: UInt64, epoch: Int) async throws(JournalError) {
        try await wait(slot: nil, known: knownEnd) { engine in engine.end > knownEnd || engine.fileEpoch != epoch }
    }

    private func wait(slot: Int?, known: UInt64, satisfied: (JournalEngine) -> Bool) async throws(JournalError) {
        let id = waiterIDs.wrappingAdd(1, ordering: .relaxed).oldValue
        var failure: JournalError?
        _ = await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<WaiterTable.News, Never>) in
                lock.withLock {
                    // A look that fails returns at once: the caller's next look throws.
                    let failed = !writable && (try? refreshLocked()) == nil
                    // Cancellation sets the flag before running the handler, and both run under
                    // the lock: either the handler finds this waiter, or this sees the flag.
                    if failed || isClosed || Task.isCancelled || satisfied(self) {
                        continuation.resume(returning: .changed)
                        return
                    }
                    if !writable {
                        do throws(JournalError) { try startPollerLocked() } catch {
                            failure = error
                            continuation.resume(returning: .changed)
                            return
                        }
                    }
                    waiters.add(.init(id: id, slot: slot, known: known, wake: .continuation(continuation)))
                }
            }
        } onCancel: {
            lock.withLock { waiters.remove(id, slot: slot)?.wake.fire() }
        }
        if let failure { throw failure }
    }

    /// What `Journal.follow` binds a follower to: the stream's number (the id may later name
    /// another stream) and its chunk count now.
    func followTarget(_ id: StreamID) throws(JournalError) -> (number: UInt32, chunkCount: Int) {
        try lock.withLock { () throws(JournalError) in
            try refreshLocked()
            guard let slot = table.slot(of: id) else { throw .unknownStream(id) }
            return (table[slot].number, Int(table[slot].chunkCount))
        }
    }

    /// Registers `callback` to run once when stream `id` has more than `knownCount` chunks or
    /// has ended (at once if it already has). Returns a token for `cancelWatch`. With
    /// `number`, only that stream will do: an id deleted and created again since names
    /// another stream, and a watch on it would wait for that stream's chunks.
    func watch(
        _ id: StreamID, number: UInt32? = nil, beyond knownCount: Int, callback: @escaping @Sendable () -> Void
    ) throws(JournalError) -> UInt64 {
        try lock.withLock { () throws(JournalError) in
            try refreshLocked()
            guard let slot = table.slot(of: id), number.map({ $0 == table[slot].number }) ?? true else {
                throw .unknownStream(id)
            }
            let token = waiterIDs.wrappingAdd(1, ordering: .relaxed).oldValue
            // Fields, not `table[slot]` whole: a copy of the entry retains and releases each
            // of its strings, its metadata and its block index, for every registration.
            if Int(table[slot].chunkCount) > knownCount || table[slot].status.isFinished {
                callback()
            } else {
                if !writable { try startPollerLocked() }
                waiters.add(.init(id: token, slot: slot, known: UInt64(knownCount), wake: .callback(callback)))
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
    /// Throws when it cannot start (EAGAIN under a thread limit): the waiter about to
    /// register would otherwise wait for a look nobody makes.
    private func startPollerLocked() throws(JournalError) {
        if pollerRunning { return }
        let thread = try io("pthread_create (the poller thread)") { () throws(Errno) in
            try interposer.around(.startThread(name: "poller"), descriptor: -1) { () throws(Errno) in
                // The thread's first step takes the lock this caller holds.
                try startBackgroundThread { self.pollLoop() }
            }
        }
        pollerRunning = true
        statistics.pollerStarts += 1
        pthread_detach(thread)
    }

    /// How long the poller stays once nobody waits: a follower woken for a chunk waits again
    /// a moment later, and a poller that left at once was started again for every chunk (a
    /// thread per chunk for a single follower).
    static let pollerLingerNanoseconds: UInt64 = 1_000_000_000

    /// Refreshes every few milliseconds while anyone waits; exits when nobody has waited for
    /// `pollerLingerNanoseconds` (or the handle closes).
    private func pollLoop() {
        lock.lock()
        var idleSince: UInt64?
        while !isClosed {
            if waiters.isEmpty {
                let now = Clock.monotonicNanoseconds()
                if let idleSince, now - idleSince >= JournalEngine.pollerLingerNanoseconds { break }
                idleSince = idleSince ?? now
            } else {
                idleSince = nil
            }
            lock.wait(nanoseconds: JournalEngine.pollIntervalNanoseconds)
            // Nobody to look for: no stat(2) of the path while lingering.
            if waiters.isEmpty { continue }
            statistics.pollerLookups += 1
            do {
                // Wakes whoever the new records satisfy (and clears `pollFailure`).
                try refreshLocked()
            } catch {
                // Waiters would otherwise wait for records the handle can no longer read:
                // wake them all to look for themselves and throw (watch callbacks read and
                // meet the error the same way).
                pollFailure = error
                waiters.wakeAll()
            }
        }
        pollerRunning = false
        lock.unlock()
    }

    /// Resumes every waiter whose condition now holds; lock held.
    func wakeSatisfiedLocked() {
        if waiters.isEmpty { return }
        statistics.waiterChecks += waiters.count
        waiters.wake { waiter in
            guard let slot = waiter.slot else { return end > waiter.known }
            let entry = table[slot]
            // A delete ends the stream's followers too (they then find it gone); without it a
            // follower on a read-only handle waited for good, and the poller with it.
            return UInt64(entry.chunkCount) > waiter.known || entry.status.isFinished || entry.isDeleted
        }
    }
}
