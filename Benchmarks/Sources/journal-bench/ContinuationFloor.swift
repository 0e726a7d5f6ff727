// The in-process peer of the `follow` latency rows. SQLite has no live follow, so the
// comparison that says what the journal costs is the Swift runtime itself: the same number of
// tasks, the same pacing and the same clock, each suspended on a bare `UnsafeContinuation`
// that a dedicated thread resumes. No journal, no chunk, no cancellation handler: whatever
// latency this shows, no follower built on tasks can beat it on this machine.

import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Suspended tasks waiting for the next stamp; the resuming thread takes them all at once.
private final class ContinuationDoorbell: @unchecked Sendable {
    private let lock = NSLock()
    private var waiting: [UnsafeContinuation<UInt64, Never>] = []

    func add(_ continuation: UnsafeContinuation<UInt64, Never>) {
        lock.lock()
        waiting.append(continuation)
        lock.unlock()
    }

    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return waiting.count
    }

    func takeAll() -> [UnsafeContinuation<UInt64, Never>] {
        lock.lock()
        defer { lock.unlock() }
        let taken = waiting
        waiting.removeAll(keepingCapacity: true)
        return taken
    }
}

/// Resumes `tasks` suspended tasks `rounds` times, `rate` rounds a second, each round carrying
/// its CLOCK_MONOTONIC start; returns every task's now − start for every round.
///
/// A round starts only once every task has suspended again, so a slow round never overlaps
/// the next (the journal's followers get the same chance: 20 ms between chunks).
func continuationFloorLatencies(tasks: Int, rounds: Int, rate: Double) -> [UInt64] {
    let doorbell = ContinuationDoorbell()
    let slots = FollowerSlots(tasks)
    let group = DispatchGroup()
    for i in 0..<tasks {
        group.enter()
        Task.detached {
            var latencies: [UInt64] = []
            latencies.reserveCapacity(rounds)
            for _ in 0..<rounds {
                let stamp = await withUnsafeContinuation { doorbell.add($0) }
                latencies.append(monotonicNanoseconds() &- stamp)
            }
            slots.finish(i, latencies: latencies)
            group.leave()
        }
    }
    onDedicatedThread {
        var next = monotonicNanoseconds()
        for _ in 0..<rounds {
            while doorbell.count < tasks { usleep(100) }
            next = max(next + UInt64(1e9 / rate), monotonicNanoseconds())
            sleepUntil(next)
            let stamp = monotonicNanoseconds()
            for continuation in doorbell.takeAll() { continuation.resume(returning: stamp) }
        }
    }
    group.wait()
    return slots.latencies.flatMap { $0 }
}
