// Sizes and repetitions of a run: the full run, and `--quick` for a smoke test.

/// Everything a run's size depends on. `full` is the measurement; `quick` checks that every
/// workload works, in well under a minute, and its figures mean little.
struct BenchConfig {
    /// Whether this is a `--quick` run.
    var quick: Bool
    /// Repetitions of each measurement; the table shows medians.
    var reps: Int
    /// 40-byte interleaved append shapes (streams, chunks per stream). SQLite FULL runs only
    /// for the first (FULL on 10,000 x 100 would take minutes per repetition).
    var append40: [(streams: Int, chunks: Int)]
    /// Large-chunk append shapes: (chunk size, streams, chunks per stream).
    var appendLarge: [(size: Int, streams: Int, chunks: Int)]
    /// Single-stream, single-thread append: chunks for the journal and (slower) for SQLite.
    var singleCoreJournal: Int
    var singleCoreSQLite: Int
    /// Concurrent durable appenders: thread counts, and seconds each configuration runs.
    var appenderThreads: [Int]
    var concurrentSeconds: Double
    /// Replay data sets (streams, chunks per stream) and the single long stream.
    var replayShapes: [(streams: Int, chunks: Int)]
    var longStream: Int
    /// Resume data set (streams, chunks per stream); every stream resumes from its last 10.
    var resumeShape: (streams: Int, chunks: Int)
    /// Open-time data sets of 1 KiB chunks: (streams, chunks per stream), small then large.
    var openShapes: [(streams: Int, chunks: Int)]
    /// Cold-process opens per configuration.
    var openRuns: Int
    /// Unsnapshotted journal tails (bytes) to recover after kill -9, and the cap on the chunks
    /// the SQLite writer child writes first (its recovery work is bounded by the WAL anyway).
    var recoveryTails: [Int]
    var recoverySQLiteCap: Int
    /// File-size data sets (streams, chunks per stream) of 40-byte chunks.
    var sizeShapes: [(streams: Int, chunks: Int)]
    /// Live followers of one stream, seconds of the 50 chunks/s latency run, chunks of the
    /// flat-out throughput run, and the smaller follower counts whose latency is measured too
    /// (how it grows with the number of followers).
    var followers: Int
    var followLatencySeconds: Double
    var followBurstChunks: Int
    var followerScale: [Int]
    /// Follower counts of the child process that follows the stream from a read-only handle.
    var crossProcessFollowers: [Int]
    /// Compaction data set of 1 KiB chunks (streams, chunks per stream; 90% of the streams
    /// are deleted) and how many compactions (each on a freshly built journal).
    var compactionShape: (streams: Int, chunks: Int)
    var compactionRuns: Int
    /// `--instructions`: the data set (streams, chunks per stream) of 40-byte chunks appended
    /// and replayed under callgrind, and how often each count is taken (the counts are
    /// deterministic; a second run shows that they are).
    var instructionShape: (streams: Int, chunks: Int)
    var instructionReps: Int

    /// The measurement run (about 6-8 minutes on 2 cores).
    static let full = BenchConfig(
        quick: false, reps: 3,
        append40: [(100, 1000), (10_000, 100)],
        appendLarge: [(1024, 100, 1000), (64 << 10, 16, 100)],
        singleCoreJournal: 5_000_000, singleCoreSQLite: 200_000,
        appenderThreads: [1, 8, 64, 512], concurrentSeconds: 2,
        replayShapes: [(100, 1000), (10_000, 100)], longStream: 1_000_000,
        resumeShape: (10_000, 100),
        openShapes: [(1000, 100), (1000, 1000)], openRuns: 5,
        recoveryTails: [4 << 20, 60 << 20], recoverySQLiteCap: 100_000,
        sizeShapes: [(100, 1000), (10_000, 100)],
        followers: 1000, followLatencySeconds: 5, followBurstChunks: 2000, followerScale: [100, 300],
        crossProcessFollowers: [1, 1000],
        compactionShape: (1000, 1000), compactionRuns: 5,
        instructionShape: (100, 100), instructionReps: 2)

    /// The smoke test.
    static let quickRun = BenchConfig(
        quick: true, reps: 1,
        append40: [(100, 100), (1000, 20)],
        appendLarge: [(1024, 20, 100), (64 << 10, 4, 20)],
        singleCoreJournal: 300_000, singleCoreSQLite: 20_000,
        appenderThreads: [1, 8, 64, 512], concurrentSeconds: 0.3,
        replayShapes: [(100, 100), (1000, 20)], longStream: 100_000,
        resumeShape: (1000, 20),
        openShapes: [(100, 100), (100, 1000)], openRuns: 2,
        recoveryTails: [1 << 20, 8 << 20], recoverySQLiteCap: 10_000,
        sizeShapes: [(100, 100)],
        followers: 100, followLatencySeconds: 1, followBurstChunks: 200, followerScale: [10],
        crossProcessFollowers: [1, 10],
        compactionShape: (100, 200), compactionRuns: 2,
        instructionShape: (20, 20), instructionReps: 1)
}

/// The workloads, by their `--only` names, in run order.
enum WorkloadName: String, CaseIterable {
    case append
    case appendLarge = "append-large"
    case singleCore = "single-core"
    case concurrent
    case replay
    case open
    case recovery
    case size
    case follow
    case compaction

    /// One line for `--help` and the README.
    var summary: String {
        switch self {
        case .append: return "40-byte chunks, 100 x 1,000 and 10,000 x 100 streams, round-robin"
        case .appendLarge: return "1 KiB and 64 KiB chunks (MB/s and chunks/s)"
        case .singleCore: return "one thread, one stream, 40-byte chunks, no sync"
        case .concurrent: return "1, 8, 64, 512 threads appending durably, each to its own stream"
        case .replay: return "replay every stream; one 1,000,000-chunk stream; resume from the last 10 chunks"
        case .open: return "open time of a ~100 MiB and a ~1 GiB store in a new process"
        case .recovery: return "open time after kill -9 of a writer process"
        case .size: return "bytes on disk per payload byte of 40-byte chunks"
        case .follow: return "1,000 in-process followers of one stream: latency at 50 chunks/s, throughput"
        case .compaction: return "compacting a ~1 GiB journal with 90% dead data: MB/s, pause, append latency"
        }
    }
}
