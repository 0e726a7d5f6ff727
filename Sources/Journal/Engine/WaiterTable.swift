/// Suspended followers waiting for a stream (or the whole log) to change. Guarded by the
/// engine's lock.
///
/// Followers read chunks from the mapping themselves; a waiter is only a doorbell, so a
/// thousand followers cost one continuation each, not a copy of every chunk. Waiters are
/// kept in one array per stream: an append takes the whole array in one move, and the
/// appender rings the doorbells after releasing the lock, so a thousand followers neither
/// cost a thousand hash-table removals nor keep the lock held while they are enqueued.
struct WaiterTable {
    struct Waiter {
        let id: UInt64
        /// Stream slot waited on, or nil for a journal-wide follower.
        let slot: Int?
        /// Stream waiters: the chunk count they have seen. Journal-wide: the log end seen.
        let known: UInt64
        let wake: Wake
    }

    /// What a woken task is told.
    enum News: Sendable {
        /// Something changed: look again.
        case changed
        /// The chunk the waiter was waiting for, appended just now: a follower whose alias is
        /// of the same mapping returns it without taking the lock (its bytes are committed
        /// and never change); one whose alias is older looks again under the lock.
        case chunk(FreshChunk)
    }

    /// Where an append just put a chunk. It holds no reference to the mapping, so handing
    /// it to a thousand waiters touches no shared reference count: each follower reads it
    /// through its own alias of the mapping (`MappedRegion(aliasing:)`).
    struct FreshChunk: Sendable {
        let index: Int
        let timestamp: Int64
        let bodyOffset: UInt64
        let count: Int
        /// The `base` of the mapping it was written through; a follower whose alias has
        /// another base (the engine has mapped the file again since) asks under the lock.
        let mappingBase: UInt

        /// The chunk, read through `region` when that is a handle on the same mapping.
        ///
        /// Equal bases mean one mapping because both are alive at the append: the waiter's
        /// alias was made under the lock that registered it, and holds its mapping, and the
        /// engine never unmaps part of a mapping or maps over one (no `MAP_FIXED`, no
        /// `mremap`). The length check, one comparison, keeps a read inside `region` even
        /// if that ever changes.
        func chunk(through region: MappedRegion) -> Chunk? {
            guard UInt(bitPattern: region.base) == mappingBase, bodyOffset + UInt64(count) <= UInt64(region.length)
            else { return nil }
            return Chunk(index: index, timestamp: timestamp, region: region, bodyOffset: bodyOffset, count: count)
        }
    }

    /// How a waiter is woken.
    enum Wake {
        /// A suspended task.
        case continuation(UnsafeContinuation<News, Never>)
        /// An event loop's callback: it only signals (writes an eventfd, posts a semaphore)
        /// and never calls the journal, so it may run with or without the engine locked.
        case callback(@Sendable () -> Void)

        func fire(_ news: News = .changed) {
            switch self {
            case .continuation(let continuation): continuation.resume(returning: news)
            case .callback(let callback): callback()
            }
        }
    }

    /// Waiters taken from the table, to be woken once the lock is released.
    struct Doorbells {
        fileprivate var stream: [Waiter] = []
        fileprivate var global: [Waiter] = []
        /// The last chunk the append added, handed to the stream waiters that wait for it.
        var fresh: FreshChunk?

        /// Wakes every taken waiter.
        func ring() {
            if let fresh {
                for waiter in stream {
                    waiter.wake.fire(waiter.known == UInt64(fresh.index) ? .chunk(fresh) : .changed)
                }
            } else {
                for waiter in stream { waiter.wake.fire() }
            }
            for waiter in global { waiter.wake.fire() }
        }
    }

    private var bySlot: [Int: [Waiter]] = [:]
    private var global: [Waiter] = []
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func add(_ waiter: Waiter) {
        if let slot = waiter.slot {
            bySlot[slot, default: []].append(waiter)
        } else {
            global.append(waiter)
        }
        count += 1
    }

    /// Removes and returns the waiter, if it is still waiting. `slot` is where to look
    /// first (a stream follower's cancellation knows it); the rest is searched after.
    mutating func remove(_ id: UInt64, slot: Int? = nil) -> Waiter? {
        if let slot, let found = bySlot[slot]?.firstIndex(where: { $0.id == id }) {
            count -= 1
            let waiter = bySlot[slot]!.remove(at: found)
            if bySlot[slot]!.isEmpty { bySlot[slot] = nil }
            return waiter
        }
        if let found = global.firstIndex(where: { $0.id == id }) {
            count -= 1
            return global.remove(at: found)
        }
        for (key, list) in bySlot where key != slot && list.contains(where: { $0.id == id }) {
            return remove(id, slot: key)
        }
        return nil
    }

    /// Takes everyone waiting on `slot` and every journal-wide waiter (the stream changed);
    /// the caller rings them, after unlocking when it can.
    mutating func take(slot: Int) -> Doorbells {
        var bells = Doorbells()
        if let list = bySlot.removeValue(forKey: slot) {
            count -= list.count
            bells.stream = list
        }
        if !global.isEmpty {
            count -= global.count
            bells.global = global
            global.removeAll(keepingCapacity: true)
        }
        return bells
    }

    /// Wakes, under the lock, everyone waiting on `slot` and every journal-wide waiter.
    /// Resuming only enqueues the task, so doing it under the lock cannot re-enter it.
    mutating func wake(slot: Int) { take(slot: slot).ring() }

    mutating func wakeGlobal() {
        if global.isEmpty { return }
        count -= global.count
        for waiter in global { waiter.wake.fire() }
        global.removeAll(keepingCapacity: true)
    }

    /// Resumes the waiters whose condition `changed` says has changed (the read-only poller).
    mutating func wake(where changed: (Waiter) -> Bool) {
        var woken: [Waiter] = []
        for (slot, list) in bySlot {
            let (fire, keep) = (list.filter(changed), list.filter { !changed($0) })
            if fire.isEmpty { continue }
            woken += fire
            bySlot[slot] = keep.isEmpty ? nil : keep
        }
        let fire = global.filter(changed)
        if !fire.isEmpty {
            woken += fire
            global.removeAll(where: changed)
        }
        count -= woken.count
        for waiter in woken { waiter.wake.fire() }
    }

    /// Resumes everyone (close).
    mutating func wakeAll() {
        for list in bySlot.values { for waiter in list { waiter.wake.fire() } }
        for waiter in global { waiter.wake.fire() }
        bySlot.removeAll()
        global.removeAll()
        count = 0
    }
}
