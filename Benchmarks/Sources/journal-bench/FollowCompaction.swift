// Workloads without a SQLite counterpart (SQLite has no live follow, and VACUUM is not an
// online compaction): `follow` (in-process live followers) and `compaction` (online
// compaction of a mostly dead journal). Their rows print "—" in the SQLite column.

import Foundation
import Journal

#if canImport(Glibc)
    import Glibc
#endif

/// The value at `fraction` (0...1) of `sorted` (nearest rank; `sorted` ascending, not empty).
func percentile(_ sorted: [UInt64], _ fraction: Double) -> UInt64 {
    precondition(!sorted.isEmpty, "percentile of nothing")
    let rank = Int((fraction * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank, 1), sorted.count) - 1]
}

/// Sleeps until the monotonic time `target` (ns), absolute, so pacing does not drift.
func sleepUntil(_ target: UInt64) {
    var ts = timespec(tv_sec: Int(target / 1_000_000_000), tv_nsec: Int(target % 1_000_000_000))
    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
}

/// A 40-byte chunk whose first 8 bytes are `stamp` (little endian), the rest filler.
func stampedChunk(_ stamp: UInt64) -> [UInt8] {
    var bytes = [UInt8](repeating: 0x2E, count: 40)
    withUnsafeBytes(of: stamp.littleEndian) { for i in 0..<8 { bytes[i] = $0[i] } }
    return bytes
}

/// Per-follower results: each task stores its own slot once, under the lock (tasks on
/// different threads writing elements of one array race on the array itself); read after all
/// tasks have finished.
final class FollowerSlots: @unchecked Sendable {
    private(set) var latencies: [[UInt64]]
    private(set) var counts: [Int]
    private(set) var finishedAt: [UInt64]
    private(set) var errors: [String?]
    private let lock = NSLock()
    private var startedCount = 0

    init(_ n: Int) {
        latencies = Array(repeating: [], count: n)
        counts = Array(repeating: 0, count: n)
        finishedAt = Array(repeating: 0, count: n)
        errors = Array(repeating: nil, count: n)
    }

    /// Stores follower `i`'s results, stamped with the time it finished.
    func finish(_ i: Int, latencies: [UInt64], count: Int = 0, error: (any Error)? = nil) {
        let now = monotonicNanoseconds()
        lock.lock()
        defer { lock.unlock() }
        self.latencies[i] = latencies
        counts[i] = count
        finishedAt[i] = now
        errors[i] = error.map { "\($0)" }
    }

    func markStarted() {
        lock.lock()
        startedCount += 1
        lock.unlock()
    }

    var started: Int {
        lock.lock()
        defer { lock.unlock() }
        return startedCount
    }
}

/// Starts `followers` tasks following `id` from 0; each records now − embedded stamp per
/// chunk when `recordLatency`, its chunk count and when it saw `.finished`. Returns once all
/// tasks have started and made their first `next()` call (give them a moment after).
func startFollowers(
    _ journal: Journal, _ id: StreamID, followers: Int, recordLatency: Bool, expected: Int, group: DispatchGroup
) throws -> FollowerSlots {
    let slots = FollowerSlots(followers)
    for i in 0..<followers {
        let follower = try journal.follow(id, from: 0)
        group.enter()
        Task.detached {
            var latencies: [UInt64] = []
            if recordLatency { latencies.reserveCapacity(expected) }
            var count = 0
            var failure: (any Error)?
            slots.markStarted()
            do {
                loop: for try await event in follower {
                    switch event {
                    case .chunk(let c):
                        if recordLatency {
                            let now = monotonicNanoseconds()
                            let stamp = c.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
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
            slots.finish(i, latencies: latencies, count: count, error: failure)
            group.leave()
        }
    }
    while slots.started < followers { usleep(1000) }
    usleep(200_000)  // let every follower reach its wait
    return slots
}

/// Runs `body` on a new dedicated thread and waits for it.
func onDedicatedThread(_ body: @escaping @Sendable () -> Void) {
    runThreads(1, { _ in body() }, afterStart: {})
}

/// Every append→delivery latency (ns, ascending) of `followers` followers of a new stream in
/// `journal`, to which a dedicated thread appends `chunks` 40-byte chunks carrying their
/// CLOCK_MONOTONIC append time, `rate` a second, then completes it. Followers that miss a
/// chunk or fail are reported in `problems`.
func followLatencies(
    _ journal: Journal, followers: Int, chunks: Int, rate: Double, problems: inout [String]
) throws -> [UInt64] {
    let id = try journal.createStream()
    let group = DispatchGroup()
    let slots = try startFollowers(
        journal, id, followers: followers, recordLatency: true, expected: chunks, group: group)
    onDedicatedThread { appendPaced(journal, id, chunks: chunks, rate: rate) }
    group.wait()
    var all: [UInt64] = []
    all.reserveCapacity(chunks * followers)
    for i in 0..<followers {
        all += slots.latencies[i]
        if let e = slots.errors[i] { problems.append("\(followers) followers, follower \(i): \(e)") }
        if slots.counts[i] != chunks {
            problems.append("\(followers) followers, follower \(i) saw \(slots.counts[i]) of \(chunks) chunks")
        }
    }
    all.sort()
    return all
}

/// Appends `chunks` 40-byte chunks carrying their CLOCK_MONOTONIC append time to `id`, `rate`
/// a second, then completes it: the writer side of every latency row.
func appendPaced(_ journal: Journal, _ id: StreamID, chunks: Int, rate: Double) {
    let start = monotonicNanoseconds() + 1_000_000
    for k in 0..<chunks {
        sleepUntil(start + UInt64(Double(k) * 1e9 / rate))
        let chunk = stampedChunk(monotonicNanoseconds())
        _ = chunk.withUnsafeBytes { try? journal.append(bytes: $0, to: id) }
    }
    try? journal.complete(id)
}

/// p50, p99 and max of each repetition, in seconds.
struct LatencySamples {
    var p50: [Double] = []
    var p99: [Double] = []
    var max: [Double] = []

    mutating func add(_ sorted: [UInt64]) {
        p50.append(Double(percentile(sorted, 0.50)) / 1e9)
        p99.append(Double(percentile(sorted, 0.99)) / 1e9)
        max.append(Double(sorted.last!) / 1e9)
    }
}

/// Workload `follow`: 1,000 in-process followers of one stream (`journal.follow`). Latency:
/// a dedicated thread appends 40-byte chunks carrying their CLOCK_MONOTONIC append time at a
/// steady rate; each follower records now − that time per chunk (p50/p99/max over every
/// delivery), next to the runtime's floor for as many bare tasks, to as many followers that
/// two threads serve through `Journal.watch` (no task each), and to as many subscribers of
/// one `StreamBroadcast` (one watch, each chunk read once). The same for fewer
/// followers (`followerScale`) shows how latency grows with them. Throughput: chunks appended
/// as fast as possible, then complete; deliveries across all followers / wall time from the
/// first append to the last follower's end.
func runFollow(_ ctx: BenchContext) throws {
    let followers = ctx.config.followers
    let rate = 50.0
    let latencySeconds = ctx.config.followLatencySeconds
    let burst = ctx.config.followBurstChunks
    let scale = ctx.config.followerScale
    // One thread per core, as an event loop per core would.
    let watchThreads = 2
    var latency = LatencySamples()
    var floor = LatencySamples()
    var watched = LatencySamples()
    var shared = LatencySamples()
    var scaled = Array(repeating: LatencySamples(), count: scale.count)
    var scaledFloor = Array(repeating: LatencySamples(), count: scale.count)
    let crossCounts = ctx.config.crossProcessFollowers
    var crossProcess = Array(repeating: LatencySamples(), count: crossCounts.count)
    var throughput: [Double] = []
    var broadcastThroughput: [Double] = []
    var problems: [String] = []
    for _ in 0..<ctx.reps {
        let path = ctx.scratch.file("f.journal")
        var options = JournalOptions(durability: .none)
        options.autoCompaction = nil
        let journal = try Journal(path: path, options: options)

        // Latency: steady 50 chunks/s; the runtime's floor for the same shape, in the same
        // repetition; then both for fewer followers.
        let paced = Int(rate * latencySeconds)
        latency.add(try followLatencies(journal, followers: followers, chunks: paced, rate: rate, problems: &problems))
        floor.add(continuationFloorLatencies(tasks: followers, rounds: paced, rate: rate).sorted())
        watched.add(
            try watchFollowLatencies(
                journal, followers: followers, threads: watchThreads, chunks: paced, rate: rate, problems: &problems))
        shared.add(
            try broadcastFollowLatencies(journal, followers: followers, chunks: paced, rate: rate, problems: &problems))
        for (k, count) in scale.enumerated() {
            let sorted = try followLatencies(journal, followers: count, chunks: paced, rate: rate, problems: &problems)
            scaled[k].add(sorted)
            scaledFloor[k].add(continuationFloorLatencies(tasks: count, rounds: paced, rate: rate).sorted())
        }
        for (k, count) in crossCounts.enumerated() {
            crossProcess[k].add(try crossProcessFollowLatencies(journal, followers: count, chunks: paced, rate: rate))
        }

        // Throughput: a burst as fast as possible, then complete.
        let id2 = try journal.createStream()
        let group2 = DispatchGroup()
        let slots2 = try startFollowers(
            journal, id2, followers: followers, recordLatency: false, expected: burst, group: group2)
        let firstAppend = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
        defer { firstAppend.deallocate() }
        let firstAppendAddress = UInt(bitPattern: firstAppend)
        onDedicatedThread {
            let first = UnsafeMutablePointer<UInt64>(bitPattern: firstAppendAddress)!
            first.pointee = monotonicNanoseconds()
            for k in 0..<burst {
                let chunk = stampedChunk(UInt64(k))
                _ = chunk.withUnsafeBytes { try? journal.append(bytes: $0, to: id2) }
            }
            try? journal.complete(id2)
        }
        group2.wait()
        let end = slots2.finishedAt.max()!
        let deliveries = slots2.counts.reduce(0, +)
        if deliveries != burst * followers {
            problems.append("throughput run: \(deliveries) deliveries, expected \(burst * followers)")
        }
        throughput.append(Double(deliveries) / (Double(end - firstAppend.pointee) / 1e9))
        // The same burst to as many subscribers of one broadcast.
        var elapsed: UInt64 = 0
        let delivered = try broadcastFollowLatencies(
            journal, followers: followers, chunks: burst, rate: 0, problems: &problems, elapsed: &elapsed)
        if elapsed > 0 { broadcastThroughput.append(Double(delivered.count) / (Double(elapsed) / 1e9)) }
        try journal.close()
        ctx.scratch.removeFiles(path)
    }
    for p in problems.prefix(5) { ctx.report.anomaly("follow: \(p)") }
    func add(_ workload: String, _ samples: [Double]) {
        ctx.report.add(
            ResultRow(
                group: "follow", workload: workload, metric: .duration, journal: Samples(values: samples), sqlite: nil))
    }
    func add(_ workload: String, _ samples: LatencySamples) {
        add("\(workload), p50", samples.p50)
        add("\(workload), p99", samples.p99)
        add("\(workload), max", samples.max)
    }
    let pacing = "50 chunks/s x \(Int(latencySeconds)) s"
    let label = "\(grouped(followers)) in-process followers"
    let lat = "follow latency (append -> follower), \(label), \(pacing), none"
    add(lat, latency)
    // Issue 3's target; the floor rows below say how much of a miss is the runtime's own.
    let p99 = medianOf(latency.p99)
    ctx.report.floor(
        "follow latency p99 < 1 ms with \(grouped(followers)) in-process followers", p99 < 0.001,
        "\(Metric.duration.format(p99)); the runtime alone: \(Metric.duration.format(medianOf(floor.p99)))")
    let floorLabel =
        "follow latency floor (Swift runtime alone: \(grouped(followers)) tasks resumed from bare continuations, "
        + "no journal), 50/s x \(Int(latencySeconds)) s"
    add(floorLabel, floor)
    let watchLabel =
        "follow latency (append -> follower), \(label) served by \(watchThreads) threads through Journal.watch "
        + "(no task per follower), \(pacing), none"
    add(watchLabel, watched)
    let sharedLabel =
        "follow latency (append -> follower), \(label) as subscribers of one StreamBroadcast (one reader, "
        + "each chunk read once; journal-server's shape), \(pacing), none"
    add(sharedLabel, shared)
    let sharedP99 = medianOf(shared.p99)
    ctx.report.floor(
        "follow latency p99 < 1 ms with \(grouped(followers)) StreamBroadcast subscribers", sharedP99 < 0.001,
        Metric.duration.format(sharedP99))
    for (k, count) in scale.enumerated() {
        let fewer = "follow latency (append -> follower), \(grouped(count)) in-process followers, \(pacing), none"
        add("\(fewer), p50", scaled[k].p50)
        add("\(fewer), p99", scaled[k].p99)
        add("follow latency floor, \(grouped(count)) bare tasks, \(pacing), p99", scaledFloor[k].p99)
    }
    for (k, count) in crossCounts.enumerated() {
        let other =
            "follow latency (append -> follower in another process, read-only handle, 5 ms poll), "
            + "\(grouped(count)) follower\(count == 1 ? "" : "s"), \(pacing), none"
        add(other, crossProcess[k])
        // Issue 3's bound for a follower in another process.
        let p99 = medianOf(crossProcess[k].p99)
        ctx.report.floor(
            "follow latency p99 < 50 ms from another process, \(grouped(count)) follower\(count == 1 ? "" : "s")",
            p99 < 0.050, Metric.duration.format(p99))
    }
    ctx.report.add(
        ResultRow(
            group: "follow",
            workload: "follow throughput, \(label), \(grouped(burst)) x 40 B appended flat out, none",
            metric: .rate("deliveries/s"), journal: Samples(values: throughput), sqlite: nil))
    // Empty when every repetition's subscribers failed (reported above as anomalies).
    if !broadcastThroughput.isEmpty {
        ctx.report.add(
            ResultRow(
                group: "follow",
                workload:
                    "follow throughput, \(grouped(followers)) subscribers of one StreamBroadcast, "
                    + "\(grouped(burst)) x 40 B appended flat out, none",
                metric: .rate("deliveries/s"), journal: Samples(values: broadcastThroughput), sqlite: nil))
    }
}

/// Appends 40-byte chunks to `id` from the calling thread at `rate` chunks/s until `stop`
/// is set; returns each append call's duration and each chunk's delay from its scheduled
/// time to the append's return (which counts time an append was held back and the ones
/// queued behind it).
final class PacedAppender: @unchecked Sendable {
    var callLatencies: [UInt64] = []
    var scheduleLatencies: [UInt64] = []
    var error: String?
    private let lock = NSLock()
    private var stopFlag = false

    func stop() {
        lock.lock()
        stopFlag = true
        lock.unlock()
    }

    var stopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopFlag
    }

    func run(_ journal: Journal, _ id: StreamID, rate: Double) {
        let chunk = [UInt8](stampedChunk(0))
        let interval = 1e9 / rate
        let start = monotonicNanoseconds()
        var k = 0
        callLatencies.reserveCapacity(1 << 20)
        scheduleLatencies.reserveCapacity(1 << 20)
        chunk.withUnsafeBytes { raw in
            while true {
                if k % 256 == 0 && stopped { break }
                let scheduled = start + UInt64(Double(k) * interval)
                var now = monotonicNanoseconds()
                if now < scheduled {
                    if scheduled - now > 200_000 { sleepUntil(scheduled - 100_000) }
                    repeat { now = monotonicNanoseconds() } while now < scheduled
                }
                let before = monotonicNanoseconds()
                do { _ = try journal.append(bytes: raw, to: id) } catch {
                    self.error = "\(error)"
                    break
                }
                let after = monotonicNanoseconds()
                callLatencies.append(after - before)
                scheduleLatencies.append(after - scheduled)
                k += 1
            }
        }
    }
}

/// Workload `compaction`: a ~1 GiB journal of 1 KiB chunks (1,000 streams x 1,000,
/// round-robin in batches of 10, all completed), 90% of the streams deleted, then
/// `compact(policy: .keepEverything)`. Reports live MB/s copied and the append pause from
/// its `CompactionReport`, over several compactions (each on a freshly built journal), and
/// the p99 latency of paced 40-byte appends from one thread during the compaction against
/// the same appender with no compaction running.
func runCompaction(_ ctx: BenchContext) throws {
    let shape = ctx.config.compactionShape
    let runs = ctx.config.compactionRuns
    let appendRate = 20_000.0
    var copyRates: [Double] = []
    var pauses: [UInt64] = []
    var durations: [Double] = []
    var quietCall: [UInt64] = []
    var busyCall: [UInt64] = []
    var quietSched: [UInt64] = []
    var busySched: [UInt64] = []
    var buildSeconds: [Double] = []
    var last: CompactionReport?
    let payload = [UInt8](repeating: 0x61, count: 1024)
    for _ in 0..<runs {
        let path = ctx.scratch.file("k.journal")
        var options = JournalOptions(durability: .none)
        options.autoCompaction = nil
        let journal = try Journal(path: path, options: options)
        let build = Stopwatch()
        let ids = try (0..<shape.streams).map { _ in try journal.createStream() }
        try payload.withUnsafeBytes { raw in
            var done = 0
            while done < shape.chunks {
                let n = min(10, shape.chunks - done)
                for id in ids { for _ in 0..<n { try journal.append(bytes: raw, to: id) } }
                done += n
            }
        }
        for id in ids { try journal.complete(id) }
        for (i, id) in ids.enumerated() where i % 10 != 0 { try journal.deleteStream(id) }
        buildSeconds.append(build.seconds)

        let live = try journal.createStream()
        // Without compaction: the paced appender alone for 2 s.
        let quiet = PacedAppender()
        let quietSeconds = ctx.config.quick ? 0.5 : 2.0
        onDedicatedThread {
            let stopper = Thread {
                usleep(UInt32(quietSeconds * 1e6))
                quiet.stop()
            }
            stopper.start()
            quiet.run(journal, live, rate: appendRate)
        }
        // During compaction: the same appender, started 100 ms before and stopped 100 ms after.
        let busy = PacedAppender()
        let appenderDone = DispatchSemaphore(value: 0)
        let appenderThread = Thread {
            busy.run(journal, live, rate: appendRate)
            appenderDone.signal()
        }
        appenderThread.start()
        usleep(100_000)
        let report = try journal.compact(policy: .keepEverything)
        usleep(100_000)
        busy.stop()
        appenderDone.wait()
        for a in [quiet, busy] {
            if let e = a.error { ctx.report.anomaly("compaction: paced appender failed: \(e)") }
        }
        quietCall += quiet.callLatencies
        quietSched += quiet.scheduleLatencies
        busyCall += busy.callLatencies
        busySched += busy.scheduleLatencies
        copyRates.append(Double(report.bytesCopied) / Double(report.durationNanoseconds) * 1e3)
        pauses.append(report.pauseNanoseconds)
        durations.append(Double(report.durationNanoseconds) / 1e9)
        last = report
        print(
            String(
                format:
                    "   run: build %.1f s, log %.0f MB -> %.0f MB, copied %.0f MB in %.3f s (%.0f MB/s), pause %.2f ms, %d deleted streams reclaimed, %d appends during",
                buildSeconds.last!, Double(report.logBytesBefore) / 1e6, Double(report.logBytesAfter) / 1e6,
                Double(report.bytesCopied) / 1e6, durations.last!, copyRates.last!,
                Double(report.pauseNanoseconds) / 1e6, report.deletedStreamsReclaimed, busy.callLatencies.count))
        flushOutput()
        try journal.close()
        ctx.scratch.removeFiles(path)
    }
    let label =
        "\(grouped(shape.streams)) x \(grouped(shape.chunks)) x 1 KiB, 90% of streams deleted"
    ctx.report.add(
        ResultRow(
            group: "compaction", workload: "compaction live copy rate (bytesCopied / duration), \(label)",
            metric: .rate("MB/s"), journal: Samples(values: copyRates), sqlite: nil))
    ctx.report.add(
        ResultRow(
            group: "compaction", workload: "compaction duration, \(label)", metric: .duration,
            journal: Samples(values: durations), sqlite: nil))
    let sortedPauses = pauses.sorted()
    let pauseSeconds = pauses.map { Double($0) / 1e9 }
    for (name, fraction) in [("p50", 0.5), ("p99", 0.99), ("max", 1.0)] {
        let value = Double(percentile(sortedPauses, fraction)) / 1e9
        ctx.report.add(
            ResultRow(
                group: "compaction", workload: "compaction append pause \(name) over \(runs) compactions, \(label)",
                metric: .duration, journal: Samples(values: name == "p50" ? pauseSeconds : [value]), sqlite: nil))
    }
    let p99Pause = Double(percentile(sortedPauses, 0.99)) / 1e9
    ctx.report.floor(
        "compaction pause p99 < 50 ms", p99Pause < 0.05, Metric.duration.format(p99Pause))
    let rateText = "\(grouped(Int(appendRate))) x 40 B chunks/s, 1 thread, none"
    for (name, quiet, busy) in [("call", quietCall, busyCall), ("from schedule", quietSched, busySched)] {
        let q = quiet.sorted()
        let b = busy.sorted()
        guard !q.isEmpty, !b.isEmpty else { continue }
        for (pname, fraction) in [("p99", 0.99), ("max", 1.0)] {
            ctx.report.add(
                ResultRow(
                    group: "compaction", workload: "append latency (\(name)) \(pname), \(rateText), no compaction",
                    metric: .duration, journal: Samples(values: [Double(percentile(q, fraction)) / 1e9]), sqlite: nil))
            ctx.report.add(
                ResultRow(
                    group: "compaction", workload: "append latency (\(name)) \(pname), \(rateText), during compaction",
                    metric: .duration, journal: Samples(values: [Double(percentile(b, fraction)) / 1e9]), sqlite: nil))
        }
    }
    guard let last else { return }
    ctx.report.note(
        String(
            format:
                "compaction: build of each journal took %.1f s (median); last run log %.0f MB -> %.0f MB, file %.0f MB -> %.0f MB, %d streams kept; append latencies pooled over %d runs (%d / %d appends without / during)",
            medianOf(buildSeconds), Double(last.logBytesBefore) / 1e6, Double(last.logBytesAfter) / 1e6,
            Double(last.fileBytesBefore) / 1e6, Double(last.fileBytesAfter) / 1e6, last.streamsKept, runs,
            quietCall.count, busyCall.count))
}
