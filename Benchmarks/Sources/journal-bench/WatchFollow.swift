// Followers that are not tasks: the same paced appends as the `follow` latency rows, delivered
// to followers that a few threads serve through `Journal.watch` (how an event loop, such as
// journal-server's, follows a stream). The difference from the task rows is what the Swift
// runtime's per-task resume costs; what is left is the journal's own wake and read path.

import Foundation
import Journal

/// The followers one thread serves, and the doorbell their watches ring.
private final class WatchThreadState: @unchecked Sendable {
    let condition = NSCondition()
    var ready: [Int] = []
    /// Per follower (by its index in `members`): the next chunk index it expects.
    var next: [Int]
    let members: [Int]
    var latencies: [UInt64] = []
    var failure: String?

    init(members: [Int]) {
        self.members = members
        next = Array(repeating: 0, count: members.count)
    }

    /// Runs on the appending thread, under or just after the journal's lock: only queues.
    func ring(_ local: Int) {
        condition.lock()
        ready.append(local)
        condition.signal()
        condition.unlock()
    }

    func takeReady(into taken: inout [Int]) {
        condition.lock()
        while ready.isEmpty { condition.wait() }
        swap(&taken, &ready)
        condition.unlock()
    }
}

/// Every append→delivery latency (ns, ascending) of `followers` followers of a new stream,
/// served by `threads` threads through `Journal.watch`: a woken follower reads its new chunks
/// with a cursor from the mapping, records now − the stamp in each, and watches again.
func watchFollowLatencies(
    _ journal: Journal, followers: Int, threads: Int, chunks: Int, rate: Double, problems: inout [String]
) throws -> [UInt64] {
    let id = try journal.createStream()
    let states = (0..<threads).map { t in
        WatchThreadState(members: Array(stride(from: t, to: followers, by: threads)))
    }
    for state in states {
        state.latencies.reserveCapacity(state.members.count * chunks)
        for local in state.members.indices {
            try journal.watch(id, beyond: 0) { state.ring(local) }
        }
    }
    runThreads(
        threads,
        { t in
            let state = states[t]
            var remaining = state.members.count
            var taken: [Int] = []
            while remaining > 0 {
                state.takeReady(into: &taken)
                for local in taken {
                    do {
                        var cursor = try journal.chunks(of: id, from: state.next[local])
                        while let chunk = try cursor.next() {
                            let now = monotonicNanoseconds()
                            let stamp = chunk.withUnsafeBytes {
                                UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))
                            }
                            state.latencies.append(now &- stamp)
                            state.next[local] = chunk.index + 1
                        }
                        if state.next[local] == chunks {
                            remaining -= 1
                        } else if try journal.info(id).status.isFinished {
                            // Ended early (an append failed): a watch would fire at once, for good.
                            state.failure = "follower \(state.members[local]): the stream ended early"
                            remaining -= 1
                        } else {
                            try journal.watch(id, beyond: state.next[local]) { state.ring(local) }
                        }
                    } catch {
                        state.failure = "follower \(state.members[local]): \(error)"
                        remaining -= 1
                    }
                }
                taken.removeAll(keepingCapacity: true)
            }
        },
        afterStart: { appendPaced(journal, id, chunks: chunks, rate: rate) })
    var all: [UInt64] = []
    for state in states {
        if let failure = state.failure { problems.append("watch followers: \(failure)") }
        all += state.latencies
    }
    if all.count != followers * chunks {
        problems.append("watch followers: \(all.count) deliveries, expected \(followers * chunks)")
    }
    all.sort()
    return all
}
