/// Reading the stream table and locating chunks.
extension JournalEngine {
    /// A consistent view for a cursor: the mapping and the bounds it may read.
    ///
    /// A class: cursors and follow steps are copied through async frames on every event, and
    /// a reference (one retain) is much cheaper to copy than the stream entry it holds.
    final class ReadView: Sendable {
        let region: MappedRegion
        let end: UInt64
        let entry: StreamEntry
        let lastChunk: UInt64?

        init(region: MappedRegion, end: UInt64, entry: StreamEntry, lastChunk: UInt64?) {
            self.region = region
            self.end = end
            self.entry = entry
            self.lastChunk = lastChunk
        }
    }

    func readView(of id: StreamID) throws(JournalError) -> ReadView {
        try lock.withLock { () throws(JournalError) in
            try refreshLocked()
            guard let slot = table.slot(of: id) else { throw .unknownStream(id) }
            let entry = table[slot]
            return ReadView(region: region, end: end, entry: entry, lastChunk: try lastChunkOffsetLocked(entry))
        }
    }

    func info(_ id: StreamID) throws(JournalError) -> StreamInfo {
        try lock.withLock { () throws(JournalError) in
            try refreshLocked()
            guard let slot = table.slot(of: id) else { throw .unknownStream(id) }
            return table[slot].info
        }
    }

    func streams(status: StreamStatus?) throws(JournalError) -> [StreamInfo] {
        try lock.withLock { () throws(JournalError) in
            try refreshLocked()
            return table.live.lazy.filter { status == nil || $0.status == status }.map(\.info)
        }
    }

    /// `Journal.streamPage`: entries are in number order (numbers are handed out in slot
    /// order, and compaction keeps both), so the page starts at the first number above
    /// `after`.
    func streamPage(status: StreamStatus?, after: UInt32, limit: Int) throws(JournalError)
        -> [(number: UInt32, info: StreamInfo)]
    {
        try lock.withLock { () throws(JournalError) in
            try refreshLocked()
            var page: [(number: UInt32, info: StreamInfo)] = []
            for slot in 0..<table.count where page.count < limit {
                guard !table[slot].isDeleted, table[slot].number > after,
                    status == nil || table[slot].status == status
                else { continue }
                page.append((table[slot].number, table[slot].info))
            }
            return page
        }
    }

    /// Offset of the stream's last chunk, or nil when it has none; call with the lock held.
    func lastChunkOffsetLocked(_ entry: StreamEntry) throws(JournalError) -> UInt64? {
        if entry.chunkCount == 0 { return nil }
        if entry.status == .open { return entry.lastOffset }
        return try JournalEngine.previousPointer(in: region, at: entry.lastOffset, end: end, path: path)
    }

    /// Offset of chunk `index`; call with the lock held.
    func chunkOffsetLocked(_ entry: StreamEntry, index: Int, end: UInt64, lastChunk: UInt64?) throws(JournalError)
        -> UInt64
    {
        try JournalEngine.chunkOffsets(
            region: region, end: end, entry: entry, from: index, lastChunk: lastChunk, path: path)[0]
    }

    /// The header of chunk `index` of stream `number` at `offset` of `log` (the mapping up to
    /// the committed end; the offset was found by following back-pointers), if the record
    /// checks as that chunk: checksum, type, stream number and index. Nil otherwise, and
    /// `chunkRecordError` says why. Snapshot loads leave the records before the snapshot
    /// unchecked, so a pointer may lead to damaged bytes; those are corruption at `offset`,
    /// never a wrong chunk or a read past the log.
    ///
    /// Takes the log's bytes and the stream's number, and leaves the error (which names the
    /// stream) to the caller's failure path: a cursor calls this for every chunk, and passing
    /// the `StreamEntry` out of its `ReadView` copied it (a retain and a release of each of
    /// its strings, dictionary and array), and passing the mapping retained it: 1,012
    /// instructions per replayed chunk instead of 664 (`journal-bench --instructions`).
    @inline(__always)
    static func checkedChunkHeader(
        in log: UnsafeRawBufferPointer, at offset: UInt64, stream number: UInt32, index: Int
    ) -> RecordHeader? {
        guard case .record(let header) = decodeRecord(in: log, at: offset, maxGeneration: .max),
            header.type == .chunk, header.stream == number, header.chunkIndex == UInt32(index)
        else { return nil }
        return header
    }

    /// Why `checkedChunkHeader` found no chunk `index` of stream `id` at
    /// `offset`, as the corruption error a read throws.
    static func chunkRecordError(
        in region: MappedRegion, end: UInt64, at offset: UInt64, id: StreamID, index: Int, path: String
    ) -> JournalError {
        switch decodeRecord(in: region.bytes(at: 0, count: Int(end)), at: offset, maxGeneration: .max) {
        case .record(let header):
            return .corruption(
                path: path, offset: offset,
                detail:
                    "expected chunk \(index) of \"\(id)\", found a \(header.type) record of stream \(header.stream) index \(header.chunkIndex)"
            )
        case .invalid(let why):
            return .corruption(path: path, offset: offset, detail: "chunk \(index) of \"\(id)\": \(why)")
        case .end:
            return .corruption(path: path, offset: offset, detail: "chunk \(index) of \"\(id)\": no record")
        }
    }

    /// The `previous` field of the record at `offset`, bounds-checked so a damaged pointer is
    /// an error rather than a wild read.
    static func previousPointer(in region: MappedRegion, at offset: UInt64, end: UInt64, path: String)
        throws(JournalError) -> UInt64
    {
        // `offset <= end` first: a damaged pointer near `UInt64.max` must not overflow the sum.
        guard offset >= Layout.logStart, offset % 8 == 0, offset <= end, end - offset >= UInt64(RecordField.size)
        else {
            throw .corruption(path: path, offset: offset, detail: "a record pointer leads outside the log")
        }
        return region.bytes(at: offset, count: RecordField.size).le(RecordField.previous)
    }

    /// Offsets of chunks `index` through the last of its block (64·b + 63, capped at the
    /// stream's count), found by following back-pointers from the block's last chunk down to
    /// `index`: as many pointer reads as chunks returned, at most 64, whatever the file size.
    /// A reader of a stream's newest chunk (a follower woken for it, the server's refresh)
    /// reads one pointer, not up to 63 back to the block's start. A walk that reaches the
    /// block's first chunk must arrive where the sparse index says it starts.
    static func chunkOffsets(
        region: MappedRegion, end: UInt64, entry: StreamEntry, from index: Int, lastChunk: UInt64?, path: String
    ) throws(JournalError) -> [UInt64] {
        let block = index / Layout.chunksPerBlock
        let first = block * Layout.chunksPerBlock
        let wanted = min(first + Layout.chunksPerBlock, Int(entry.chunkCount)) - index
        guard index >= 0, wanted > 0, block < entry.blockStarts.count else {
            throw .corruption(path: path, offset: entry.openOffset, detail: "stream index has no chunk \(index)")
        }
        var cursor: UInt64
        if block + 1 < entry.blockStarts.count {
            // The next block's first chunk points back at this block's last.
            cursor = try previousPointer(in: region, at: entry.blockStarts[block + 1], end: end, path: path)
        } else if let lastChunk {
            cursor = lastChunk
        } else {
            throw .corruption(path: path, offset: entry.openOffset, detail: "stream has chunks but no last chunk")
        }
        var reversed: [UInt64] = []
        reversed.reserveCapacity(wanted)
        while true {
            reversed.append(cursor)
            if reversed.count == wanted { break }
            cursor = try previousPointer(in: region, at: cursor, end: end, path: path)
        }
        guard index != first || cursor == entry.blockStarts[block] else {
            throw .corruption(
                path: path, offset: cursor,
                detail: "back-pointers of stream \"\(entry.id)\" do not lead to the start of block \(block)")
        }
        return reversed.reversed()
    }

    // MARK: Read-only refresh

    /// A compaction in the writer process renamed a new file over the path: load it. The old
    /// mapping stays valid for cursors still reading it (the writer never shrinks a file).
    func reopenReplacedFileLocked() throws(JournalError) {
        // Read the old file to its end first: the writer committed records there after our
        // last look and before the rename, and a journal-wide follower still owes them. If
        // that read fails, the new file is still the one to load (stream followers continue
        // by chunk index); journal-wide followers then resume at its end (FORMAT.md §9).
        let oldEnd: UInt64? = (try? readNewRecordsLocked()) == nil ? nil : end
        let oldHeader = try? LoadedState.pickHeader(region.bytes(at: 0, count: Int(Layout.logStart)), path: path)
        let newFD = try io("open") { () throws(Errno) in try FileDescriptor.open(filePath, .readOnly) }
        var adopted = false
        defer { if !adopted { newFD.close() } }
        let size = try io("fstat") { () throws(Errno) in try newFD.size() }
        let newRegion = try io("mmap") { () throws(Errno) in
            try MappedRegion(fd: newFD, length: JournalEngine.mappingLength(for: size), writable: false)
        }
        let state = try LoadedState.load(newRegion.bytes(at: 0, count: Int(size)), path: path)
        fd.close()
        fd = newFD
        adopted = true
        region = newRegion
        fileSize = size
        end = state.end
        let missing = StreamTable.namesMissing(from: state.table, in: table)
        table = state.table
        header = state.header
        headerSlot = state.headerSlot
        lastGeneration = state.lastGeneration
        damagedSnapshots = state.damagedSnapshots
        checkedFrom = state.checkedFrom
        fileIdentity = try? newFD.identity()
        fileEpoch += 1
        lastSwap = nil
        lastSwapNames = [:]
        if let oldEnd, let oldHeader,
            let newStart = JournalEngine.swapPoint(
                after: oldHeader.header, in: newRegion.bytes(at: 0, count: Int(Layout.logStart)), end: state.end,
                path: path)
        {
            lastSwap = (epoch: fileEpoch, oldEnd: oldEnd, newStart: newStart)
            lastSwapNames = missing
        }
        waiters.wakeAll()
    }

    /// Where the writer's appends after a compaction start in the new file, when its headers
    /// still say (FORMAT.md §9): the compaction writes both slots of the new file with the
    /// old file's journal id, sequences one and two above the old file's last header, and
    /// `checkpointEnd` at the end of the copy. Nil once later header writes replaced both,
    /// or when the file is not a compaction of the old one (then followers resume at its end).
    static func swapPoint(
        after old: FileHeader, in headers: UnsafeRawBufferPointer, end: UInt64, path: String
    ) -> UInt64? {
        // A damaged old header's sequence could be too near the top to add to.
        guard old.sequence <= UInt64.max - UInt64(Layout.headerSlotCount),
            let picked = try? LoadedState.pickHeader(headers, path: path)
        else { return nil }
        let written = old.sequence + 1...old.sequence + UInt64(Layout.headerSlotCount)
        return [picked.header, picked.other].lazy.compactMap { $0 }
            .first { $0.journalID == old.journalID && written.contains($0.sequence) }
            .map(\.checkpointEnd)
            .flatMap { $0 >= Layout.logStart && $0 <= end ? $0 : nil }
    }

    /// Picks up records another process committed since the last look; no-op for the writer.
    /// Invalid bytes at the end are a write in progress (or a dead writer's torn tail), never
    /// an error: the next refresh looks again. Wakes the waiters that new records satisfy.
    func refreshLocked() throws(JournalError) {
        if isClosed { throw .closed(path: path) }
        if writable { return }
        statistics.lookups += 1
        if let current = try? FileSystem.identity(of: filePath), current != fileIdentity {
            try reopenReplacedFileLocked()
        }
        // Only new records can satisfy a waiter (a replaced file woke everyone above). Looking
        // at every waiter on each refresh that found nothing made a thousand followers of one
        // read-only handle cost a million checks per chunk, one pass for each follower.
        let endBefore = end
        defer { if end != endBefore { wakeSatisfiedLocked() } }
        try readNewRecordsLocked()
        // Whoever looked, the file reads again: followers can leave looking to the poller.
        pollFailure = nil
    }

    /// Applies the records committed after `end` in the mapped file, following the file as
    /// the writer grows it; read-only handles only.
    private func readNewRecordsLocked() throws(JournalError) {
        // A writer that opened after us stamps a higher generation: read the header again.
        if let picked = try? LoadedState.pickHeader(region.bytes(at: 0, count: Int(Layout.logStart)), path: path),
            picked.header.generation > header.generation
        {
            header = picked.header
        }
        var grew = true
        while grew {
            grew = false
            var scanner = LogScanner(
                log: region.bytes(at: 0, count: Int(fileSize)), from: end, maxGeneration: header.generation,
                lastGeneration: lastGeneration)
            scan: while true {
                switch scanner.next() {
                case .record(let record, let body, let offset):
                    do { try table.apply(record, body: body, at: offset) } catch { break scan }
                    end = scanner.offset
                    lastGeneration = scanner.lastGeneration
                case .end, .invalid:
                    break scan
                }
            }
            // Near the end of what we mapped: the writer may have grown the file.
            if end + UInt64(RecordField.size) > fileSize || end + (1 << 20) > fileSize {
                let size = try io("fstat") { () throws(Errno) in try fd.size() }
                if size > fileSize {
                    if size > UInt64(region.length) {
                        region = try io("mmap") { () throws(Errno) in
                            try MappedRegion(fd: fd, length: JournalEngine.mappingLength(for: size), writable: false)
                        }
                    }
                    fileSize = size
                    grew = true
                }
            }
        }
    }
}
