// One reader for every follower of a stream, through the library's `StreamBroadcast`: one watch
// per stream, each chunk read once from the mapping and handed to every subscriber's handler,
// the shape journal-server gives its SSE subscribers. Beside the task rows, it shows what the
// journal's own wake and read path costs once 1,000 followers are not 1,000 wake-ups.

import Foundation
import Journal
import Synchronization

/// Every append→delivery latency (ns, ascending) of `followers` subscribers of one
/// `StreamBroadcast` of a new stream; each handler records now − the stamp in the chunk (its
/// own clock read, so a subscriber late in the turn counts the handlers before it). With
/// `chunks` paced at `rate` a second; a rate of 0 appends as fast as possible and returns,
/// in `elapsed`, the time from the first append to the last subscriber's end (0 when none
/// ended well).
func broadcastFollowLatencies(
    _ journal: Journal, followers: Int, chunks: Int, rate: Double, problems: inout [String],
    elapsed: UnsafeMutablePointer<UInt64>? = nil
) throws -> [UInt64] {
    let id = try journal.createStream()
    // A sentinel in every slot: a delivery that never happened must not pass for a latency.
    let latencies = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: followers * chunks)
    latencies.initialize(repeating: .max)
    defer { latencies.deallocate() }
    let base = UInt(bitPattern: latencies.baseAddress)
    let ended = DispatchSemaphore(value: 0)
    let remaining = Atomic<Int>(followers)
    let failures = Mutex<[String]>([])
    let lastEnd = Atomic<UInt64>(0)
    let broadcast = try journal.broadcast(id)
    for follower in 0..<followers {
        try broadcast.subscribe(from: 0) { event in
            let out = UnsafeMutablePointer<UInt64>(bitPattern: base)!
            switch event {
            case .success(.chunk(let chunk)):
                let stamp = chunk.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
                out[chunk.index * followers + follower] = monotonicNanoseconds() &- stamp
            case .success(.finished(let info)):
                if info.chunkCount != chunks {
                    failures.withLock { $0.append("the stream ended after \(info.chunkCount) of \(chunks) chunks") }
                }
                if remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
                    lastEnd.store(monotonicNanoseconds(), ordering: .releasing)
                    ended.signal()
                }
            case .failure(let error):
                failures.withLock { $0.append("\(error)") }
                if remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { ended.signal() }
            }
        }
    }
    let firstAppend = Atomic<UInt64>(0)
    if rate > 0 {
        onDedicatedThread { appendPaced(journal, id, chunks: chunks, rate: rate) }
    } else {
        onDedicatedThread {
            firstAppend.store(monotonicNanoseconds(), ordering: .relaxed)
            for _ in 0..<chunks {
                let chunk = stampedChunk(monotonicNanoseconds())
                _ = chunk.withUnsafeBytes { try? journal.append(bytes: $0, to: id) }
            }
            try? journal.complete(id)
        }
    }
    ended.wait()
    let end = lastEnd.load(ordering: .acquiring)
    elapsed?.pointee = end == 0 ? 0 : end - firstAppend.load(ordering: .relaxed)
    for failure in failures.withLock({ $0 }).prefix(3) { problems.append("broadcast: \(failure)") }
    let delivered = latencies.filter { $0 != .max }
    if delivered.count != followers * chunks {
        problems.append("broadcast: \(delivered.count) deliveries, expected \(followers * chunks)")
    }
    return delivered.sorted()
}
