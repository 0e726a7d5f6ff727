// The workloads. Each one runs StreamJournal and SQLite alternately, `reps` times, on fresh
// files in the scratch directory, and adds rows of medians to the report.

import Foundation
import Journal

/// What every workload gets.
struct BenchContext {
    /// Sizes and repetitions.
    let config: BenchConfig
    /// Where data files go.
    let scratch: ScratchDirectory
    /// Where rows go.
    let report: Report

    /// Repetitions.
    var reps: Int { config.reps }
}

// MARK: 1. Append, 40-byte chunks

/// Workload `append`: 40-byte text-delta chunks, round-robin over 100 x 1,000 and
/// 10,000 x 100 streams. No sync (journal `.none`, and its default `.interval(100 ms)`)
/// against SQLite NORMAL; durable per batch of 10 (journal `.everyAcknowledgement` with one
/// `append(contentsOf:)` per batch) against SQLite FULL (one transaction per batch). Both in
/// the row layout and the packed layout of SQLite.
func runAppend(_ ctx: BenchContext) throws {
    let bodies = BodySource(.textDelta)
    for (index, size) in ctx.config.append40.enumerated() {
        let shape = AppendShape(streams: size.streams, chunksPerStream: size.chunks, bodies: bodies)
        let durable = index == 0
        var none: [Double] = []
        var interval: [Double] = []
        var everyAck: [Double] = []
        var normal: [Double] = []
        var normalPacked: [Double] = []
        var full: [Double] = []
        var fullPacked: [Double] = []
        for _ in 0..<ctx.reps {
            none.append(
                try appendToJournal(shape, path: ctx.scratch.file("a.journal"), durability: .none, mode: .perChunk)
                    .chunksPerSecond)
            normal.append(
                try appendToSQLite(shape, path: ctx.scratch.file("a.db"), synchronous: "NORMAL", layout: .rows)
                    .chunksPerSecond)
            interval.append(
                try appendToJournal(
                    shape, path: ctx.scratch.file("a.journal"), durability: .interval(.milliseconds(100)),
                    mode: .perChunk
                ).chunksPerSecond)
            normalPacked.append(
                try appendToSQLite(shape, path: ctx.scratch.file("a.db"), synchronous: "NORMAL", layout: .packed)
                    .chunksPerSecond)
            if durable {
                everyAck.append(
                    try appendToJournal(
                        shape, path: ctx.scratch.file("a.journal"), durability: .everyAcknowledgement,
                        mode: .perBatch
                    ).chunksPerSecond)
                full.append(
                    try appendToSQLite(shape, path: ctx.scratch.file("a.db"), synchronous: "FULL", layout: .rows)
                        .chunksPerSecond)
                fullPacked.append(
                    try appendToSQLite(shape, path: ctx.scratch.file("a.db"), synchronous: "FULL", layout: .packed)
                        .chunksPerSecond)
            }
        }
        let name = "append \(shape.label)"
        let chunks = Metric.rate("chunks/s")
        ctx.report.add(
            ResultRow(
                group: "append", workload: "\(name), none | NORMAL", metric: chunks, journal: Samples(values: none),
                sqlite: Samples(values: normal)))
        ctx.report.add(
            ResultRow(
                group: "append", workload: "\(name), interval 100 ms | NORMAL", metric: chunks,
                journal: Samples(values: interval), sqlite: Samples(values: normal)))
        ctx.report.add(
            ResultRow(
                group: "append", workload: "\(name), none | NORMAL packed", metric: chunks,
                journal: Samples(values: none), sqlite: Samples(values: normalPacked)))
        if durable {
            ctx.report.add(
                ResultRow(
                    group: "append", workload: "\(name), every-ack per 10 | FULL", metric: chunks,
                    journal: Samples(values: everyAck), sqlite: Samples(values: full)))
            ctx.report.add(
                ResultRow(
                    group: "append", workload: "\(name), every-ack per 10 | FULL packed", metric: chunks,
                    journal: Samples(values: everyAck), sqlite: Samples(values: fullPacked)))
        }
    }
    ctx.scratch.removeFiles(ctx.scratch.path + "/a.journal")
    ctx.scratch.removeFiles(ctx.scratch.path + "/a.db")
}

// MARK: 2. Append, 1 KiB and 64 KiB chunks

/// Workload `append-large`: the same round-robin with 1 KiB and 64 KiB chunks (about
/// 100 MiB each), no sync against NORMAL and durable per batch of 10 against FULL.
func runAppendLarge(_ ctx: BenchContext) throws {
    for size in ctx.config.appendLarge {
        let shape = AppendShape(
            streams: size.streams, chunksPerStream: size.chunks, bodies: BodySource(.filler(size.size)))
        var none: [Double] = []
        var everyAck: [Double] = []
        var normal: [Double] = []
        var full: [Double] = []
        for _ in 0..<ctx.reps {
            none.append(
                try appendToJournal(shape, path: ctx.scratch.file("l.journal"), durability: .none, mode: .perChunk)
                    .chunksPerSecond)
            normal.append(
                try appendToSQLite(shape, path: ctx.scratch.file("l.db"), synchronous: "NORMAL", layout: .rows)
                    .chunksPerSecond)
            everyAck.append(
                try appendToJournal(
                    shape, path: ctx.scratch.file("l.journal"), durability: .everyAcknowledgement, mode: .perBatch
                ).chunksPerSecond)
            full.append(
                try appendToSQLite(shape, path: ctx.scratch.file("l.db"), synchronous: "FULL", layout: .rows)
                    .chunksPerSecond)
        }
        let metric = Metric.payload(bytesPerChunk: size.size)
        ctx.report.add(
            ResultRow(
                group: "append-large", workload: "append \(shape.label), none | NORMAL", metric: metric,
                journal: Samples(values: none), sqlite: Samples(values: normal)))
        ctx.report.add(
            ResultRow(
                group: "append-large", workload: "append \(shape.label), every-ack per 10 | FULL", metric: metric,
                journal: Samples(values: everyAck), sqlite: Samples(values: full)))
    }
    ctx.scratch.removeFiles(ctx.scratch.path + "/l.journal")
    ctx.scratch.removeFiles(ctx.scratch.path + "/l.db")
}

// MARK: 3. Single core

/// Workload `single-core`: one thread appends 40-byte chunks to one stream with no sync
/// (`append(bytes:to:)`, one call per chunk). SQLite (NORMAL, 10 per transaction) runs fewer
/// chunks, as it is far slower; both are steady-state rates.
func runSingleCore(_ ctx: BenchContext) throws {
    let bodies = BodySource(.textDelta)
    let journalShape = AppendShape(streams: 1, chunksPerStream: ctx.config.singleCoreJournal, bodies: bodies)
    let sqliteShape = AppendShape(streams: 1, chunksPerStream: ctx.config.singleCoreSQLite, bodies: bodies)
    var journal: [Double] = []
    var sqlite: [Double] = []
    var noSnapshot: [Double] = []
    for _ in 0..<ctx.reps {
        journal.append(
            try appendToJournal(journalShape, path: ctx.scratch.file("c.journal"), durability: .none, mode: .perChunk)
                .chunksPerSecond)
        noSnapshot.append(
            try appendToJournal(
                journalShape, path: ctx.scratch.file("c.journal"), durability: .none, mode: .perChunk,
                snapshotInterval: 1 << 40
            ).chunksPerSecond)
        sqlite.append(
            try appendToSQLite(sqliteShape, path: ctx.scratch.file("c.db"), synchronous: "NORMAL", layout: .rows)
                .chunksPerSecond)
    }
    let row = ResultRow(
        group: "single-core",
        workload:
            "append 1 stream x \(grouped(ctx.config.singleCoreJournal)) x 40 B, 1 thread, none | NORMAL (SQLite: \(grouped(ctx.config.singleCoreSQLite)) chunks)",
        metric: .rate("chunks/s"), journal: Samples(values: journal), sqlite: Samples(values: sqlite))
    ctx.report.add(row)
    ctx.report.floor(
        "single-core no-sync append >= 5 M chunks/s", row.journal.median >= 5e6,
        Metric.rate("chunks/s").format(row.journal.median))
    ctx.report.note(
        "single-core append with snapshotInterval = 1 TiB (no snapshot, hence no fdatasync of the mapping, during the run; diagnosis only): \(Metric.rate("chunks/s").format(medianOf(noSnapshot)))"
    )
    ctx.scratch.removeFiles(ctx.scratch.path + "/c.journal")
    ctx.scratch.removeFiles(ctx.scratch.path + "/c.db")
}

// MARK: 4. Concurrent durable appenders

/// Workload `concurrent`: N threads, each appending 40-byte chunks to its own stream for a
/// fixed time. StreamJournal `.everyAcknowledgement`, one chunk per append: every append
/// returns only after an fdatasync covering it, and concurrent appenders share one
/// (group commit). SQLite FULL: ONE connection shared by all threads and serialized by a
/// mutex, each thread committing one transaction of 10 chunks at a time (ResumableStream's
/// batch, so 10 chunks share one acknowledgement), and again with one chunk per transaction
/// (the journal's per-chunk acknowledgement). One serialized connection is SQLite's best
/// case: it has one writer at a time anyway, and a connection per thread with busy_timeout
/// only adds lock retries and sleeps.
func runConcurrent(_ ctx: BenchContext) throws {
    let bodies = BodySource(.textDelta)
    let latency = try fdatasyncLatency(directory: ctx.scratch.path, samples: ctx.config.quick ? 50 : 300)
    ctx.report.note(
        "this disk: pwrite of 88 bytes at the end of a file + fdatasync, median \(Metric.duration.format(latency)) (\(Metric.rate("syncs/s").format(1 / latency)))"
    )
    for threads in ctx.config.appenderThreads {
        var journal: [Double] = []
        var journalTasks: [Double] = []
        var sqlite10: [Double] = []
        var sqlite1: [Double] = []
        for _ in 0..<ctx.reps {
            journal.append(try concurrentJournal(ctx, threads: threads, bodies: bodies))
            journalTasks.append(try concurrentJournalTasks(ctx, tasks: threads, bodies: bodies))
            sqlite10.append(try concurrentSQLite(ctx, threads: threads, bodies: bodies, chunksPerCommit: 10))
            sqlite1.append(try concurrentSQLite(ctx, threads: threads, bodies: bodies, chunksPerCommit: 1))
        }
        let name = "durable append, \(threads) appender thread\(threads == 1 ? "" : "s"), every-ack per chunk"
        ctx.report.add(
            ResultRow(
                group: "concurrent", workload: "\(name) | FULL, 1 chunk per commit", metric: .rate("chunks/s"),
                journal: Samples(values: journal), sqlite: Samples(values: sqlite1)))
        let row = ResultRow(
            group: "concurrent", workload: "\(name) | FULL, 10 chunks per commit", metric: .rate("chunks/s"),
            journal: Samples(values: journal), sqlite: Samples(values: sqlite10))
        ctx.report.add(row)
        // The same appenders as tasks (`appendSuspending`): the maintenance thread syncs, and
        // a task suspends instead of its thread sleeping, so no thread switch per chunk. SQLite
        // has no such API; its column repeats the threads' 1-chunk-per-commit figure.
        let taskRow = ResultRow(
            group: "concurrent",
            workload:
                "durable append, \(threads) appender task\(threads == 1 ? "" : "s") (appendSuspending), every-ack per chunk | FULL, 1 chunk per commit (threads)",
            metric: .rate("chunks/s"), journal: Samples(values: journalTasks), sqlite: Samples(values: sqlite1))
        ctx.report.add(taskRow)
        if threads >= 64 {
            ctx.report.floor(
                "durable append with \(threads) appender threads >= 100 k chunks/s", row.journal.median >= 100_000,
                Metric.rate("chunks/s").format(row.journal.median))
            ctx.report.floor(
                "durable append with \(threads) appender tasks >= 100 k chunks/s", taskRow.journal.median >= 100_000,
                Metric.rate("chunks/s").format(taskRow.journal.median))
        }
    }
    ctx.scratch.removeFiles(ctx.scratch.path + "/t.journal")
    ctx.scratch.removeFiles(ctx.scratch.path + "/t.db")
}

/// One run of `threads` durable journal appenders; returns chunks/s. Afterwards checks,
/// through a read-only open, that every stream holds exactly the chunks its thread was told
/// were appended.
private func concurrentJournal(_ ctx: BenchContext, threads: Int, bodies: BodySource) throws -> Double {
    let (path, journal, streams) = try durableJournal(ctx, streams: threads)
    let gate = StartGate()
    let results = WorkerResults(workers: threads)
    var elapsed = 0.0
    runThreads(
        threads,
        { i in
            gate.wait()
            var n = 0
            while monotonicNanoseconds() < gate.deadline {
                do {
                    let index = try journal.append(bytes: bodies.body(stream: i, index: n), to: streams[i])
                    if index != n {
                        results.fail("thread \(i): append returned index \(index), expected \(n)")
                        break
                    }
                } catch {
                    results.fail("thread \(i): append threw \(error)")
                    break
                }
                n += 1
            }
            results.set(i, n)
        },
        afterStart: { gate.open(afterWorkers: threads, runFor: ctx.config.concurrentSeconds) })
    elapsed = Double(monotonicNanoseconds() - gate.openedAt) / 1e9
    try journal.close()
    try checkDurableRun(path: path, streams: streams, results: results, label: "\(threads) appender threads")
    return Double(results.total) / elapsed
}

/// A new every-ack journal with one open stream per appender.
private func durableJournal(_ ctx: BenchContext, streams count: Int) throws -> (String, Journal, [StreamID]) {
    let path = ctx.scratch.file("t.journal")
    let journal = try Journal(path: path, options: JournalOptions(durability: .everyAcknowledgement))
    let ids = workloadStreamIDs(count)
    let streams = try (0..<count).map { try StreamID(ids.string($0)) }
    for id in streams { try journal.createStream(id) }
    return (path, journal, streams)
}

/// Throws the first appender's error, or a stream whose chunk count, read back through a
/// read-only open, differs from what its appender was told it appended.
private func checkDurableRun(path: String, streams: [StreamID], results: WorkerResults, label: String) throws {
    if let error = results.error { throw BenchError("StreamJournal, \(label): \(error)") }
    let reader = try Journal.openReadOnly(path: path)
    for i in streams.indices {
        let count = try reader.info(streams[i]).chunkCount
        if count != results.count(i) {
            throw BenchError(
                "StreamJournal, \(label): stream \(i) holds \(count) chunks after close, its appender appended \(results.count(i))"
            )
        }
    }
    try reader.close()
}

/// One run of `tasks` durable journal appenders as tasks calling `appendSuspending`; returns
/// chunks/s, after the same read-back check as the threads' run.
private func concurrentJournalTasks(_ ctx: BenchContext, tasks: Int, bodies: BodySource) throws -> Double {
    let (path, journal, streams) = try durableJournal(ctx, streams: tasks)
    let results = WorkerResults(workers: tasks)
    let started = monotonicNanoseconds()
    let deadline = started + UInt64(ctx.config.concurrentSeconds * 1e9)
    let group = DispatchGroup()
    for i in 0..<tasks {
        group.enter()
        Task.detached {
            var n = 0
            while monotonicNanoseconds() < deadline {
                do {
                    let body = bodies.body(stream: i, index: n)
                    let index = try await journal.appendSuspending(bytes: body, to: streams[i])
                    if index != n {
                        results.fail("task \(i): append returned index \(index), expected \(n)")
                        break
                    }
                } catch {
                    results.fail("task \(i): append threw \(error)")
                    break
                }
                n += 1
            }
            results.set(i, n)
            group.leave()
        }
    }
    group.wait()
    let elapsed = Double(monotonicNanoseconds() - started) / 1e9
    try journal.close()
    try checkDurableRun(path: path, streams: streams, results: results, label: "\(tasks) appender tasks")
    ctx.scratch.removeFiles(path)
    return Double(results.total) / elapsed
}

/// One run of `threads` SQLite appenders on one serialized FULL connection, each committing
/// `chunksPerCommit` chunks per transaction; returns chunks/s.
private func concurrentSQLite(
    _ ctx: BenchContext, threads: Int, bodies: BodySource, chunksPerCommit: Int
) throws -> Double {
    let path = ctx.scratch.file("t.db")
    let store = try ResumableStreamStore(path: path, synchronous: "FULL", layout: .rows)
    let ids = workloadStreamIDs(threads)
    for i in 0..<threads { try store.start(stream: ids.bytes(i)) }
    let writer = NSLock()
    let gate = StartGate()
    let results = WorkerResults(workers: threads)
    runThreads(
        threads,
        { i in
            gate.wait()
            var n = 0
            while monotonicNanoseconds() < gate.deadline {
                writer.lock()
                do {
                    try store.db.exec("begin")
                    let first = n
                    try store.insertBatch(stream: ids.bytes(i), first: first, count: chunksPerCommit, segment: 0) {
                        k in bodies.body(stream: i, index: first + k)
                    }
                    try store.db.exec("commit")
                } catch {
                    writer.unlock()
                    results.fail("thread \(i): \(error)")
                    break
                }
                writer.unlock()
                n += chunksPerCommit
            }
            results.set(i, n)
        },
        afterStart: { gate.open(afterWorkers: threads, runFor: ctx.config.concurrentSeconds) })
    let elapsed = Double(monotonicNanoseconds() - gate.openedAt) / 1e9
    try store.close()
    if let error = results.error { throw BenchError("SQLite, \(threads) appenders: \(error)") }
    return Double(results.total) / elapsed
}

// MARK: 5. Replay and resume

/// A pair of read-only data sets with the same content, built for a read workload.
struct DataSetPair {
    /// What both files hold.
    let shape: AppendShape
    /// The journal.
    let journalPath: String
    /// The SQLite database, in the rows layout.
    let sqlitePath: String
}

/// Builds the pair for `shape` (journal: the append workload's own file; SQLite: same rows,
/// order and layout, committed in bigger transactions to save time) and checks every
/// journal chunk byte for byte.
private func buildPair(_ ctx: BenchContext, _ shape: AppendShape, name: String) throws -> DataSetPair {
    let pair = DataSetPair(
        shape: shape, journalPath: ctx.scratch.file("\(name).journal"), sqlitePath: ctx.scratch.file("\(name).db"))
    try buildJournal(shape, path: pair.journalPath)
    try buildSQLite(shape, path: pair.sqlitePath)
    try verifyJournal(pair)
    return pair
}

/// Reads every chunk of every stream of the journal and compares it with what was appended.
private func verifyJournal(_ pair: DataSetPair) throws {
    let journal = try Journal.openReadOnly(path: pair.journalPath)
    let ids = workloadStreamIDs(pair.shape.streams)
    for s in 0..<pair.shape.streams {
        let id = try StreamID(ids.string(s))
        let info = try journal.info(id)
        guard info.chunkCount == pair.shape.chunksPerStream, info.status == .completed else {
            throw BenchError(
                "StreamJournal \(pair.journalPath): stream \(s) has \(info.chunkCount) chunks, status \(info.status); expected \(pair.shape.chunksPerStream), completed"
            )
        }
        var cursor = try journal.chunks(of: id, from: 0)
        var i = 0
        while let chunk = try cursor.next() {
            let expected = pair.shape.bodies.body(stream: s, index: i)
            let same = chunk.index == i && chunk.withUnsafeBytes { $0.elementsEqual(expected) }
            if !same {
                throw BenchError(
                    "StreamJournal \(pair.journalPath): stream \(s) chunk \(i) reads back as index \(chunk.index), \(chunk.count) bytes \"\(chunk.text)\"; expected \"\(String(decoding: expected, as: UTF8.self))\""
                )
            }
            i += 1
        }
        guard i == pair.shape.chunksPerStream else {
            throw BenchError("StreamJournal \(pair.journalPath): cursor of stream \(s) returned \(i) chunks")
        }
    }
    try journal.close()
}

/// Replays chunks `from..<chunksPerStream` of the streams in `order` from a fresh read-only
/// journal handle; returns seconds (the open is not timed; `measured` wraps the timed part)
/// and the digest.
func journalReplay(
    _ pair: DataSetPair, order: [Int], from: Int, measured: MeasuredSection = runDirectly
) throws -> (Double, ReplayDigest) {
    let journal = try Journal.openReadOnly(path: pair.journalPath)
    let ids = workloadStreamIDs(pair.shape.streams)
    let streams = try order.map { try StreamID(ids.string($0)) }
    var digest = ReplayDigest()
    let watch = Stopwatch()
    try measured {
        for id in streams {
            var cursor = try journal.chunks(of: id, from: from)
            while let chunk = try cursor.next() {
                chunk.withUnsafeBytes { digest.add($0, index: chunk.index) }
            }
        }
    }
    let seconds = watch.seconds
    try journal.close()
    return (seconds, digest)
}

/// The same replay from a fresh SQLite connection.
func sqliteReplay(
    _ pair: DataSetPair, order: [Int], from: Int, measured: MeasuredSection = runDirectly
) throws -> (Double, ReplayDigest) {
    let reader = try ResumableStreamReader(path: pair.sqlitePath)
    let ids = workloadStreamIDs(pair.shape.streams)
    var digest = ReplayDigest()
    let watch = Stopwatch()
    try measured {
        for s in order { try reader.read(stream: ids.bytes(s), from: from, into: &digest) }
    }
    let seconds = watch.seconds
    try reader.close()
    return (seconds, digest)
}

/// Runs both replays `reps` times, checks both digests, and returns (journal, SQLite)
/// seconds per run.
private func timeReplays(
    _ ctx: BenchContext, _ pair: DataSetPair, order: [Int], from: Int
) throws -> ([Double], [Double]) {
    let expected = ReplayDigest.expected(
        pair.shape.bodies, streams: 0..<pair.shape.streams, chunks: from..<pair.shape.chunksPerStream)
    var journal: [Double] = []
    var sqlite: [Double] = []
    for _ in 0..<ctx.reps {
        let (j, jDigest) = try journalReplay(pair, order: order, from: from)
        guard jDigest == expected else {
            throw BenchError(
                "StreamJournal replay of \(pair.shape.label) from \(from): digest \(jDigest), expected \(expected)")
        }
        let (s, sDigest) = try sqliteReplay(pair, order: order, from: from)
        guard sDigest == expected else {
            throw BenchError(
                "SQLite replay of \(pair.shape.label) from \(from): digest \(sDigest), expected \(expected)")
        }
        journal.append(j)
        sqlite.append(s)
    }
    return (journal, sqlite)
}

/// Workload `replay`: read every chunk of every stream in order (a reconnecting client with
/// no Last-Event-ID), for the append workload's shapes and one 1,000,000-chunk stream; then
/// resume: the last 10 chunks of every stream, streams in random order (a reconnect with
/// Last-Event-ID). Both from a fresh handle: journal `openReadOnly`, SQLite a new connection
/// (its page cache cold); the OS page cache is warm for both.
func runReplay(_ ctx: BenchContext) throws {
    let bodies = BodySource(.textDelta)
    var shapes = ctx.config.replayShapes.map { ($0.streams, $0.chunks) }
    shapes.append((1, ctx.config.longStream))
    var resumePair: DataSetPair?
    for (n, size) in shapes.enumerated() {
        let shape = AppendShape(streams: size.0, chunksPerStream: size.1, bodies: bodies)
        let pair = try buildPair(ctx, shape, name: "r\(n)")
        let (journal, sqlite) = try timeReplays(ctx, pair, order: Array(0..<shape.streams), from: 0)
        let chunks = Double(shape.totalChunks)
        let row = ResultRow(
            group: "replay", workload: "replay every stream, \(shape.label)", metric: .rate("chunks/s"),
            journal: Samples(values: journal.map { chunks / $0 }), sqlite: Samples(values: sqlite.map { chunks / $0 }))
        ctx.report.add(row)
        if shape.streams == 1 {
            ctx.report.floor(
                "replay of one long stream >= 10 M chunks/s", row.journal.median >= 10e6,
                Metric.rate("chunks/s").format(row.journal.median))
        }
        if size.0 == ctx.config.resumeShape.streams && size.1 == ctx.config.resumeShape.chunks {
            resumePair = pair
        } else {
            ctx.scratch.removeFiles(pair.journalPath)
            ctx.scratch.removeFiles(pair.sqlitePath)
        }
    }
    let pair =
        try resumePair
        ?? buildPair(
            ctx,
            AppendShape(
                streams: ctx.config.resumeShape.streams, chunksPerStream: ctx.config.resumeShape.chunks, bodies: bodies),
            name: "resume")
    var rng = SystemRandomNumberGenerator()
    let order = Array(0..<pair.shape.streams).shuffled(using: &rng)
    let from = pair.shape.chunksPerStream - 10
    let (journal, sqlite) = try timeReplays(ctx, pair, order: order, from: from)
    let resumes = Double(pair.shape.streams)
    ctx.report.add(
        ResultRow(
            group: "replay",
            workload:
                "resume from the last 10 chunks, each of \(grouped(pair.shape.streams)) streams (\(pair.shape.label)), random order",
            metric: .rate("resumes/s"), journal: Samples(values: journal.map { resumes / $0 }),
            sqlite: Samples(values: sqlite.map { resumes / $0 })))
    ctx.scratch.removeFiles(pair.journalPath)
    ctx.scratch.removeFiles(pair.sqlitePath)
}

// MARK: 6. Open and recovery

/// "1.07 GB" for a byte count.
func megabytes(_ bytes: Int64) -> String {
    bytes >= 1_000_000_000
        ? String(format: "%.2f GB", Double(bytes) / 1e9) : String(format: "%.0f MB", Double(bytes) / 1e6)
}

/// Runs `__open KIND PATH STREAM` in a new process; returns its fields.
private func openInChild(_ kind: OpenKind, path: String, stream: String) throws -> [String: String] {
    try parseChildLine(try runCommand(ownExecutablePath(), ["__open", kind.rawValue, path, stream]))
}

/// Workload `open`: how long a new process takes to open a ~100 MiB and a ~1 GiB store
/// (1 KiB chunks, 1,000 streams) and have it ready to serve a read: read-only, and for
/// writing (journal: lock, recovery checks, new generation; SQLite: ResumableStream's
/// constructor). Each open runs in a fresh process (the OS page cache stays warm).
func runOpen(_ ctx: BenchContext) throws {
    let bodies = BodySource(.filler(1024))
    var journalOpenBySize: [(Int64, Double)] = []
    for (n, size) in ctx.config.openShapes.enumerated() {
        let shape = AppendShape(streams: size.streams, chunksPerStream: size.chunks, bodies: bodies)
        let pair = try buildPair(ctx, shape, name: "o\(n)")
        // Both files fully written back first, so no open competes with writeback of the build.
        try syncFile(pair.journalPath)
        try syncFile(pair.sqlitePath)
        let journalSize = FileFootprint.of(pair.journalPath).apparent
        let sqliteSize = FileFootprint.of(all: [pair.sqlitePath, pair.sqlitePath + "-wal"]).apparent
        let stream = workloadStreamIDs(shape.streams).string(0)
        let sizes = "\(shape.label), journal \(megabytes(journalSize)) / SQLite \(megabytes(sqliteSize))"
        for (journalKind, sqliteKind, label) in [
            (OpenKind.journalReadOnly, OpenKind.sqliteReadOnly, "open read-only"),
            (OpenKind.journalWriter, OpenKind.sqliteWriter, "open for writing"),
        ] {
            var journal: [Double] = []
            var sqlite: [Double] = []
            var journalRead: [Double] = []
            var sqliteRead: [Double] = []
            var journalReport: [Double] = []
            var journalScanned: [Double] = []
            for _ in 0..<ctx.config.openRuns {
                let j = try openInChild(journalKind, path: pair.journalPath, stream: stream)
                let s = try openInChild(sqliteKind, path: pair.sqlitePath, stream: stream)
                for (fields, store) in [(j, "StreamJournal"), (s, "SQLite")] {
                    let total = try childNumber(fields, "chunks")
                    let read = try childNumber(fields, "read_chunks")
                    if Int(total) != shape.totalChunks || Int(read) != min(10, shape.chunksPerStream) {
                        throw BenchError(
                            "\(store) \(label) of \(pair.journalPath): found \(Int(total)) chunks, read \(Int(read)); expected \(shape.totalChunks) and 10"
                        )
                    }
                }
                journal.append(try childNumber(j, "open_s"))
                journalRead.append(try childNumber(j, "first_read_s"))
                journalReport.append(try childNumber(j, "report_s"))
                journalScanned.append(try childNumber(j, "records_scanned"))
                sqlite.append(try childNumber(s, "open_s"))
                sqliteRead.append(try childNumber(s, "first_read_s"))
            }
            let row = ResultRow(
                group: "open", workload: "\(label), new process, \(sizes)", metric: .duration,
                journal: Samples(values: journal), sqlite: Samples(values: sqlite))
            ctx.report.add(row)
            let d = Metric.duration
            ctx.report.note(
                "\(label), \(megabytes(journalSize)) journal: recoveryReport.durationNanoseconds median \(d.format(medianOf(journalReport))), records scanned after the snapshot median \(Int(medianOf(journalScanned))); first read (last 10 chunks of a stream) after open: journal \(d.format(medianOf(journalRead))), SQLite \(d.format(medianOf(sqliteRead)))"
            )
            ctx.report.floor(
                "\(label) of a \(megabytes(journalSize)) journal under 50 ms", row.journal.median < 0.050,
                d.format(row.journal.median))
            if journalKind == .journalReadOnly { journalOpenBySize.append((journalSize, row.journal.median)) }
        }
        ctx.scratch.removeFiles(pair.journalPath)
        ctx.scratch.removeFiles(pair.sqlitePath)
    }
    if journalOpenBySize.count == 2 {
        let (small, large) = (journalOpenBySize[0], journalOpenBySize[1])
        ctx.report.note(
            String(
                format: "journal read-only open: %@ for %@ vs %@ for %@ (file %.1fx larger, open time x%.2f)",
                Metric.duration.format(small.1), megabytes(small.0), Metric.duration.format(large.1),
                megabytes(large.0), Double(large.0) / Double(small.0), large.1 / small.1))
    }
}

/// Workload `recovery`: a child writer appends 40-byte chunks round-robin over 100 streams
/// (journal: no sync, so nothing is snapshotted: the whole log is the tail the next open
/// must scan; SQLite: NORMAL, 10 per transaction), is killed with SIGKILL while still
/// appending, and a new process opens the store for writing. The row is that open's time.
/// Also checks that every chunk appended before the kill is there.
func runRecovery(_ ctx: BenchContext) throws {
    // A 40-byte chunk's record: 40-byte header + body, 8-byte aligned (FORMAT.md §4). Until
    // 2026-12-05 this said 88, so the tails of earlier runs were 11/12 of their names.
    let recordBytes = 80
    let stream = workloadStreamIDs(100).string(0)
    for tail in ctx.config.recoveryTails {
        let journalChunks = tail / recordBytes
        let sqliteChunks = min(journalChunks, ctx.config.recoverySQLiteCap) / 10 * 10
        var journal: [Double] = []
        var sqlite: [Double] = []
        var journalReport: [Double] = []
        var scanned: [Double] = []
        for _ in 0..<ctx.reps {
            let jPath = ctx.scratch.file("k.journal")
            let jWritten = try spawnAndKillWriter(store: "journal", path: jPath, chunks: journalChunks)
            let j = try openInChild(.journalWriter, path: jPath, stream: stream)
            if Int(try childNumber(j, "chunks")) < jWritten {
                throw BenchError(
                    "StreamJournal lost chunks in a process crash: the writer had appended \(jWritten) chunks before SIGKILL, the next open found \(j["chunks"] ?? "?") (\(jPath))"
                )
            }
            journal.append(try childNumber(j, "open_s"))
            journalReport.append(try childNumber(j, "report_s"))
            scanned.append(try childNumber(j, "records_scanned"))

            let sPath = ctx.scratch.file("k.db")
            let sWritten = try spawnAndKillWriter(store: "sqlite", path: sPath, chunks: sqliteChunks)
            let s = try openInChild(.sqliteWriter, path: sPath, stream: stream)
            if Int(try childNumber(s, "chunks")) < sWritten {
                throw BenchError(
                    "SQLite lost committed chunks: \(sWritten) before SIGKILL, \(s["chunks"] ?? "?") after")
            }
            sqlite.append(try childNumber(s, "open_s"))
        }
        ctx.report.add(
            ResultRow(
                group: "recovery",
                workload:
                    "open for writing after kill -9 of the writer, \(tail >> 20) MiB journal tail (\(grouped(journalChunks)) chunks; SQLite \(grouped(sqliteChunks)))",
                metric: .duration, journal: Samples(values: journal), sqlite: Samples(values: sqlite)))
        ctx.report.note(
            "recovery with a \(tail >> 20) MiB tail: journal recoveryReport.durationNanoseconds median \(Metric.duration.format(medianOf(journalReport))), records scanned median \(Int(medianOf(scanned)))"
        )
    }
    ctx.scratch.removeFiles(ctx.scratch.path + "/k.journal")
    ctx.scratch.removeFiles(ctx.scratch.path + "/k.db")
}

// MARK: 7. File size

/// Workload `size`: bytes on disk per payload byte for 40-byte chunks, after a clean close
/// (journal: final snapshot written; SQLite: WAL checkpointed into the database). Both the
/// apparent size (`st_size`) and the allocated size (`st_blocks * 512`): the journal
/// preallocates its file in steps of at least 4 MiB with fallocate, which both include.
func runSize(_ ctx: BenchContext) throws {
    let bodies = BodySource(.textDelta)
    for (n, size) in ctx.config.sizeShapes.enumerated() {
        let shape = AppendShape(streams: size.streams, chunksPerStream: size.chunks, bodies: bodies)
        let journalPath = ctx.scratch.file("s.journal")
        let run = try appendToJournal(shape, path: journalPath, durability: .none, mode: .perChunk)
        let journal = FileFootprint.of(journalPath)
        let reader = try Journal.openReadOnly(path: journalPath)
        let logEnd = reader.recoveryReport.logEnd
        try reader.close()
        let payload = Double(run.payloadBytes)
        var layouts: [SQLiteLayout] = [.rows]
        if n == 0 { layouts.append(.packed) }
        for layout in layouts {
            let sqlitePath = ctx.scratch.file("s.db")
            if n == 0 {
                _ = try appendToSQLite(shape, path: sqlitePath, synchronous: "NORMAL", layout: layout)
            } else {
                try buildSQLite(shape, path: sqlitePath, layout: layout)
            }
            let sqlite = FileFootprint.of(all: [sqlitePath, sqlitePath + "-wal", sqlitePath + "-shm"])
            let suffix = layout == .rows ? "" : " packed"
            ctx.report.add(
                ResultRow(
                    group: "size", workload: "file size per payload byte, \(shape.label), st_size | SQLite\(suffix)",
                    metric: .bytesPerByte, journal: Samples(values: [Double(journal.apparent) / payload]),
                    sqlite: Samples(values: [Double(sqlite.apparent) / payload])))
            ctx.report.add(
                ResultRow(
                    group: "size",
                    workload: "file size per payload byte, \(shape.label), st_blocks*512 | SQLite\(suffix)",
                    metric: .bytesPerByte, journal: Samples(values: [Double(journal.allocated) / payload]),
                    sqlite: Samples(values: [Double(sqlite.allocated) / payload])))
            ctx.report.note(
                "size of \(shape.label)\(suffix): payload \(run.payloadBytes) B (\(String(format: "%.1f", payload / Double(shape.totalChunks))) B/chunk); journal st_size \(journal.apparent), st_blocks*512 \(journal.allocated), log end \(logEnd) (\(String(format: "%.1f", Double(logEnd) / Double(shape.totalChunks))) B/chunk used, rest preallocated); SQLite\(suffix) st_size \(sqlite.apparent), st_blocks*512 \(sqlite.allocated) (\(String(format: "%.1f", Double(sqlite.apparent) / Double(shape.totalChunks))) B/chunk)\(n == 0 ? "" : "; SQLite built in 1,000-batch transactions")"
            )
            ctx.scratch.removeFiles(sqlitePath)
        }
        ctx.scratch.removeFiles(journalPath)
    }
}
