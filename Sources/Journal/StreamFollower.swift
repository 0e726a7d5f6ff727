/// One step of a followed stream.
public enum StreamEvent: Sendable {
    /// The next chunk, in index order, read from the file's mapping.
    case chunk(Chunk)
    /// The stream ended; the last event of the sequence. The info carries the status and
    /// the reason.
    case finished(StreamInfo)
}

/// A stream's chunks from an index on: first those already stored (replay), then each new
/// one as it is committed (live), then `.finished` with the terminal state.
///
/// No chunk is skipped or repeated at the boundary between replay and live: the follower
/// tracks the next index itself and asks the journal for exactly that one. Followers read
/// chunks from the mapping; the journal only wakes them, so a thousand followers of one
/// stream cost no copy of any chunk, and a slow follower simply lags behind in the file.
/// Cancelling the consuming task ends the sequence promptly (it returns nil).
///
/// A follower of a read-only handle sees a writer in another process by polling the
/// committed end every 5 ms while it waits.
public struct StreamFollower: AsyncSequence, Sendable {
    /// The element: a chunk or the end.
    public typealias Element = StreamEvent

    let engine: JournalEngine
    let id: StreamID
    /// The stream's number when `follow` was called: a stream created later under the same
    /// id is another stream, and ends this follow with `unknownStream`.
    let number: UInt32
    let start: Int

    /// Starts the follow.
    public func makeAsyncIterator() -> Iterator {
        Iterator(engine: engine, id: id, number: number, nextIndex: start)
    }

    /// Reads replay, then live chunks, then the end.
    public struct Iterator: AsyncIteratorProtocol {
        let engine: JournalEngine
        let id: StreamID
        let number: UInt32
        var nextIndex: Int
        var cursor: ChunkCursor?
        var done = false
        /// The stream's slot in the engine's table and the file epoch it belongs to.
        var slot: (slot: Int, epoch: Int)?
        /// This follower's own handle on the journal's mapping, which its chunks hold.
        var alias: MappedRegion?

        /// The next event: a chunk, or `.finished` once, then nil. Throws if the journal
        /// closes, the stream is deleted (`unknownStream`), a record is damaged or a read-only
        /// handle cannot start its poller thread (`io`); after that, and when the task is
        /// cancelled, returns nil.
        public mutating func next() async throws -> StreamEvent? {
            do {
                return try await step()
            } catch {
                // An iterator that threw is finished (and lets go of its mapping): asked again,
                // it would look the id up anew.
                finish()
                throw error
            }
        }

        private mutating func step() async throws -> StreamEvent? {
            while !done {
                if Task.isCancelled {
                    finish()
                    return nil
                }
                if var current = cursor {
                    let chunk = try current.next()
                    cursor = current
                    if let chunk {
                        nextIndex = chunk.index + 1
                        return .chunk(chunk)
                    }
                    cursor = nil
                }
                guard
                    let step = try await engine.nextFollowStep(
                        of: id, number: number, slot: &slot, nextIndex: nextIndex, alias: &alias)
                else {
                    finish()
                    return nil
                }
                switch step {
                case .chunk(let chunk):
                    nextIndex += 1
                    return .chunk(chunk)
                case .replay(let view):
                    cursor = ChunkCursor(view: view, from: nextIndex, path: engine.path)
                case .finished(let info):
                    finish()
                    return .finished(info)
                case .wait:
                    break  // not returned by nextFollowStep
                }
            }
            return nil
        }

        /// Ends the sequence and lets go of the mapping: a parked iterator must not keep an
        /// old mapping (after a compaction, an unlinked file's blocks) alive.
        private mutating func finish() {
            done = true
            cursor = nil
            alias = nil
        }
    }
}

/// Something that happened in the journal, in log order.
///
/// Every event carries what its record says (timestamps are the record's, in microseconds
/// since the Unix epoch), never the stream's state now: replaying a stream that was since
/// deleted, or deleted and created again, must show what happened then.
public enum JournalEvent: Sendable {
    /// A stream was created.
    case streamOpened(StreamID, metadata: [String: String], timestamp: Int64)
    /// A chunk was appended to a stream (the chunk has its own index and timestamp).
    case chunkAppended(StreamID, Chunk)
    /// A stream ended with this status (and reason, if any) after `chunkCount` chunks.
    case streamFinished(StreamID, status: StreamStatus, reason: String?, chunkCount: Int, timestamp: Int64)
    /// A stream was deleted.
    case streamDeleted(StreamID, timestamp: Int64)

    /// The stream the event is about.
    public var stream: StreamID {
        switch self {
        case .streamOpened(let id, _, _), .chunkAppended(let id, _), .streamFinished(let id, _, _, _, _),
            .streamDeleted(let id, _):
            return id
        }
    }

    /// When the event's record was written (microseconds since the Unix epoch).
    public var timestamp: Int64 {
        switch self {
        case .streamOpened(_, _, let timestamp), .streamFinished(_, _, _, _, let timestamp),
            .streamDeleted(_, let timestamp):
            return timestamp
        case .chunkAppended(_, let chunk):
            return chunk.timestamp
        }
    }
}

/// Every stream opened, chunk appended, stream finished and stream deleted, in the order
/// they were written: the log itself, tailed. For dashboards and `journalctl-stream follow`.
/// It runs until the task is cancelled or the journal closes.
public struct JournalEventSequence: AsyncSequence, Sendable {
    /// The element: one event.
    public typealias Element = JournalEvent

    let engine: JournalEngine
    let start: UInt64
    /// The file `start` is an offset in (a compaction may replace it before the first
    /// `next()`), and that file's mapping, to read the rest of it from. Held until the
    /// sequence is released: make the iterator and let the sequence go, so that a compacted
    /// file's blocks are not kept.
    let epoch: Int
    let region: MappedRegion

    /// Starts tailing.
    public func makeAsyncIterator() -> Iterator {
        Iterator(engine: engine, position: start, epoch: epoch, region: region)
    }

    /// Reads records from the mapping from a log position on.
    public struct Iterator: AsyncIteratorProtocol {
        let engine: JournalEngine
        var position: UInt64
        var names: [UInt32: StreamID] = [:]
        /// The file epoch `position` belongs to, and that file's mapping.
        var epoch: Int?
        var region: MappedRegion?
        /// The committed end of the last view: a read-only handle looks for other processes'
        /// records only once the iterator has read up to it, not once per event of a backlog.
        var viewEnd: UInt64?

        /// The next event, or nil when the task is cancelled. Throws `closed` when the
        /// journal closes, `corruption` for damaged records, and `io` when a read-only handle
        /// cannot start its poller thread.
        public mutating func next() async throws -> JournalEvent? {
            while !Task.isCancelled {
                let view = try engine.logView(refresh: viewEnd.map { position >= $0 } ?? true)
                viewEnd = view.end
                if view.isClosed { throw JournalError.closed(path: engine.path) }
                var end = view.end
                var region = view.region
                // Reading the rest of a replaced file: its end says nothing about the new one.
                var readingOldFile = false
                if let epoch, epoch != view.epoch {
                    // A compaction replaced the file. Finish what was left of the old log (its
                    // mapping stays valid), then continue where the new file's appends start.
                    // A mapping shorter than the old log (the file was mapped again, larger,
                    // after our last look) cannot be read to its end: its tail is skipped
                    // (FORMAT.md §9). Keeping the larger mapping for such a follower would keep
                    // the old file's blocks allocated after every compaction.
                    if let swap = view.lastSwap, swap.epoch == epoch + 1, let old = self.region,
                        position < swap.oldEnd, swap.oldEnd <= UInt64(old.length)
                    {
                        region = old
                        end = swap.oldEnd
                        readingOldFile = true
                    } else {
                        position = view.lastSwap.map { $0.epoch == epoch + 1 ? $0.newStart : view.end } ?? view.end
                        self.epoch = view.epoch
                        continue
                    }
                } else {
                    epoch = view.epoch
                    self.region = view.region
                }
                while position < end {
                    let log = region.bytes(at: 0, count: Int(end))
                    guard case .record(let header) = decodeRecord(in: log, at: position, maxGeneration: .max) else {
                        throw JournalError.corruption(
                            path: engine.path, offset: position, detail: "a committed record does not decode")
                    }
                    let at = position
                    position += UInt64(header.alignedSize)
                    let body = UnsafeRawBufferPointer(
                        rebasing: log[Int(at) + RecordField.size..<Int(at) + RecordField.size + Int(header.bodyLength)])
                    switch header.type {
                    case .snapshot, .padding:
                        continue
                    case .streamOpen:
                        guard let open = try? StreamOpenBody.decode(body) else { continue }
                        let id = StreamID(trusted: open.id)
                        names[header.stream] = id
                        return .streamOpened(id, metadata: open.metadata, timestamp: header.timestamp)
                    case .chunk:
                        let chunk = Chunk(
                            index: Int(header.chunkIndex), timestamp: header.timestamp, region: region,
                            bodyOffset: at + UInt64(RecordField.size), count: Int(header.bodyLength))
                        return .chunkAppended(try name(of: header.stream), chunk)
                    case .deleted:
                        return .streamDeleted(try name(of: header.stream), timestamp: header.timestamp)
                    case .completed, .failed, .cancelled, .interrupted:
                        let reason = body.isEmpty ? nil : String(decoding: body, as: UTF8.self)
                        // A terminal record's chunk index field is the stream's chunk count.
                        return .streamFinished(
                            try name(of: header.stream), status: header.type.terminalStatus!, reason: reason,
                            chunkCount: Int(header.chunkIndex), timestamp: header.timestamp)
                    }
                }
                // Only the current file's end means "caught up". The old file's rest may hold
                // no event at all (a snapshot): the new file's records are next, not a wait
                // that lasted until some later append when both files happened to end at the
                // same offset.
                if !readingOldFile && end == view.end {
                    try await engine.waitForLog(beyond: end, epoch: view.epoch)
                }
            }
            return nil
        }

        private mutating func name(of number: UInt32) throws -> StreamID {
            if let id = names[number] { return id }
            guard let id = engine.streamID(number: number) else {
                throw JournalError.corruption(
                    path: engine.path, offset: position, detail: "record for unknown stream number \(number)")
            }
            names[number] = id
            return id
        }
    }
}

extension Journal {
    /// Follows `stream` from chunk `index`: replay, then live, then `.finished`.
    /// Throws `unknownStream` or `indexOutOfRange` (an index beyond the stored chunks).
    public func follow(_ stream: StreamID, from index: Int = 0) throws(JournalError) -> StreamFollower {
        let (number, count) = try engine.followTarget(stream)
        guard index >= 0, index <= count else {
            throw .indexOutOfRange(stream, index: index, count: count)
        }
        return StreamFollower(engine: engine, id: stream, number: number, start: index)
    }

    /// Where `events(from:)` starts.
    public enum EventStart: Sendable {
        /// Only what happens from now on.
        case now
        /// Everything in the log, then what happens from now on.
        case beginning
    }

    /// Journal-wide events: streams opened, chunks appended, streams finished, streams deleted.
    public func events(from start: EventStart = .now) throws(JournalError) -> JournalEventSequence {
        let view = try engine.logView()
        return JournalEventSequence(
            engine: engine, start: start == .now ? view.end : Layout.logStart, epoch: view.epoch, region: view.region)
    }
}

/// A one-shot registration from `Journal.watch`.
public struct StreamWatch: Sendable {
    let engine: JournalEngine
    let token: UInt64

    /// Unregisters the callback if it has not run; returns true when it was still pending.
    /// False means it was taken to be run, not that it has finished: what it signals must
    /// stay valid (an event loop keeps its eventfd open) until the callback is known to
    /// have returned.
    @discardableResult
    public func cancel() -> Bool { engine.cancelWatch(token) }
}

extension Journal {
    /// For event loops that cannot hold a task per reader: runs `callback` once, when
    /// `stream` has more than `knownCount` chunks or has ended — at once if it already has.
    ///
    /// The callback runs on the thread that made the change, with the journal locked or
    /// just after (an append rings it once the lock is released): it must only signal (write
    /// to an eventfd, post a semaphore) and return, never call the journal. Register again
    /// after reading to be told of the next change. On a read-only handle, throws `io` when
    /// the thread that polls for the writer's commits cannot start.
    @discardableResult
    public func watch(_ stream: StreamID, beyond knownCount: Int, callback: @escaping @Sendable () -> Void)
        throws(JournalError) -> StreamWatch
    {
        StreamWatch(engine: engine, token: try engine.watch(stream, beyond: knownCount, callback: callback))
    }
}

extension JournalEngine {
    /// What a journal-wide follower needs: the mapping, the committed end, and the file
    /// epoch with the last swap (to cross a compaction without a gap; a read-only handle
    /// learns the swap point from the new file's headers, when they still hold it, §9).
    struct LogView {
        let region: MappedRegion
        let end: UInt64
        let isClosed: Bool
        let epoch: Int
        let lastSwap: (epoch: Int, oldEnd: UInt64, newStart: UInt64)?
    }

    /// The mapping and the committed end; with `refresh`, a read-only handle first looks for
    /// records other processes committed.
    func logView(refresh: Bool = true) throws(JournalError) -> LogView {
        try lock.withLock { () throws(JournalError) in
            if refresh && !isClosed { try refreshLocked() }
            return LogView(region: region, end: end, isClosed: isClosed, epoch: fileEpoch, lastSwap: lastSwap)
        }
    }

    func streamID(number: UInt32) -> StreamID? {
        lock.withLock {
            // A stream deleted since leaves its entry behind: its older records still need a name.
            // One a compaction dropped is named by the swap, for a follower reading the rest of
            // the old file (a stream opened before the follower started has no open record it
            // read).
            table.slot(number: number).map { table[$0].id } ?? table.entries.last { $0.number == number }?.id
                ?? lastSwapNames[number]
        }
    }
}
