#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A place in the log: an offset in the file of one compaction epoch. Offsets of an older
/// file mean nothing in the new one, so a durability target carries its epoch.
struct LogPosition: Sendable, Equatable {
    let offset: UInt64
    let epoch: Int
}

/// One thread waiting in group commit for a sync to cover its records.
///
/// Each waiter sleeps on its own condition, so a finished sync wakes exactly the threads it
/// covered, plus one uncovered thread to lead the next sync; with one shared condition every
/// sync woke every waiter, and on two cores the herd cost more than the `fdatasync`.
final class DurabilityTicket: @unchecked Sendable {
    /// What the waiter learns when it is woken.
    enum Outcome: Sendable {
        case pending
        /// A sync covered the target.
        case covered
        /// The waiter runs the next sync (the sync slot is reserved for it).
        case lead
        /// The sync failed (or the journal closed); the error to throw.
        case failed(JournalError)
    }

    /// End of the waiter's records.
    let target: UInt64
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    // Guarded by `mutex`: the waiter reads it without taking the engine's lock.
    private var outcome = Outcome.pending

    init(target: UInt64) {
        self.target = target
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Sleeps until `resolve` is called; returns what it said.
    func wait() -> Outcome {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while case .pending = outcome { pthread_cond_wait(condition, mutex) }
        return outcome
    }

    /// Wakes the waiter with `outcome`.
    func resolve(_ outcome: Outcome) {
        pthread_mutex_lock(mutex)
        self.outcome = outcome
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }
}
