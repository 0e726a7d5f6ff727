// Part of the `follow` workload: issue 3's third point, a follower in another process. The
// writer (this process) appends stamped chunks; a child opens the file read-only and follows
// the stream, as a separate server or CLI would. CLOCK_MONOTONIC is one clock for every
// process on the machine, so the child's now − stamp is the whole delay: the commit, the
// read-only handle's poll of the committed end (every 5 ms while someone waits, FORMAT.md
// §10), and the wake of the child's tasks.

import Foundation
import Journal

#if canImport(Glibc)
    import Glibc
#endif

/// `__follow PATH STREAM FOLLOWERS`: opens `PATH` read-only, starts `FOLLOWERS` tasks that
/// follow `STREAM` from chunk 0, prints `READY` once every one of them has seen chunk 0 (the
/// parent's unmeasured first chunk), then, when the stream ends, prints
/// `CHILD followers=… chunks=… status=… latencies=a,b,…`: every later chunk's now − stamp in
/// ns, over all followers. Exits 1 if a follower fails or misses a chunk.
func childFollow(_ arguments: [String]) throws -> Never {
    guard arguments.count == 3, let followers = Int(arguments[2]), followers > 0 else {
        throw BenchError("usage: __follow PATH STREAM FOLLOWERS")
    }
    let journal = try Journal.openReadOnly(path: arguments[0])
    let id = try StreamID(arguments[1])
    let slots = FollowerSlots(followers)
    let ready = DispatchGroup()
    let done = DispatchGroup()
    for i in 0..<followers {
        let follower = try journal.follow(id, from: 0)
        ready.enter()
        done.enter()
        Task.detached {
            var latencies: [UInt64] = []
            var count = 0
            var failure: (any Error)?
            do {
                loop: for try await event in follower {
                    switch event {
                    case .chunk(let chunk):
                        let now = monotonicNanoseconds()
                        if chunk.index == 0 {
                            ready.leave()
                        } else {
                            let stamp = chunk.withUnsafeBytes {
                                UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))
                            }
                            latencies.append(now &- stamp)
                        }
                        count += 1
                    case .finished:
                        break loop
                    }
                }
            } catch {
                failure = error
            }
            if count == 0 { ready.leave() }
            slots.finish(i, latencies: latencies, count: count, error: failure)
            done.leave()
        }
    }
    ready.wait()
    print("READY")
    flushOutput()
    done.wait()
    let status = try journal.info(id).status
    if let failure = slots.errors.compactMap({ $0 }).first { throw BenchError("a follower failed: \(failure)") }
    let counts = Set(slots.counts)
    guard counts.count == 1, let chunks = counts.first else {
        throw BenchError("followers saw different numbers of chunks: \(counts.sorted())")
    }
    let all = slots.latencies.flatMap { $0 }
    print(
        "CHILD followers=\(followers) chunks=\(chunks) status=\(status)"
            + " latencies=\(all.map(String.init).joined(separator: ","))")
    flushOutput()
    exit(0)
}

/// Every append→delivery latency (ns, ascending) of `followers` followers in a child process
/// that has the file open read-only, while this process appends `chunks` stamped 40-byte
/// chunks to a new stream of `journal` at `rate` a second and then completes it. A child
/// that fails, misses a chunk, or does not see the stream completed is a thrown error.
func crossProcessFollowLatencies(_ journal: Journal, followers: Int, chunks: Int, rate: Double) throws -> [UInt64] {
    let id = try journal.createStream()
    // Chunk 0 is the child's signal that every follower has caught up and is waiting live.
    _ = try stampedChunk(0).withUnsafeBytes { try journal.append(bytes: $0, to: id) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: ownExecutablePath())
    process.arguments = ["__follow", journal.path, id.description, String(followers)]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    // A child that hangs (a follower that never sees chunk 0 or the end) would block the
    // reads below forever: past the run's length and a margin, it is killed and reported.
    // The first failure outside the child: the watchdog's or the appending thread's.
    let failure = WorkerResults(workers: 1)
    let limit = Double(chunks) / rate + 30
    let watchdog = DispatchWorkItem {
        guard process.isRunning else { return }
        failure.fail("the follower child had not finished after \(Int(limit)) s and was killed")
        process.terminate()
    }
    DispatchQueue.global().asyncAfter(deadline: .now() + limit, execute: watchdog)
    defer { watchdog.cancel() }
    var output = ""
    while !output.contains("READY\n") {
        let data = pipe.fileHandleForReading.availableData
        if data.isEmpty {
            process.waitUntilExit()
            if let reason = failure.error { throw BenchError(reason) }
            throw BenchError("follower child exited (status \(process.terminationStatus)) before READY: \(output)")
        }
        output += String(decoding: data, as: UTF8.self)
    }
    onDedicatedThread {
        do {
            let start = monotonicNanoseconds() + 1_000_000
            for k in 0..<chunks {
                sleepUntil(start + UInt64(Double(k) * 1e9 / rate))
                let chunk = stampedChunk(monotonicNanoseconds())
                _ = try chunk.withUnsafeBytes { try journal.append(bytes: $0, to: id) }
            }
            try journal.complete(id)
        } catch {
            // The child waits for an end that will not come: stop it rather than the watchdog.
            failure.fail("appending for the follower child failed: \(error)")
            process.terminate()
        }
    }
    output += String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    if let reason = failure.error { throw BenchError(reason) }
    guard process.terminationStatus == 0 else {
        throw BenchError("follower child exited with status \(process.terminationStatus): \(output)")
    }
    let fields = try parseChildLine(output)
    guard fields["chunks"] == String(chunks + 1), fields["status"] == "completed" else {
        throw BenchError(
            "follower child saw \(fields["chunks"] ?? "?") chunks of \(chunks + 1), status \(fields["status"] ?? "?")")
    }
    let latencies = (fields["latencies"] ?? "").split(separator: ",").compactMap { UInt64($0) }
    guard latencies.count == chunks * followers else {
        throw BenchError("follower child reported \(latencies.count) latencies, expected \(chunks * followers)")
    }
    return latencies.sorted()
}
