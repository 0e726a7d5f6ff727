import Synchronization

/// Counters updated on worker threads (atomics; the loop's own counters live in
/// `LoopStatistics` and need none), rendered with the loop's figures as Prometheus text.
final class ServerMetrics: Sendable {
    /// Chunks stored by appends (duplicates excluded).
    let appends = Atomic<Int>(0)
    /// Payload bytes of those chunks.
    let appendBytes = Atomic<Int>(0)
    /// Idempotent appends answered as duplicates (a producer's retry).
    let duplicateAppends = Atomic<Int>(0)
    /// Journal writes that failed (any error code).
    let writeErrors = Atomic<Int>(0)
    /// Streams deleted by the retention sweep.
    let retentionDeletes = Atomic<Int>(0)
    /// Duration of journal writes on workers; under `every-ack` this is the `fdatasync`
    /// latency as clients see it (group commit included).
    let writeDuration = Histogram(
        bounds: [0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1])
    /// Duration of explicit `sync()` calls (shutdown).
    let syncDuration = Histogram(bounds: [0.000_1, 0.001, 0.01, 0.1, 1])

    /// A fresh set of zeroes.
    init() {}
}

/// A Prometheus histogram with fixed bucket bounds in seconds. Guarded by a pthread mutex
/// (Thread Sanitizer reports false races on `Synchronization.Mutex`).
final class Histogram: @unchecked Sendable {
    private struct State {
        var counts: [Int]
        var sum: Double = 0
        var count = 0
    }

    /// Upper bounds of the buckets, ascending; `+Inf` is implied.
    let bounds: [Double]
    private let lock = ConditionLock()
    private var state: State

    /// A histogram with these upper bounds.
    init(bounds: [Double]) {
        self.bounds = bounds
        state = State(counts: [Int](repeating: 0, count: bounds.count))
    }

    /// Records one observation, in seconds.
    func observe(_ seconds: Double) {
        let bucket = bounds.firstIndex { seconds <= $0 }
        lock.withLock {
            if let bucket { state.counts[bucket] += 1 }
            state.sum += seconds
            state.count += 1
        }
    }

    /// Records the time since `start` (a `MonotonicClock` reading).
    func observe(since start: UInt64) {
        observe(Double(MonotonicClock.now() &- start) / 1e9)
    }

    /// Appends the `_bucket`, `_sum` and `_count` lines for `name`.
    func render(_ name: String, help: String, into text: inout String) {
        let snapshot = lock.withLock { state }
        text += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        var cumulative = 0
        for (bound, count) in zip(bounds, snapshot.counts) {
            cumulative += count
            text += "\(name)_bucket{le=\"\(bound)\"} \(cumulative)\n"
        }
        text += "\(name)_bucket{le=\"+Inf\"} \(snapshot.count)\n"
        text += "\(name)_sum \(snapshot.sum)\n\(name)_count \(snapshot.count)\n"
    }
}

/// Figures the event loop keeps in plain integers (only its thread touches them).
struct LoopStatistics {
    /// Connections accepted since start.
    var accepted = 0
    /// Connections refused with 503 because the limit was reached.
    var rejectedFull = 0
    /// Requests parsed and routed.
    var requests = 0
    /// Responses by class: index 1 = 1xx ... 5 = 5xx.
    var responsesByClass = [Int](repeating: 0, count: 6)
    /// Requests refused by the parser (malformed, over a limit).
    var parseErrors = 0
    /// Requests or connections ended by a timeout (idle, slow request, stuck output).
    var timeouts = 0
    /// SSE chunk events written.
    var eventsSent = 0
    /// Bytes written to SSE subscribers.
    var sseBytesSent = 0
    /// Event streams started.
    var subscriptionsStarted = 0
}

/// Prometheus text exposition (version 0.0.4), one metric at a time.
struct PrometheusText {
    /// The document so far.
    private(set) var text = ""

    /// Appends a gauge or counter with HELP and TYPE lines.
    mutating func metric(_ name: String, _ type: String, _ help: String, _ value: Int, labels: String = "") {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name)\(labels) \(value)\n"
    }

    /// Appends one more sample of the metric declared just before.
    mutating func sample(_ name: String, _ value: Int, labels: String) {
        text += "\(name)\(labels) \(value)\n"
    }

    /// Appends pre-rendered lines (histograms).
    mutating func raw(_ lines: String) { text += lines }
}
