/// Builds the compacted file: copies kept records in log order into a new file, rewriting
/// their back-pointers for the new offsets, and rebuilds the stream table as it goes (which
/// re-checks every lifecycle rule on the copy).
struct CompactionWriter {
    let fd: FileDescriptor
    /// The new file's (temporary) path, for errors writing it.
    let path: String
    /// The journal's path, for errors at offsets of the log being copied.
    let sourcePath: String
    /// Damaged snapshots the open skipped (offset: aligned length), skipped here too: they
    /// are derived data, and the open found the log valid around them (FORMAT.md §7).
    let damagedSnapshots: [UInt64: UInt64]
    /// Streams numbered at most this were planned; newer ones (created during compaction)
    /// are kept.
    let plannedHighest: UInt32
    let keep: Set<UInt32>
    private(set) var table = StreamTable()
    /// Where the next record goes in the new file.
    private(set) var end: UInt64 = Layout.logStart
    private(set) var bytesCopied: UInt64 = 0
    /// Streams whose records were left behind (deleted, or dropped by retention).
    private(set) var streamsLeftBehind = 0
    private var allocated: UInt64
    private var buffer: [UInt8] = []
    private var bufferStart: UInt64 = Layout.logStart
    private static let flushSize = 4 << 20

    init(
        fd: FileDescriptor, path: String, sourcePath: String, damagedSnapshots: [UInt64: UInt64],
        plannedHighest: UInt32, keep: Set<UInt32>, allocated: UInt64
    ) {
        self.fd = fd
        self.path = path
        self.sourcePath = sourcePath
        self.damagedSnapshots = damagedSnapshots
        self.plannedHighest = plannedHighest
        self.keep = keep
        self.allocated = allocated
        buffer.reserveCapacity(Self.flushSize + (1 << 16))
    }

    func keeps(_ stream: UInt32) -> Bool { keep.contains(stream) || stream > plannedHighest }

    /// Copies the kept records of `log` (every byte of which is valid log) from `from` on,
    /// whole records, until reaching `bound`; returns where it stopped: the first record
    /// boundary at or after `bound`, at most `log`'s end. A record straddling `bound` is
    /// copied whole, which lets a caller copy a long log a slice at a time.
    mutating func copy(_ log: UnsafeRawBufferPointer, from: UInt64, until bound: UInt64, maxGeneration: UInt32)
        throws(JournalError) -> UInt64
    {
        let end = UInt64(log.count)
        var scanner = LogScanner(log: log, from: from, maxGeneration: maxGeneration)
        while scanner.offset < min(bound, end) {
            let next = scanner.next()
            if case .invalid(let offset, _) = next, let length = damagedSnapshots[offset], offset + length <= end {
                scanner.skip(to: offset + length)
                continue
            }
            guard case .record(let header, let body, let offset) = next else {
                throw .corruption(path: sourcePath, offset: scanner.offset, detail: "compaction met an invalid record")
            }
            if header.type == .snapshot || header.type == .padding { continue }
            if !keeps(header.stream) {
                if header.type == .streamOpen { streamsLeftBehind += 1 }
                continue
            }
            try append(header, body: body, from: offset)
        }
        return scanner.offset
    }

    /// Writes one record with its back-pointer rewritten; lifecycle-checked by the new table.
    mutating func append(_ header: RecordHeader, body: UnsafeRawBufferPointer, from oldOffset: UInt64)
        throws(JournalError)
    {
        var record = header
        if header.type != .streamOpen && header.isStreamRecord {
            guard let slot = table.slot(number: header.stream) else {
                throw .corruption(
                    path: sourcePath, offset: oldOffset,
                    detail: "compaction: record of stream \(header.stream) before its open")
            }
            record.previous = table[slot].lastOffset
        }
        let size = record.alignedSize
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: size))
        buffer.withUnsafeMutableBytes { raw in record.write(body: body, to: raw.baseAddress! + start) }
        let offset = end
        do {
            try buffer.withBytes { (raw) throws(StreamTable.Violation) in
                let copied = UnsafeRawBufferPointer(
                    rebasing: raw[start + RecordField.size..<start + RecordField.size + body.count])
                try table.apply(record, body: copied, at: offset)
            }
        } catch {
            throw .corruption(path: sourcePath, offset: oldOffset, detail: "compaction: \(error.detail)")
        }
        end += UInt64(size)
        bytesCopied += UInt64(size)
        if buffer.count >= Self.flushSize { try flush() }
    }

    /// Makes the new table's highest stream number at least `number` (the old file's), so
    /// that the numbers of streams left behind are never given again: the snapshot carries
    /// it to later opens (FORMAT.md §7, §9).
    mutating func raiseHighestNumber(to number: UInt32) {
        table.raiseHighestNumber(to: number)
    }

    /// Appends an index snapshot of the new table; returns its offset and length, or (0, 0)
    /// (the header's "no snapshot") when the table encodes to more than `limit` bytes, as
    /// `JournalEngine.writeSnapshot` does.
    mutating func appendSnapshot(generation: UInt32, limit: Int) throws(JournalError) -> (UInt64, UInt64) {
        let body = SnapshotBody(logEnd: end, highestStreamNumber: table.highestNumber, streams: table.live).encoded()
        guard body.count <= limit else {
            try flush()
            return (0, 0)
        }
        let record = RecordHeader(
            type: .snapshot, bodyLength: UInt32(body.count), generation: generation, stream: 0, chunkIndex: 0,
            timestamp: Clock.wallMicroseconds(), previous: 0)
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: record.alignedSize))
        buffer.withUnsafeMutableBytes { raw in
            body.withUnsafeBytes { record.write(body: $0, to: raw.baseAddress! + start) }
        }
        let offset = end
        end += UInt64(record.alignedSize)
        try flush()
        return (offset, UInt64(record.alignedSize))
    }

    /// Writes the buffered records, preallocating first so a full disk fails here cleanly.
    mutating func flush() throws(JournalError) {
        if buffer.isEmpty { return }
        let needed = bufferStart + UInt64(buffer.count)
        if needed > allocated {
            let grow = max(needed - allocated, CompactionWriter.headroom(for: allocated))
            do { try fd.allocate(offset: allocated, length: grow) } catch {
                throw .io(operation: "fallocate (compaction)", path: path, errno: error)
            }
            allocated += grow
        }
        do {
            try buffer.withBytes { (raw) throws(Errno) in try fd.write(raw, at: bufferStart) }
        } catch {
            throw .io(operation: "write (compaction)", path: path, errno: error)
        }
        bufferStart += UInt64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
    }

    var fileSize: UInt64 { allocated }

    /// Space to preallocate beyond `bytes` of log: an eighth of it, between a new journal's
    /// initial capacity and 16 MiB.
    static func headroom(for bytes: UInt64) -> UInt64 {
        min(max(bytes / 8, JournalEngine.initialLogCapacity), 16 << 20)
    }
}

extension RecordHeader {
    /// Whether the record belongs to a stream.
    var isStreamRecord: Bool { type.isStreamScoped }
}
