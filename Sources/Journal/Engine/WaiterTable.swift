/// Suspended followers waiting for a stream (or the whole log) to change. Guarded by the
/// engine's lock.
///
/// Followers read chunks from the mapping themselves; a waiter is only a doorbell, so a
/// thousand followers cost one continuation each, not a copy of every chunk.
struct WaiterTable {
    struct Waiter {
        let id: UInt64
        /// Stream slot waited on, or nil for a journal-wide follower.
        let slot: Int?
        /// Stream waiters: the chunk count they have seen. Journal-wide: the log end seen.
        let known: UInt64
        let wake: Wake
    }

    /// How a waiter is woken.
    enum Wake {
        /// A suspended task.
        case continuation(UnsafeContinuation<Void, Never>)
        /// An event loop's callback: runs with the engine locked, so it only signals (writes
        /// an eventfd, posts a semaphore) and never calls the journal.
        case callback(@Sendable () -> Void)

        func fire() {
            switch self {
            case .continuation(let continuation): continuation.resume()
            case .callback(let callback): callback()
            }
        }
    }

    private(set) var byID: [UInt64: Waiter] = [:]
    private var bySlot: [Int: Set<UInt64>] = [:]
    private var global: Set<UInt64> = []
    private var nextID: UInt64 = 1

    var isEmpty: Bool { byID.isEmpty }
    var count: Int { byID.count }

    mutating func makeID() -> UInt64 {
        defer { nextID += 1 }
        return nextID
    }

    mutating func add(_ waiter: Waiter) {
        byID[waiter.id] = waiter
        if let slot = waiter.slot {
            bySlot[slot, default: []].insert(waiter.id)
        } else {
            global.insert(waiter.id)
        }
    }

    /// Removes and returns the waiter, if it is still waiting.
    mutating func remove(_ id: UInt64) -> Waiter? {
        guard let waiter = byID.removeValue(forKey: id) else { return nil }
        if let slot = waiter.slot {
            bySlot[slot]?.remove(id)
            if bySlot[slot]?.isEmpty == true { bySlot[slot] = nil }
        } else {
            global.remove(id)
        }
        return waiter
    }

    /// Resumes everyone waiting on `slot` and every journal-wide waiter: the stream changed.
    /// Resuming only enqueues the task, so doing it under the lock cannot re-enter it.
    mutating func wake(slot: Int) {
        if let ids = bySlot.removeValue(forKey: slot) {
            for id in ids { byID.removeValue(forKey: id)?.wake.fire() }
        }
        wakeGlobal()
    }

    mutating func wakeGlobal() {
        if global.isEmpty { return }
        for id in global { byID.removeValue(forKey: id)?.wake.fire() }
        global.removeAll(keepingCapacity: true)
    }

    /// Resumes the waiters whose condition `changed` says has changed (the read-only poller).
    mutating func wake(where changed: (Waiter) -> Bool) {
        for waiter in Array(byID.values) where changed(waiter) {
            _ = remove(waiter.id)
            waiter.wake.fire()
        }
    }

    /// Resumes everyone (close).
    mutating func wakeAll() {
        for waiter in byID.values { waiter.wake.fire() }
        byID.removeAll()
        bySlot.removeAll()
        global.removeAll()
    }
}
