/// A journal of streams in one append-only, memory-mapped file.
///
/// ```swift
/// let journal = try Journal(path: "chat.journal")
/// let id = try journal.createStream(metadata: ["model": "small"])
/// try journal.append("Hello", to: id)
/// try journal.complete(id)
/// var cursor = try journal.chunks(of: id)
/// while let chunk = try cursor.next() { print(chunk.text) }
/// try journal.close()
/// ```
///
/// One process may open a file for writing at a time (an exclusive lock); any number may
/// open it read-only, even while the writer runs, and see new records each time they look.
/// All methods are thread-safe. Write methods block the calling thread until the append is
/// as durable as `JournalOptions.durability` promises.
public final class Journal: Sendable {
    let engine: JournalEngine

    /// The most chunks one stream holds: 2³² − 1, since chunk indices are 32-bit (FORMAT.md
    /// §4). Appending more throws `streamFull`.
    public static let maxChunksPerStream = Int(UInt32.max)

    /// The longest reason a stream can end with, in UTF-8 bytes (1 MiB). Longer ones throw
    /// `reasonTooLarge`; `record` cuts an error's description to fit; `finish(_:status:reason:)`,
    /// for tools that copy streams, takes any the format holds. Independent of
    /// `JournalOptions.maxChunkSize`, which used to limit reasons too: a small chunk limit
    /// then refused the journal's own reasons, and a writable open after a crash failed.
    public static let maxReasonBytes = 1 << 20

    /// Opens the journal at `path` for writing, creating it unless
    /// `options.createIfMissing` is false, and recovers it: a torn tail is dropped, and
    /// streams left open are handled as `options.openStreams` says. A symbolic link in `path`
    /// is resolved as the journal opens: the handle works on the file it names then (a
    /// compaction replaces that file and leaves the link), while `path` and errors keep the
    /// name given.
    public init(path: String, options: JournalOptions = JournalOptions()) throws(JournalError) {
        engine = try JournalEngine.openForWriting(path: path, options: options)
    }

    /// Opens an existing journal for reading only. It takes no lock and writes nothing;
    /// reads see records committed by a writer process since the last read.
    public static func openReadOnly(path: String) throws(JournalError) -> Journal {
        Journal(engine: try JournalEngine.openReadOnly(path: path))
    }

    init(engine: JournalEngine) { self.engine = engine }

    deinit {
        // A journal dropped without `close` still stops its thread and writes a snapshot.
        try? engine.close()
    }

    /// The file's path as given.
    public var path: String { engine.path }

    /// Whether this handle was opened with `openReadOnly`.
    public var isReadOnly: Bool { !engine.writable }

    /// What the open found and did.
    public var recoveryReport: RecoveryReport { engine.report }

    // MARK: Writing

    /// Opens a new stream. With no id, one is generated (time-ordered, unique).
    /// Throws `duplicateStream` when the id exists.
    @discardableResult
    public func createStream(_ id: StreamID? = nil, metadata: [String: String] = [:]) throws(JournalError) -> StreamID {
        let id = id ?? StreamID.generate()
        try engine.createStream(id, metadata: metadata)
        return id
    }

    /// Appends one chunk; returns its index (0 for the first chunk of a stream).
    @discardableResult
    public func append(_ chunk: [UInt8], to stream: StreamID) throws(JournalError) -> Int {
        try chunk.withBytes { (raw) throws(JournalError) in try engine.appendOne(raw, to: stream) }
    }

    /// Appends the UTF-8 bytes of `text` as one chunk; returns its index.
    @discardableResult
    public func append(_ text: String, to stream: StreamID) throws(JournalError) -> Int {
        try text.withUTF8Bytes { (raw) throws(JournalError) in try engine.appendOne(raw, to: stream) }
    }

    /// Appends the bytes in `buffer` as one chunk without copying them first.
    @discardableResult
    public func append(bytes buffer: UnsafeRawBufferPointer, to stream: StreamID) throws(JournalError) -> Int {
        try engine.appendOne(buffer, to: stream)
    }

    /// Appends several chunks in order with one lock acquisition and (under
    /// `everyAcknowledgement`) one sync; returns their indices. After a crash, a prefix of
    /// the batch may survive: each chunk is its own record.
    @discardableResult
    public func append(contentsOf chunks: [[UInt8]], to stream: StreamID) throws(JournalError) -> Range<Int> {
        if chunks.isEmpty {
            let count = try info(stream).chunkCount
            return count..<count
        }
        // One contiguous copy: a pointer may not escape `withUnsafeBytes` of each array.
        var starts: [Int] = [0]
        starts.reserveCapacity(chunks.count + 1)
        var joined: [UInt8] = []
        joined.reserveCapacity(chunks.reduce(0) { $0 + $1.count })
        for chunk in chunks {
            joined.append(contentsOf: chunk)
            starts.append(joined.count)
        }
        let first = try joined.withBytes { (raw) throws(JournalError) in
            try engine.append(chunks.count, to: stream) { i in
                UnsafeRawBufferPointer(rebasing: raw[starts[i]..<starts[i + 1]])
            }
        }
        return first..<first + chunks.count
    }

    /// Appends `chunk` as chunk number `index`, idempotently: when the stream already holds
    /// exactly these bytes at `index` nothing is stored and the result is `.duplicate` (a
    /// producer retrying after a lost response). Different bytes there throw `chunkConflict`;
    /// an index past the next one throws `indexGap` with the index to resend from.
    @discardableResult
    public func append(_ chunk: [UInt8], to stream: StreamID, at index: Int) throws(JournalError) -> AppendOutcome {
        try chunk.withBytes { (raw) throws(JournalError) in
            try engine.append(raw, to: stream, at: index) ? .appended : .duplicate
        }
    }

    /// Ends the stream normally.
    public func complete(_ stream: StreamID) throws(JournalError) {
        try engine.finish(stream, status: .completed, reason: nil)
    }

    /// Ends the stream with an error; `reason` is stored and shown to readers.
    public func fail(_ stream: StreamID, reason: String) throws(JournalError) {
        try engine.finish(stream, status: .failed, reason: reason)
    }

    /// Ends the stream as cancelled, with an optional reason.
    public func cancel(_ stream: StreamID, reason: String? = nil) throws(JournalError) {
        try engine.finish(stream, status: .cancelled, reason: reason)
    }

    /// Ends the stream as interrupted: its producer is gone and will not come back.
    public func interrupt(_ stream: StreamID, reason: String) throws(JournalError) {
        try engine.finish(stream, status: .interrupted, reason: reason)
    }

    /// Deletes the stream, open or ended: it disappears for readers at once (its followers
    /// end with `unknownStream`), its id can be used again, and compaction reclaims its bytes.
    public func deleteStream(_ stream: StreamID) throws(JournalError) { try engine.deleteStream(stream) }

    /// Returns once everything appended so far is on stable storage (`fdatasync`).
    public func sync() throws(JournalError) { try engine.sync() }

    /// Writes an index snapshot now (they are also written every
    /// `JournalOptions.snapshotInterval` bytes and at close).
    public func writeSnapshot() throws(JournalError) { try engine.writeSnapshot() }

    /// Writes a final snapshot, syncs, and releases the file and its lock. Further calls
    /// throw `closed`. Closing twice is harmless. On a full disk the snapshot is skipped
    /// (the next open scans more log) and the close still succeeds.
    public func close() throws(JournalError) { try engine.close() }

    // MARK: Reading

    /// What the journal knows about `stream`.
    public func info(_ stream: StreamID) throws(JournalError) -> StreamInfo { try engine.info(stream) }

    /// Every stream, or those with `status`, in creation order.
    public func streams(status: StreamStatus? = nil) throws(JournalError) -> [StreamInfo] {
        try engine.streams(status: status)
    }

    /// Up to `limit` streams (or those with `status`) in creation order, starting after the
    /// stream numbered `after` (0 for the first), each with its number: the position to ask
    /// from for the next page. Numbers are never given to another stream (FORMAT.md §7), so
    /// a stream deleted, or deleted and created again, between two pages neither ends the
    /// paging nor hides the streams after it, as an id would.
    package func streamPage(status: StreamStatus?, after: UInt32, limit: Int) throws(JournalError)
        -> [(number: UInt32, info: StreamInfo)]
    {
        try engine.streamPage(status: status, after: after, limit: limit)
    }

    /// A cursor over the stream's chunks from `index` to the last chunk stored now. Finding
    /// chunk `index` costs at most 64 pointer reads, whatever the file size.
    public func chunks(of stream: StreamID, from index: Int = 0) throws(JournalError) -> ChunkCursor {
        let view = try engine.readView(of: stream)
        let count = Int(view.entry.chunkCount)
        guard index >= 0, index <= count else {
            throw .indexOutOfRange(stream, index: index, count: count)
        }
        return ChunkCursor(view: view, from: index, path: engine.path)
    }
}

/// What an idempotent append did.
public enum AppendOutcome: Sendable, Equatable {
    /// The chunk was stored.
    case appended
    /// The stream already held these bytes at that index; nothing was stored.
    case duplicate
}
