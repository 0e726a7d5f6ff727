import Journal

/// Where other threads leave work for the event loop: worker results and journal
/// watch notifications, each followed by one ring of the loop's eventfd.
///
/// Watch callbacks run on an appending thread with the journal locked, so `hubChanged` only
/// takes its own short lock and rings; it never calls the journal.
final class LoopInbox: @unchecked Sendable {
    /// A worker's result for a connection.
    struct Completion: Sendable {
        /// Who asked.
        let connection: ConnectionID
        /// The answer.
        let response: HTTPResponse
    }

    /// The loop's doorbell.
    let doorbell: EventFD
    // A pthread mutex rather than `Synchronization.Mutex`: Thread Sanitizer reports false
    // races on the latter, and a clean sanitizer run is worth more than the difference.
    private let lock = ConditionLock()
    private var completions: [Completion] = []
    private var changedHubs: [Int] = []

    /// An inbox ringing `doorbell`.
    init(doorbell: EventFD) {
        self.doorbell = doorbell
    }

    /// Posts a worker's response (any thread).
    func complete(_ connection: ConnectionID, _ response: HTTPResponse) {
        lock.withLock { completions.append(Completion(connection: connection, response: response)) }
        doorbell.ring()
    }

    /// Notes that the stream behind hub `key` changed (journal watch callback).
    func hubChanged(_ key: Int) {
        lock.withLock { changedHubs.append(key) }
        doorbell.ring()
    }

    /// Everything posted since the last call (loop thread).
    func take() -> (completions: [Completion], hubs: [Int]) {
        lock.withLock {
            defer {
                completions = []
                changedHubs = []
            }
            return (completions, changedHubs)
        }
    }
}
