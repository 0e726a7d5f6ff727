import Dispatch
import Synchronization

/// One reader for every follower of a stream: each chunk is read once from the mapping and
/// handed to every subscriber's handler in turn, from one serial queue.
///
/// `Journal.follow` gives each follower a task of its own, and each new chunk then costs one
/// task resumption per follower: with a thousand followers on two cores, the last is resumed
/// milliseconds after the append, however little the journal does. A broadcast is woken once
/// per change by one `Journal.watch`, reads the new chunks once, and calls each handler
/// directly, so a chunk reaches a thousand subscribers within a few tenths of a millisecond
/// (Benchmarks, "subscribers of one StreamBroadcast"). This is the shape for a server that writes each
/// event to many sockets (journal-server's own hub, separate code, has it too).
///
/// Each subscriber starts at its own index, receives every chunk from there in order with no
/// gap or repeat, whenever it joins, and then `.finished` (or a failure) as its last call.
/// Handlers run one at a time on the broadcast's queue, never on the appending thread: the
/// writer never waits for them. They must not block, since a handler that blocks holds up
/// every subscriber after it. One whose output is full (a socket that would block) pauses
/// its subscription and resumes it once the output drains: meanwhile it costs the others
/// nothing and holds no chunk, and on resuming it reads what it missed from the file at its
/// own pace. A handler may call the journal, subscribe others, pause or cancel.
///
/// Between chunks the broadcast holds its subscribers, one watch and a handle on the
/// mapping (let go of once nobody subscribes), and no chunk: a subscriber that joins behind
/// reads its backlog from the file, a batch at a time between the live deliveries. Once the
/// last subscriber is cancelled, the watch is withdrawn (by the queue, if it was being
/// armed at that moment).
public final class StreamBroadcast: @unchecked Sendable {
    /// A subscriber's handler. It receives `.success(.chunk)` for each chunk in index order,
    /// then `.success(.finished)` once the stream has ended, or `.failure` when the stream
    /// cannot be read on (deleted, the journal closed, a damaged record); either is the last
    /// call.
    public typealias Handler = @Sendable (Result<StreamEvent, JournalError>) -> Void

    /// The stream broadcast.
    public let stream: StreamID
    let engine: JournalEngine
    /// The stream's number: a stream created later under the same id is another stream, and
    /// ends this broadcast with `unknownStream`, as it ends a follow.
    let number: UInt32
    private let queue: DispatchQueue

    // Guarded by `lock`. Never held while calling the engine or a handler: a watch can ring
    // under the engine's lock, and its callback takes this one.
    private let lock = Lock()
    private var joiners: [Subscriber] = []
    private var live = 0
    private var phase = Phase.idle
    /// The one registered watch, by the generation that armed it; its token is nil until
    /// `engine.watch` has returned. A watch still armed when the drain runs again (a new
    /// subscriber, not a change, woke it) is kept: any change of the stream rings it.
    private var armed: (generation: UInt64, token: UInt64?)?
    private var generation: UInt64 = 0
    /// The failure that ended the broadcast; later subscriptions are refused with it.
    private var failure: JournalError?

    // Touched only on `queue`.
    private var members: [Subscriber] = []
    /// The next chunk the shared read returns.
    private var position = 0
    private var slot: (slot: Int, epoch: Int)?
    private var alias: MappedRegion?

    private enum Phase {
        /// Nothing queued: the next ring queues a drain.
        case idle
        /// A drain is queued or running and will see every change so far.
        case queued
        /// A drain is running and something changed since it began: it runs again.
        case again
    }

    init(engine: JournalEngine, stream: StreamID, number: UInt32, position: Int) {
        self.engine = engine
        self.stream = stream
        self.number = number
        self.position = position
        queue = DispatchQueue(label: "StreamBroadcast \(stream)")
    }

    /// Whether no drain is queued or running (tests: a paused subscriber costs no work).
    var isIdle: Bool { lock.withLock { phase == .idle } }

    /// Subscribers that have not been cancelled and have not been given their last call
    /// (a subscriber is counted out just before it).
    public var subscriberCount: Int { lock.withLock { live } }

    /// Adds a subscriber that receives the stream's chunks from `index` (replayed from the
    /// file if already stored), each new one as it is committed, then the end.
    ///
    /// Throws `unknownStream` when the stream was deleted (or its id now names another
    /// stream), `indexOutOfRange` for an index beyond the stored chunks, `closed`, or the
    /// failure that already ended this broadcast (its stream deleted, the journal closed).
    @discardableResult
    public func subscribe(from index: Int = 0, _ handler: @escaping Handler) throws(JournalError)
        -> BroadcastSubscription
    {
        let (number, count) = try engine.followTarget(stream)
        guard number == self.number else { throw .unknownStream(stream) }
        guard index >= 0, index <= count else { throw .indexOutOfRange(stream, index: index, count: count) }
        let subscriber = Subscriber(handler: handler, next: index)
        let queueDrain = try lock.withLock { () throws(JournalError) -> Bool in
            if let failure { throw failure }
            joiners.append(subscriber)
            live += 1
            return ringLocked()
        }
        if queueDrain { queue.async { self.drain() } }
        return BroadcastSubscription(broadcast: self, subscriber: subscriber)
    }

    /// Asks for a drain; true when the caller must queue it (after unlocking).
    private func ringLocked() -> Bool {
        switch phase {
        case .idle:
            phase = .queued
            return true
        case .queued:
            phase = .again
            return false
        case .again:
            return false
        }
    }

    /// Ends `subscriber`'s calls (see `BroadcastSubscription.cancel`).
    func cancel(_ subscriber: Subscriber) {
        guard subscriber.retire() else { return }
        var withdrawn: UInt64?
        let queueDrain = lock.withLock {
            withdrawn = leaveLocked()
            // The drain lets go of the handler (and whatever it holds) now, not at the next
            // chunk, which may never come.
            return ringLocked()
        }
        if let withdrawn { _ = engine.cancelWatch(withdrawn) }
        if queueDrain { queue.async { self.drain() } }
    }

    /// Restarts a paused subscriber's calls (see `BroadcastSubscription.resume`).
    func resume(_ subscriber: Subscriber) {
        // Only a paused one: a server that resumes on every writable event must not cut the
        // live read short (through `hasNews`) each time.
        guard subscriber.setPaused(false), !subscriber.isRetired else { return }
        if lock.withLock({ ringLocked() }) { queue.async { self.drain() } }
    }

    /// One subscriber fewer; returns the watch to withdraw when it was the last.
    private func leaveLocked() -> UInt64? {
        live -= 1
        guard live == 0, let watch = armed else { return nil }
        // One being armed right now (no token yet) is withdrawn by `arm` itself.
        armed = nil
        return watch.token
    }

    /// Serves every subscriber what it lacks, then waits for the next change. On `queue`.
    private func drain() {
        while true {
            lock.withLock {
                members += joiners
                joiners.removeAll()
            }
            prune()
            if !members.isEmpty { serve() }
            prune()
            if members.isEmpty {
                // Nobody to read for: the mapping goes (after a compaction, the old file's
                // blocks would stay allocated), and the next subscriber looks the stream up.
                alias = nil
                slot = nil
            }
            let done = lock.withLock {
                if phase == .again {
                    phase = .queued
                    return false
                }
                phase = .idle
                return true
            }
            if done { return }
        }
    }

    /// Drops cancelled and finished subscribers, letting go of their handlers.
    private func prune() {
        members.removeAll { member in
            guard member.isRetired else { return false }
            member.release()
            return true
        }
    }

    /// How many chunks of its backlog a subscriber behind the shared read is given per
    /// round: one that joins a million chunks back must not hold up those already live.
    static let replayBatch = 256

    /// How many chunks the shared read hands out in a round while someone catches up: half
    /// a backlog batch, so that under a producer that never lets the read wait, a subscriber
    /// behind gains 128 chunks a round instead of keeping its distance for good.
    static let sharedBatchWhileCatchingUp = replayBatch / 2

    private func serve() {
        do throws(JournalError) {
            // Nobody needs the chunks before the lowest subscriber's index (all who wanted
            // them left while the stream grew): the shared read skips them.
            if let lowest = members.lazy.map(\.next).min(), lowest > position { position = lowest }
            // Subscribers that joined behind the shared read catch up from the file, a batch a
            // round. A damaged record in one's backlog ends that one: the others are past it.
            var caughtUpSome = false
            for member in members where member.next < position && member.isReady {
                let before = member.next
                do throws(JournalError) {
                    try replay(member, upTo: min(position, member.next + Self.replayBatch))
                } catch {
                    finish(member, with: .failure(error))
                }
                caughtUpSome = caughtUpSome || member.next > before
            }
            // A batch of the shared read, then another of the backlogs: under a producer that
            // never lets the read wait, a subscriber behind (one that resumed) had its next
            // batch only when the stream ended.
            let sharedLimit =
                members.contains { $0.next < position && $0.isReady } ? Self.sharedBatchWhileCatchingUp : nil
            var shared = 0
            var stoppedShort = false
            read: while true {
                switch try engine.followStep(
                    of: stream, number: number, slot: &slot, nextIndex: position, alias: &alias)
                {
                case .chunk(let chunk):
                    deliver(chunk)
                    shared += 1
                    if hasNews { break read }
                    if shared == sharedLimit {
                        stoppedShort = true
                        break read
                    }
                case .replay(let view):
                    var cursor = ChunkCursor(view: view, from: position, path: engine.path)
                    while let chunk = try cursor.next() {
                        deliver(chunk)
                        shared += 1
                        if hasNews { break read }
                        if shared == sharedLimit {
                            stoppedShort = true
                            break read
                        }
                    }
                case .finished(let info):
                    // Those still behind, or paused, get the end once they have caught up.
                    let end = Result<StreamEvent, JournalError>.success(.finished(info))
                    for member in members where member.next == position && member.isReady {
                        finish(member, with: end)
                    }
                    break read
                case .wait:
                    // With every subscriber paused, appends need not wake the queue: a resume
                    // rings it, and the resumed one reads what it missed from the file.
                    if members.contains(where: \.isReady) { try arm() }
                    break read
                }
            }
            // Again at once when the read stopped short of the end: the watch that rang for
            // these chunks is spent, and nothing else would ring (the one behind may have
            // been paused meanwhile). And while someone ready is behind and gained chunks
            // this round; a paused one is not counted (the drain would run for nothing), nor
            // one that gained none (a read-only handle on a file replaced by an older copy:
            // it waits for the next change instead of spinning).
            if stoppedShort || caughtUpSome && members.contains(where: { $0.next < position && $0.isReady }) {
                lock.withLock { if phase == .queued { phase = .again } }
            }
        } catch {
            // Only what ends the stream for everyone refuses later subscribers; after any
            // other failure (a poller thread that could not start) the next may succeed.
            switch error {
            case .unknownStream, .closed: lock.withLock { failure = error }
            default: break
            }
            // A paused subscriber is not called: it meets the error when it resumes (the
            // next read fails again), or a passing one does not end it.
            let end = Result<StreamEvent, JournalError>.failure(error)
            for member in members where member.isReady { finish(member, with: end) }
        }
    }

    /// Whether a subscriber joined or left since the drain began (it then runs again).
    ///
    /// Under a producer faster than the handlers, the shared read never waits: without this
    /// look after each chunk, a subscriber that joined was taken in only once the stream
    /// ended, and a cancelled one held on to its handler until then.
    private var hasNews: Bool { lock.withLock { phase == .again } }

    /// Registers the one watch for the next change, unless one is registered already or
    /// nobody is left to tell.
    private func arm() throws(JournalError) {
        let generation: UInt64? = lock.withLock {
            if live == 0 || armed != nil { return nil }
            self.generation &+= 1
            armed = (self.generation, nil)
            return self.generation
        }
        guard let generation else { return }
        // It may ring at once (a chunk came after the step): the drain then runs again.
        let token: UInt64
        do {
            token = try engine.watch(stream, number: number, beyond: position) { [self] in watchRang(generation) }
        } catch {
            lock.withLock { if armed?.generation == generation { armed = nil } }
            throw error
        }
        let withdrawn = lock.withLock {
            guard armed?.generation == generation else { return true }
            armed?.token = token
            return false
        }
        // Withdrawn by the last cancel while it was being armed (a watch that rang already
        // is not found: cancelling it does nothing).
        if withdrawn { _ = engine.cancelWatch(token) }
    }

    /// The watch's callback: runs on the appending thread, perhaps under the engine's lock.
    private func watchRang(_ generation: UInt64) {
        let queueDrain = lock.withLock {
            if armed?.generation == generation { armed = nil }
            return ringLocked()
        }
        if queueDrain { queue.async { self.drain() } }
    }

    /// Hands the next chunk of the shared read to every subscriber at that index.
    private func deliver(_ chunk: Chunk) {
        let event = Result<StreamEvent, JournalError>.success(.chunk(chunk))
        for member in members where member.next == chunk.index && member.isReady {
            member.handler(event)
            member.next += 1
        }
        position = chunk.index + 1
    }

    /// Reads `member`'s chunks from its own index up to `limit` from the file.
    private func replay(_ member: Subscriber, upTo limit: Int) throws(JournalError) {
        while member.next < limit && member.isReady {
            switch try engine.followStep(
                of: stream, number: number, slot: &slot, nextIndex: member.next, alias: &alias)
            {
            case .chunk(let chunk):
                member.handler(.success(.chunk(chunk)))
                member.next += 1
            case .replay(let view):
                var cursor = ChunkCursor(view: view, from: member.next, path: engine.path)
                while member.next < limit, member.isReady, let chunk = try cursor.next() {
                    member.handler(.success(.chunk(chunk)))
                    member.next += 1
                }
            case .finished, .wait:
                // Not before `limit`: the shared read has seen chunks up to it.
                return
            }
        }
    }

    /// The last call to `member`.
    private func finish(_ member: Subscriber, with end: Result<StreamEvent, JournalError>) {
        guard member.retire() else { return }
        // Counted out before the call: a caller the handler signals finds it gone.
        if let withdrawn = lock.withLock({ leaveLocked() }) { _ = engine.cancelWatch(withdrawn) }
        member.handler(end)
        member.release()
    }
}

/// One subscriber of a `StreamBroadcast`.
final class Subscriber: Sendable {
    /// Only the broadcast's queue touches it: replaced by a no-op once the subscriber is
    /// retired, so that what the handler holds is let go of even while the caller keeps
    /// the subscription.
    nonisolated(unsafe) private(set) var handler: StreamBroadcast.Handler
    /// The next index this subscriber receives; only the broadcast's queue touches it.
    nonisolated(unsafe) var next: Int
    private let retired = Atomic<Bool>(false)

    init(handler: @escaping StreamBroadcast.Handler, next: Int) {
        self.handler = handler
        self.next = next
    }

    private let paused = Atomic<Bool>(false)

    /// Whether it was cancelled or has had its last call.
    var isRetired: Bool { retired.load(ordering: .acquiring) }

    /// Whether it takes calls: neither retired nor paused.
    var isReady: Bool { !paused.load(ordering: .acquiring) && !isRetired }

    /// Stops or restarts its calls (see `BroadcastSubscription.pause`); returns whether it
    /// was paused.
    @discardableResult
    func setPaused(_ value: Bool) -> Bool { paused.exchange(value, ordering: .acquiringAndReleasing) }

    /// Lets go of the handler; on the broadcast's queue, once retired.
    func release() { handler = { _ in } }

    /// Marks it retired; true for the one caller that did.
    func retire() -> Bool {
        !retired.exchange(true, ordering: .acquiringAndReleasing)
    }
}

/// A subscription to a `StreamBroadcast`; cancel it to stop the calls.
public struct BroadcastSubscription: Sendable {
    let broadcast: StreamBroadcast
    let subscriber: Subscriber

    /// Stops the subscriber's calls. Called from the handler itself, there is no further
    /// call; from another thread, one call the queue had already decided to make may still
    /// run after this returns, and none after that. The handler is released soon after, on
    /// the queue. Once the last subscriber is cancelled, the broadcast withdraws its watch
    /// (at once, or, when the queue is arming it at that moment, just after).
    /// A subscription that is never cancelled lasts until its last call.
    public func cancel() { broadcast.cancel(subscriber) }

    /// Stops the calls for now, without leaving: for a subscriber whose output is full (a
    /// socket that would block), so that it neither holds up the others nor buffers without
    /// bound. The others go on; this one keeps its place, and gets neither the end nor a
    /// failure until it resumes. The same promise as `cancel` holds for calls after this
    /// returns. Its place is after the chunk of the call that paused it: a handler that could
    /// send only part of that chunk keeps the rest itself. While paused it holds the
    /// broadcast's handle on the mapping (after a compaction, the old file's blocks).
    public func pause() { subscriber.setPaused(true) }

    /// Restarts the calls of a paused subscription where it stopped: what it missed is read
    /// from the file, a batch at a time between the others' live chunks, then it is live
    /// again. Does nothing to a subscription that is not paused, cancelled or ended.
    public func resume() { broadcast.resume(subscriber) }
}

extension Journal {
    /// A broadcast of `stream`: one reader that hands each chunk to all its subscribers
    /// (see `StreamBroadcast`). Throws `unknownStream`, or `closed`.
    public func broadcast(_ stream: StreamID) throws(JournalError) -> StreamBroadcast {
        let (number, count) = try engine.followTarget(stream)
        return StreamBroadcast(engine: engine, stream: stream, number: number, position: count)
    }
}
