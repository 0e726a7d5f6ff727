// Hidden subcommands this executable runs as a child of itself: a cold process that only
// opens a store and reports the time, and a writer that a parent kills with SIGKILL.

import Foundation
import Journal

#if canImport(Glibc)
    import Glibc
#endif

/// Which store and how a child opens it.
enum OpenKind: String, CaseIterable {
    /// `Journal.openReadOnly`.
    case journalReadOnly = "journal-ro"
    /// `Journal(path:options:)`: takes the writer lock and runs recovery.
    case journalWriter = "journal-rw"
    /// `sqlite3_open_v2(READONLY)` and preparing the replay query (which reads the schema).
    case sqliteReadOnly = "sqlite-ro"
    /// What ResumableStream's constructor does: open, WAL and synchronous pragmas, the
    /// `create ... if not exists` DDL, and preparing the insert statements.
    case sqliteWriter = "sqlite-rw"
}

/// `__open KIND PATH STREAM`: opens the store, then reads the last (up to) 10 chunks of
/// `STREAM` (finding its length first, as ResumableStream's `restore()` does with
/// max(chunk_index)), and prints
/// `CHILD open_s=… first_read_s=… report_s=… chunks=…` where `chunks` counts every stored
/// chunk (untimed, to check what survived). Exits without closing, so that a writer open
/// leaves the file as it found it for the next run (no closing snapshot).
func childOpen(_ arguments: [String]) throws -> Never {
    guard arguments.count == 3, let kind = OpenKind(rawValue: arguments[0]) else {
        throw BenchError("usage: __open journal-ro|journal-rw|sqlite-ro|sqlite-rw PATH STREAM")
    }
    let path = arguments[1]
    let streamText = arguments[2]
    var openSeconds = 0.0
    var readSeconds = 0.0
    var reportSeconds = 0.0
    var digest = ReplayDigest()
    var total = 0
    switch kind {
    case .journalReadOnly, .journalWriter:
        let watch = Stopwatch()
        let journal: Journal
        if kind == .journalReadOnly {
            journal = try Journal.openReadOnly(path: path)
        } else {
            journal = try Journal(path: path, options: JournalOptions())
        }
        openSeconds = watch.seconds
        reportSeconds = Double(journal.recoveryReport.durationNanoseconds) / 1e9
        let read = Stopwatch()
        let stream = try StreamID(streamText)
        let count = try journal.info(stream).chunkCount
        var cursor = try journal.chunks(of: stream, from: max(0, count - 10))
        while let chunk = try cursor.next() {
            chunk.withUnsafeBytes { digest.add($0, index: chunk.index) }
        }
        readSeconds = read.seconds
        total = try journal.streams().reduce(0) { $0 + $1.chunkCount }
        let report = journal.recoveryReport
        print(
            "CHILD open_s=\(openSeconds) first_read_s=\(readSeconds) report_s=\(reportSeconds) chunks=\(total)"
                + " records_scanned=\(report.recordsScanned) torn_tail=\(report.tornTailOffset != nil)"
                + " interrupted=\(report.interruptedStreams.count) snapshot=\(report.snapshotOffset != nil)"
                + " read_chunks=\(digest.chunks)")
    case .sqliteReadOnly, .sqliteWriter:
        let watch = Stopwatch()
        let db: SQLiteConnection
        var keep: ResumableStreamStore?
        let resume: SQLiteStatement
        if kind == .sqliteReadOnly {
            db = try SQLiteConnection(path: path, readOnly: true)
            resume = try db.prepare(ResumableStreamStore.resumeSQL)
        } else {
            let store = try ResumableStreamStore(path: path, synchronous: "NORMAL", layout: .rows)
            keep = store
            db = store.db
            resume = try db.prepare(ResumableStreamStore.resumeSQL)
        }
        openSeconds = watch.seconds
        let read = Stopwatch()
        var id = Array(streamText.utf8)
        try id.withUnsafeMutableBytes { raw in
            let idBytes = UnsafeRawBufferPointer(raw)
            let last = try db.prepare(
                "select max(chunk_index) as max_index from cf_ai_chat_stream_chunks where stream_id = ?")
            last.bindText(1, idBytes)
            _ = try last.step()
            let count = Int(last.int(0)) + 1
            resume.bindText(1, idBytes)
            resume.bindInt(2, Int64(max(0, count - 10)))
            while try resume.step() { digest.add(resume.text(2), index: Int(resume.int(3))) }
            resume.reset()
        }
        readSeconds = read.seconds
        let counter = try db.prepare("select count(*) from cf_ai_chat_stream_chunks")
        _ = try counter.step()
        total = Int(counter.int(0))
        _ = keep
        print(
            "CHILD open_s=\(openSeconds) first_read_s=\(readSeconds) report_s=0 chunks=\(total)"
                + " read_chunks=\(digest.chunks)")
    }
    flushOutput()
    exit(0)
}

/// `__writer journal|sqlite PATH CHUNKS`: creates a store, appends `CHUNKS` 40-byte chunks
/// round-robin over 100 streams (journal: no sync, one append per chunk; SQLite: NORMAL,
/// 10 chunks per transaction), prints `READY`, then keeps appending slowly (as a live
/// producer would) until it is killed.
func childWriter(_ arguments: [String]) throws -> Never {
    guard arguments.count == 3, let target = Int(arguments[2]) else {
        throw BenchError("usage: __writer journal|sqlite PATH CHUNKS")
    }
    let path = arguments[1]
    let streams = 100
    let ids = workloadStreamIDs(streams)
    let bodies = BodySource(.textDelta)
    var next = [Int](repeating: 0, count: streams)
    let deadline = monotonicNanoseconds() + 600_000_000_000
    switch arguments[0] {
    case "journal":
        var options = JournalOptions()
        options.durability = .none
        let journal = try Journal(path: path, options: options)
        let streamIDs = try (0..<streams).map { try StreamID(ids.string($0)) }
        for id in streamIDs { try journal.createStream(id) }
        var written = 0
        var s = 0
        while true {
            try journal.append(bytes: bodies.body(stream: s, index: next[s]), to: streamIDs[s])
            next[s] += 1
            written += 1
            s = (s + 1) % streams
            if written == target {
                print("READY chunks=\(written)")
                flushOutput()
            }
            if written > target {
                usleep(1000)
                if monotonicNanoseconds() > deadline { exit(1) }
            }
        }
    case "sqlite":
        let store = try ResumableStreamStore(path: path, synchronous: "NORMAL", layout: .rows)
        for s in 0..<streams { try store.start(stream: ids.bytes(s)) }
        var written = 0
        var s = 0
        while true {
            let first = next[s]
            try store.db.exec("begin")
            try store.insertBatch(stream: ids.bytes(s), first: first, count: 10, segment: 0) { k in
                bodies.body(stream: s, index: first + k)
            }
            try store.db.exec("commit")
            next[s] += 10
            written += 10
            s = (s + 1) % streams
            if written >= target && written - 10 < target {
                print("READY chunks=\(written)")
                flushOutput()
            }
            if written > target {
                usleep(10_000)
                if monotonicNanoseconds() > deadline { exit(1) }
            }
        }
    default:
        throw BenchError("__writer: unknown store \(arguments[0])")
    }
}

/// Starts `__writer` as a child, waits for its READY line, and kills it with SIGKILL while it
/// is still appending. Returns how many chunks it reported as written before READY.
func spawnAndKillWriter(store: String, path: String, chunks: Int) throws -> Int {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: ownExecutablePath())
    process.arguments = ["__writer", store, path, String(chunks)]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    var output = ""
    while !output.contains("\n") {
        let data = pipe.fileHandleForReading.availableData
        if data.isEmpty {
            process.waitUntilExit()
            throw BenchError("writer child exited (status \(process.terminationStatus)) before READY: \(output)")
        }
        output += String(decoding: data, as: UTF8.self)
    }
    usleep(20_000)  // let it append a few more chunks, so the kill lands mid-stream
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("READY") }),
        let count = Int(line.split(separator: "=").last ?? "")
    else { throw BenchError("writer child printed \(output)") }
    return count
}
