// The two writers under test, driven in the same order: sqlite_bench.c's main loop, which
// visits the streams round-robin and gives each one batch of 10 chunks per turn.

import Journal

/// The shape of an append workload: how many streams, how many chunks each, which bodies.
struct AppendShape: Sendable {
    /// Number of streams, all open at once.
    let streams: Int
    /// Chunks appended to every stream.
    let chunksPerStream: Int
    /// Chunks per turn of the round-robin, and per SQLite transaction (ResumableStream's
    /// CHUNK_BUFFER_SIZE).
    var batch = 10
    /// Chunk bodies.
    let bodies: BodySource

    /// Chunks in the whole workload.
    var totalChunks: Int { streams * chunksPerStream }

    /// "100 x 1,000 x 40 B": streams x chunks per stream x chunk size.
    var label: String { "\(grouped(streams)) x \(grouped(chunksPerStream)) x \(bodies.label)" }
}

/// `1000000` as "1,000,000".
func grouped(_ value: Int) -> String {
    let digits = Array(String(value))
    var out = ""
    for (i, digit) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(digit)
    }
    return out
}

/// What one append run measured.
struct AppendRun {
    /// Wall time of the timed part: opening every stream, all appends, completing every stream.
    let seconds: Double
    /// Chunks appended.
    let chunks: Int
    /// Payload bytes appended.
    let payloadBytes: Int
    /// Chunks per second.
    var chunksPerSecond: Double { Double(chunks) / seconds }
}

/// The stream ids of a workload: the same nanoids on both sides (same seed).
func workloadStreamIDs(_ count: Int) -> StreamIDTable {
    var rng = XorShift64()
    return StreamIDTable(count: count, rng: &rng)
}

/// How the journal side acknowledges appends.
enum JournalAppendMode {
    /// One `append(bytes:to:)` per chunk (no copy): each chunk is its own acknowledged append.
    case perChunk
    /// One `append(contentsOf:to:)` per batch: one acknowledgement (and under
    /// `.everyAcknowledgement` one fdatasync) per batch, as SQLite commits one transaction per batch.
    case perBatch
}

/// Appends `shape` to a new journal at `path` and closes it. The timed part matches
/// sqlite_bench.c: create every stream (with a request id in its metadata, as the metadata
/// row has), the round-robin appends, and completing each stream when its last chunk is in.
/// Opening and closing the file are outside it, as in sqlite_bench.c; `measured` wraps
/// exactly the timed part. `snapshotInterval` overrides the default (64 MiB) for diagnosis only.
func appendToJournal(
    _ shape: AppendShape, path: String, durability: Durability, mode: JournalAppendMode,
    snapshotInterval: Int? = nil, measured: MeasuredSection = runDirectly
) throws -> AppendRun {
    var options = JournalOptions()
    options.durability = durability
    if let snapshotInterval { options.snapshotInterval = snapshotInterval }
    let journal = try Journal(path: path, options: options)
    let ids = workloadStreamIDs(shape.streams)
    let streamIDs = try (0..<shape.streams).map { try StreamID(ids.string($0)) }
    var requestRNG = XorShift64(seed: 7)
    var next = [Int](repeating: 0, count: shape.streams)
    var payload = 0
    var wrongIndex: String?

    let watch = Stopwatch()
    try measured {
        for s in 0..<shape.streams {
            try journal.createStream(streamIDs[s], metadata: ["request_id": requestRNG.nanoid()])
        }
        var remaining = shape.streams
        var current = 0
        while remaining > 0 {
            let s = current
            current = (current + 1) % shape.streams
            if next[s] >= shape.chunksPerStream { continue }
            let n = min(shape.batch, shape.chunksPerStream - next[s])
            switch mode {
            case .perChunk:
                for k in 0..<n {
                    let body = shape.bodies.body(stream: s, index: next[s] + k)
                    let index = try journal.append(bytes: body, to: streamIDs[s])
                    if index != next[s] + k && wrongIndex == nil {
                        wrongIndex = "append returned index \(index), expected \(next[s] + k) (stream \(s))"
                    }
                    payload += body.count
                }
            case .perBatch:
                let chunks = (0..<n).map { Array(shape.bodies.body(stream: s, index: next[s] + $0)) }
                let range = try journal.append(contentsOf: chunks, to: streamIDs[s])
                if range != next[s]..<next[s] + n && wrongIndex == nil {
                    wrongIndex = "append(contentsOf:) returned \(range), expected \(next[s]..<next[s] + n)"
                }
                payload += chunks.reduce(0) { $0 + $1.count }
            }
            next[s] += n
            if next[s] >= shape.chunksPerStream {
                try journal.complete(streamIDs[s])
                remaining -= 1
            }
        }
    }
    let seconds = watch.seconds
    try journal.close()
    if let wrongIndex { throw BenchError("StreamJournal: \(wrongIndex) in \(path)") }
    return AppendRun(seconds: seconds, chunks: shape.totalChunks, payloadBytes: payload)
}

/// Appends `shape` to a new SQLite database at `path` the way ResumableStream does and closes
/// it: `start()` per stream (autocommit insert), one transaction per batch of 10 chunks,
/// `complete()` per stream (autocommit update). Timed as sqlite_bench.c times it: the close
/// (WAL checkpoint) is outside; `measured` wraps exactly the timed part.
///
/// `transactionEvery > 1` is only for building read-only data sets quickly: it puts that many
/// batches (and the starts and completes) in one transaction. The rows, their insertion order
/// and hence the B-tree layout are the same; only the number of commits differs.
func appendToSQLite(
    _ shape: AppendShape, path: String, synchronous: String, layout: SQLiteLayout, transactionEvery: Int = 1,
    measured: MeasuredSection = runDirectly
) throws -> AppendRun {
    let store = try ResumableStreamStore(path: path, synchronous: synchronous, layout: layout)
    let ids = workloadStreamIDs(shape.streams)
    var next = [Int](repeating: 0, count: shape.streams)
    var segment = [Int](repeating: 0, count: shape.streams)
    var payload = 0
    let grouped = transactionEvery > 1
    var batches = 0

    let watch = Stopwatch()
    try measured {
        if grouped { try store.db.exec("begin") }
        for s in 0..<shape.streams { try store.start(stream: ids.bytes(s)) }
        var remaining = shape.streams
        var current = 0
        while remaining > 0 {
            let s = current
            current = (current + 1) % shape.streams
            if next[s] >= shape.chunksPerStream { continue }
            let n = min(shape.batch, shape.chunksPerStream - next[s])
            let first = next[s]
            if !grouped { try store.db.exec("begin") }
            try store.insertBatch(stream: ids.bytes(s), first: first, count: n, segment: segment[s]) { k in
                shape.bodies.body(stream: s, index: first + k)
            }
            if grouped {
                batches += 1
                if batches % transactionEvery == 0 { try store.db.exec("commit; begin") }
            } else {
                try store.db.exec("commit")
            }
            for k in 0..<n { payload += shape.bodies.body(stream: s, index: first + k).count }
            segment[s] += 1
            next[s] += n
            if next[s] >= shape.chunksPerStream {
                try store.complete(stream: ids.bytes(s))
                remaining -= 1
            }
        }
        if grouped { try store.db.exec("commit") }
    }
    let seconds = watch.seconds
    try store.close()
    return AppendRun(seconds: seconds, chunks: shape.totalChunks, payloadBytes: payload)
}

/// Builds a read-only data set quickly: the journal with no sync, per-chunk appends (the same
/// file the append workload writes).
func buildJournal(_ shape: AppendShape, path: String) throws {
    _ = try appendToJournal(shape, path: path, durability: .none, mode: .perChunk)
}

/// Builds a read-only SQLite data set quickly: same rows and order, 1,000 batches per
/// transaction, synchronous=OFF (see `appendToSQLite`).
func buildSQLite(_ shape: AppendShape, path: String, layout: SQLiteLayout = .rows) throws {
    _ = try appendToSQLite(shape, path: path, synchronous: "OFF", layout: layout, transactionEvery: 1000)
}
