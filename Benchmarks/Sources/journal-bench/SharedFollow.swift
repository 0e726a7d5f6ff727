// One reader for every follower of a stream: the shape journal-server gives its SSE subscribers
// (one watch per stream, each chunk read and encoded once, handed to every subscriber), built
// here from the library's public `watch` and cursor alone. Beside the task rows, it shows what
// the journal's own wake and read path costs once 1,000 followers are not 1,000 wake-ups.

import Foundation
import Journal

/// The doorbell the stream's one watch rings, and the thread that answers it.
private final class SharedReaderState: @unchecked Sendable {
    let condition = NSCondition()
    var rung = false
    /// Read after the thread is joined.
    var failure: String?

    func ring() {
        condition.lock()
        rung = true
        condition.signal()
        condition.unlock()
    }

    func waitForRing() {
        condition.lock()
        while !rung { condition.wait() }
        rung = false
        condition.unlock()
    }
}

/// Every append→delivery latency (ns, ascending) of `followers` followers of a new stream
/// that one thread serves: woken by one `Journal.watch`, it reads each new chunk once with a
/// cursor from the mapping and hands it to every follower in turn, each of which records now −
/// the stamp in the chunk (its own clock read, so a follower late in the turn counts the
/// followers before it).
func sharedFollowLatencies(
    _ journal: Journal, followers: Int, chunks: Int, rate: Double, problems: inout [String]
) throws -> [UInt64] {
    let id = try journal.createStream()
    let state = SharedReaderState()
    // A sentinel in every slot: a delivery that never happened must not pass for a latency.
    let latencies = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: followers * chunks)
    latencies.initialize(repeating: .max)
    defer { latencies.deallocate() }
    let base = UInt(bitPattern: latencies.baseAddress)
    try journal.watch(id, beyond: 0) { state.ring() }
    runThreads(
        1,
        { _ in
            let out = UnsafeMutablePointer<UInt64>(bitPattern: base)!
            // Each follower is a handler called with each chunk (index, stamp), as an SSE
            // subscriber's would be: an indirect call, then its own clock read and store.
            let handlers: [(Int, UInt64) -> Void] = (0..<followers).map { follower in
                { index, stamp in out[index * followers + follower] = monotonicNanoseconds() &- stamp }
            }
            var next = 0
            while next < chunks {
                state.waitForRing()
                do {
                    var cursor = try journal.chunks(of: id, from: next)
                    while let chunk = try cursor.next() {
                        let stamp = chunk.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
                        for handler in handlers { handler(chunk.index, stamp) }
                        next = chunk.index + 1
                    }
                    if next < chunks {
                        // Ended early (an append failed): a watch on a finished stream fires
                        // at once, and waiting on would spin for good.
                        if try journal.info(id).status.isFinished {
                            state.failure = "the stream ended after \(next) of \(chunks) chunks"
                            return
                        }
                        try journal.watch(id, beyond: next) { state.ring() }
                    }
                } catch {
                    state.failure = "\(error)"
                    return
                }
            }
        },
        afterStart: { appendPaced(journal, id, chunks: chunks, rate: rate) })
    if let failure = state.failure { problems.append("shared reader: \(failure)") }
    let delivered = latencies.filter { $0 != .max }
    if delivered.count != followers * chunks {
        problems.append("shared reader: \(delivered.count) deliveries, expected \(followers * chunks)")
    }
    return delivered.sorted()
}
