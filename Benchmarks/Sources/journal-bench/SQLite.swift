// SQLite through the system libsqlite3, set up exactly as /work/shared/bench/sqlite_bench.c
// (the Cloudflare agents ResumableStream schema): WAL, synchronous as asked, two tables and
// the (stream_id, chunk_index) index, 10 chunks per transaction.

import CSQLite

/// `SQLITE_STATIC`: SQLite uses the bound pointer without copying (it must outlive the step).
let sqliteStatic: sqlite3_destructor_type? = nil

/// A SQLite connection; every failure throws with SQLite's message.
final class SQLiteConnection: @unchecked Sendable {
    /// The C handle.
    let handle: OpaquePointer
    /// The database file.
    let path: String

    /// Opens `path` (read-write and created when missing, or read-only).
    init(path: String, readOnly: Bool = false) throws {
        self.path = path
        var db: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(db)
            throw BenchError("sqlite3_open_v2(\(path)): \(message)")
        }
        handle = db
    }

    /// Closes the connection. The last connection to a WAL database checkpoints it and
    /// deletes the -wal file.
    func close() throws {
        let rc = sqlite3_close(handle)
        guard rc == SQLITE_OK else { throw BenchError("sqlite3_close: \(message)") }
    }

    /// SQLite's last error message on this connection.
    var message: String { String(cString: sqlite3_errmsg(handle)) }

    /// Runs SQL that returns no rows (pragmas, DDL, begin/commit).
    func exec(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(handle, sql, nil, nil, &error) == SQLITE_OK else {
            let text = error.map { String(cString: $0) } ?? message
            sqlite3_free(error)
            throw BenchError("\(sql): \(text)")
        }
    }

    /// Compiles `sql`.
    func prepare(_ sql: String) throws -> SQLiteStatement {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw BenchError("prepare \(sql): \(message)")
        }
        return SQLiteStatement(statement, connection: self)
    }

    /// Waits up to `milliseconds` for another connection's lock instead of failing at once.
    func setBusyTimeout(milliseconds: Int32) { sqlite3_busy_timeout(handle, milliseconds) }
}

/// A prepared statement. Text is bound without a copy (`SQLITE_STATIC`): the caller keeps the
/// bytes alive until `step` and `reset`.
final class SQLiteStatement: @unchecked Sendable {
    private let statement: OpaquePointer
    private let connection: SQLiteConnection
    private var finalized = false

    init(_ statement: OpaquePointer, connection: SQLiteConnection) {
        self.statement = statement
        self.connection = connection
    }

    deinit { finalize() }

    /// Frees the statement; a connection closes only once all its statements are finalized.
    func finalize() {
        if !finalized { sqlite3_finalize(statement) }
        finalized = true
    }

    /// Binds the bytes of `text` (UTF-8) to parameter `index` (1-based).
    @inline(__always)
    func bindText(_ index: Int32, _ text: UnsafeRawBufferPointer) {
        sqlite3_bind_text(
            statement, index, text.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(text.count), sqliteStatic)
    }

    /// Binds an integer to parameter `index` (1-based).
    @inline(__always)
    func bindInt(_ index: Int32, _ value: Int64) { sqlite3_bind_int64(statement, index, value) }

    /// Steps once: true when a row is available, false when done.
    @inline(__always)
    func step() throws -> Bool {
        let rc = sqlite3_step(statement)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw BenchError("sqlite3_step: \(connection.message) (rc \(rc))")
    }

    /// Runs a statement that returns no rows, then resets it.
    @inline(__always)
    func run() throws {
        defer { sqlite3_reset(statement) }
        _ = try step()
    }

    /// Makes the statement ready to run again (bindings stay).
    @inline(__always)
    func reset() { sqlite3_reset(statement) }

    /// Column `index` (0-based) of the current row as text bytes, valid until the next step.
    @inline(__always)
    func text(_ index: Int32) -> UnsafeRawBufferPointer {
        let pointer = sqlite3_column_text(statement, index)
        let count = Int(sqlite3_column_bytes(statement, index))
        return UnsafeRawBufferPointer(start: pointer, count: pointer == nil ? 0 : count)
    }

    /// Column `index` (0-based) of the current row as an integer.
    @inline(__always)
    func int(_ index: Int32) -> Int64 { sqlite3_column_int64(statement, index) }
}

/// The two layouts ResumableStream has used.
enum SQLiteLayout: String {
    /// One row per chunk, each with its own nanoid primary key (agents <= 0.2.x).
    case rows
    /// One row per batch of 10 chunks: the body is a JSON array of the chunk bodies.
    case packed
}

/// ResumableStream's storage on one connection: the schema, pragmas and statements of
/// sqlite_bench.c, with its start / storeBatch / complete / replay operations.
final class ResumableStreamStore: @unchecked Sendable {
    /// The connection; statements below belong to it.
    let db: SQLiteConnection
    /// Chunk layout.
    let layout: SQLiteLayout
    private let insertChunk: SQLiteStatement
    private let insertMetadata: SQLiteStatement
    private let completeStream: SQLiteStatement
    /// Chunk ids (rows layout) and request ids come from here, as nanoid() does in the TS.
    var rng: XorShift64
    private var idScratch = [UInt8](repeating: 0, count: NanoID.length)
    private var packScratch: [UInt8] = []

    /// The DDL of ResumableStream's constructor, verbatim from sqlite_bench.c.
    static let schema = [
        "create table if not exists cf_ai_chat_stream_chunks (id text primary key, stream_id text not null, "
            + "body text not null, chunk_index integer not null, created_at integer not null)",
        "create table if not exists cf_ai_chat_stream_metadata (id text primary key, request_id text not null, "
            + "status text not null, created_at integer not null, completed_at integer)",
        "create index if not exists idx_stream_chunks_stream_id on cf_ai_chat_stream_chunks(stream_id, chunk_index)",
    ]

    /// The replay query of `replayChunks`.
    static let replaySQL = "select * from cf_ai_chat_stream_chunks where stream_id = ? order by chunk_index asc"
    /// A resume from a known index (Last-Event-ID): the same query bounded below, served by the index.
    static let resumeSQL =
        "select * from cf_ai_chat_stream_chunks where stream_id = ? and chunk_index >= ? order by chunk_index asc"

    /// Opens (creating) the database at `path` with `journal_mode=WAL` and
    /// `synchronous=<synchronous>`, creates the schema, and prepares the write statements.
    init(path: String, synchronous: String, layout: SQLiteLayout, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) throws {
        db = try SQLiteConnection(path: path)
        self.layout = layout
        try db.exec("pragma journal_mode=WAL")
        try db.exec("pragma synchronous=\(synchronous)")
        for ddl in ResumableStreamStore.schema { try db.exec(ddl) }
        insertChunk = try db.prepare(
            "insert into cf_ai_chat_stream_chunks (id, stream_id, body, chunk_index, created_at) values (?,?,?,?,?)")
        insertMetadata = try db.prepare(
            "insert into cf_ai_chat_stream_metadata (id, request_id, status, created_at) values (?,?,'streaming',?)")
        completeStream = try db.prepare(
            "update cf_ai_chat_stream_metadata set status='completed', completed_at=? where id=?")
        rng = XorShift64(seed: seed)
    }

    /// `start()`: inserts the stream's metadata row (autocommit unless inside `begin`).
    func start(stream id: UnsafeRawBufferPointer) throws {
        let request = rng.nanoid()
        var request8 = Array(request.utf8)
        try request8.withUnsafeMutableBytes { request in
            insertMetadata.bindText(1, id)
            insertMetadata.bindText(2, UnsafeRawBufferPointer(request))
            insertMetadata.bindInt(3, wallMilliseconds())
            try insertMetadata.run()
        }
    }

    /// `flushBuffer()` without its transaction: inserts `count` chunks of stream `id` starting
    /// at chunk index `first` (rows layout), or one packed row numbered `segment`.
    /// `body(k)` is the body of chunk `first + k`. The caller wraps it in begin/commit.
    func insertBatch(
        stream id: UnsafeRawBufferPointer, first: Int, count: Int, segment: Int,
        body: (Int) -> UnsafeRawBufferPointer
    ) throws {
        let now = wallMilliseconds()
        switch layout {
        case .rows:
            try idScratch.withUnsafeMutableBytes { chunkID in
                for k in 0..<count {
                    rng.nanoid(into: chunkID.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    insertChunk.bindText(1, UnsafeRawBufferPointer(chunkID))
                    insertChunk.bindText(2, id)
                    insertChunk.bindText(3, body(k))
                    insertChunk.bindInt(4, Int64(first + k))
                    insertChunk.bindInt(5, now)
                    try insertChunk.run()
                }
            }
        case .packed:
            // JSON array of JSON-string-escaped bodies, as sqlite_bench.c builds it.
            packScratch.removeAll(keepingCapacity: true)
            packScratch.append(UInt8(ascii: "["))
            for k in 0..<count {
                if k > 0 { packScratch.append(UInt8(ascii: ",")) }
                packScratch.append(UInt8(ascii: "\""))
                for byte in body(k) {
                    if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                        packScratch.append(UInt8(ascii: "\\"))
                    }
                    packScratch.append(byte)
                }
                packScratch.append(UInt8(ascii: "\""))
            }
            packScratch.append(UInt8(ascii: "]"))
            try idScratch.withUnsafeMutableBytes { chunkID in
                try packScratch.withUnsafeBytes { packed in
                    rng.nanoid(into: chunkID.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    insertChunk.bindText(1, UnsafeRawBufferPointer(chunkID))
                    insertChunk.bindText(2, id)
                    insertChunk.bindText(3, packed)
                    insertChunk.bindInt(4, Int64(segment))
                    insertChunk.bindInt(5, now)
                    try insertChunk.run()
                }
            }
        }
    }

    /// `complete()`: marks the stream completed (autocommit unless inside `begin`).
    func complete(stream id: UnsafeRawBufferPointer) throws {
        completeStream.bindInt(1, wallMilliseconds())
        completeStream.bindText(2, id)
        try completeStream.run()
    }

    /// Closes the connection (checkpointing the WAL into the database file).
    func close() throws {
        for statement in [insertChunk, insertMetadata, completeStream] { statement.finalize() }
        try db.close()
    }
}

/// Reads chunks back the way a reconnecting client is served: a fresh connection (SQLite's
/// cache cold, the OS page cache warm), `select *` ordered by chunk_index.
final class ResumableStreamReader: @unchecked Sendable {
    /// The connection.
    let db: SQLiteConnection
    private let replay: SQLiteStatement
    private let resume: SQLiteStatement

    /// Opens `path` as sqlite_bench.c's replay phase does (`pragma journal_mode=WAL`).
    init(path: String) throws {
        db = try SQLiteConnection(path: path)
        try db.exec("pragma journal_mode=WAL")
        replay = try db.prepare(ResumableStreamStore.replaySQL)
        resume = try db.prepare(ResumableStreamStore.resumeSQL)
    }

    /// Folds every chunk of stream `id` from chunk `from` on into `digest`; checks that
    /// chunk_index goes up by one from `from`.
    @inline(__always)
    func read(stream id: UnsafeRawBufferPointer, from: Int, into digest: inout ReplayDigest) throws {
        let statement = from == 0 ? replay : resume
        statement.bindText(1, id)
        if from > 0 { statement.bindInt(2, Int64(from)) }
        defer { statement.reset() }
        var expected = from
        while try statement.step() {
            let index = Int(statement.int(3))
            guard index == expected else {
                throw BenchError("SQLite returned chunk_index \(index), expected \(expected)")
            }
            digest.add(statement.text(2), index: index)
            expected += 1
        }
    }

    /// Closes the connection.
    func close() throws {
        replay.finalize()
        resume.finalize()
        try db.close()
    }
}

/// The linked SQLite's version string.
var sqliteVersion: String { String(cString: sqlite3_libversion()) }
