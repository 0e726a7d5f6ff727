/// One chunk read from the journal. The payload stays in the file's mapping until asked for.
public struct Chunk: Sendable {
    /// The chunk's position in its stream (0-based); also its SSE event id.
    public let index: Int
    /// When it was appended, microseconds since the Unix epoch.
    public let timestamp: Int64
    let region: MappedRegion
    let bodyOffset: UInt64
    /// The payload's length in bytes.
    public let count: Int

    /// Calls `body` with the payload in place (no copy). The pointer is valid only inside.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(region.bytes(at: bodyOffset, count: count))
    }

    /// A copy of the payload.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// The payload as text; invalid UTF-8 is replaced with U+FFFD.
    public var text: String { withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }
}

/// Reads a stream's chunks in order, straight from the mapping.
///
/// Not a `Sequence`: reading can meet a damaged record, and that must be an error, never a
/// silently shorter stream. Use `while let chunk = try cursor.next() { ... }`.
public struct ChunkCursor: Sendable {
    private let view: JournalEngine.ReadView
    private let path: String
    /// Index of the chunk `next()` returns.
    public private(set) var nextIndex: Int
    /// One past the last chunk this cursor returns (the count when it was made).
    public let endIndex: Int
    /// When the stream this cursor reads was created (its `StreamInfo.createdAt`). A stream
    /// deleted and created again under the same id has another value, so a reader that keeps
    /// a position across calls can tell that the id now names a different stream.
    public var streamCreatedAt: Int64 { view.entry.createdAt }
    /// The stream as it was when the cursor was made: its status and count agree with the
    /// chunks the cursor returns.
    var info: StreamInfo { view.entry.info }
    private var pending: [UInt64] = []
    private var pendingPosition = 0

    init(view: JournalEngine.ReadView, from index: Int, path: String) {
        self.view = view
        self.path = path
        self.nextIndex = index
        self.endIndex = Int(view.entry.chunkCount)
    }

    /// The next chunk, or nil after the last. Throws `corruption` (with the offset) when a
    /// record fails its checks; a wrong chunk is never returned.
    public mutating func next() throws(JournalError) -> Chunk? {
        guard nextIndex < endIndex else { return nil }
        if pendingPosition == pending.count {
            pending = try JournalEngine.chunkOffsets(
                region: view.region, end: view.end, entry: view.entry, from: nextIndex, lastChunk: view.lastChunk,
                path: path)
            pendingPosition = 0
        }
        let offset = pending[pendingPosition]
        guard
            let header = JournalEngine.checkedChunkHeader(
                in: view.region.bytes(at: 0, count: Int(view.end)), at: offset, stream: view.entry.number,
                index: nextIndex)
        else {
            throw JournalEngine.chunkRecordError(
                in: view.region, end: view.end, at: offset, id: view.entry.id,
                index: nextIndex, path: path)
        }
        pendingPosition += 1
        nextIndex += 1
        return Chunk(
            index: Int(header.chunkIndex), timestamp: header.timestamp, region: view.region,
            bodyOffset: offset + UInt64(RecordField.size), count: Int(header.bodyLength))
    }

    /// The rest of the chunks, copied out.
    public mutating func collect() throws(JournalError) -> [Chunk] {
        var all: [Chunk] = []
        while let chunk = try next() { all.append(chunk) }
        return all
    }
}
