/// The in-memory state of one stream: what `StreamInfo` reports plus where its records are.
struct StreamEntry: Sendable, Equatable {
    var id: StreamID
    var number: UInt32
    var status: StreamStatus
    var metadata: [String: String]
    /// Offset of the stream-open record.
    var openOffset: UInt64
    /// Offset of the stream's latest record (the `previous` of its next record).
    var lastOffset: UInt64
    var chunkCount: UInt32
    var byteCount: UInt64
    /// Bytes the stream's records occupy in the log, framing and padding included: what
    /// compaction would copy.
    var recordBytes: UInt64
    var createdAt: Int64
    var updatedAt: Int64
    /// Zero while open.
    var finishedAt: Int64
    var reason: String?
    /// Offsets of chunks 0, 64, 128, ...: the sparse index that, with each record's
    /// back-pointer, finds chunk k without scanning the file.
    var blockStarts: [UInt64]
    /// Set by a deleted record: the entry stays (slots are stable) but no lookup finds it.
    var isDeleted = false

    var info: StreamInfo {
        StreamInfo(
            id: id, status: status, chunkCount: Int(chunkCount), byteCount: Int(byteCount),
            createdAt: createdAt, updatedAt: updatedAt, finishedAt: status.isFinished ? finishedAt : nil,
            reason: reason, metadata: metadata)
    }

    /// Records a chunk appended at `offset`.
    @inline(__always)
    mutating func noteChunk(at offset: UInt64, length: Int, timestamp: Int64) {
        if chunkCount % UInt32(Layout.chunksPerBlock) == 0 { blockStarts.append(offset) }
        chunkCount += 1
        byteCount += UInt64(length)
        recordBytes += UInt64(Layout.aligned(RecordField.size + length))
        lastOffset = offset
        updatedAt = timestamp
    }

    /// Records the terminal record at `offset`. An empty reason is no reason: the record's
    /// body is empty either way, and the table a scan or a compaction rebuilds from it has
    /// nil, so keeping "" here changed `StreamInfo` across compaction, and a snapshot holding
    /// "" differed from the log for `verify`.
    mutating func noteFinish(_ status: StreamStatus, reason: String?, at offset: UInt64, timestamp: Int64) {
        recordBytes += UInt64(Layout.aligned(RecordField.size + (reason?.utf8.count ?? 0)))
        self.status = status
        self.reason = reason?.isEmpty == false ? reason : nil
        lastOffset = offset
        updatedAt = timestamp
        finishedAt = timestamp
    }
}

/// All streams of a journal, by id and by stream number.
struct StreamTable: Sendable {
    private(set) var entries: [StreamEntry] = []
    private(set) var slotByID: [StreamID: Int] = [:]
    private(set) var slotByNumber: [UInt32: Int] = [:]
    /// Highest stream number ever opened; new streams get the next one.
    private(set) var highestNumber: UInt32 = 0

    var count: Int { entries.count }

    /// Streams not deleted, in creation order.
    var live: [StreamEntry] { entries.filter { !$0.isDeleted } }

    /// Record bytes of every stream not deleted.
    var liveRecordBytes: UInt64 { entries.reduce(0) { $0 + ($1.isDeleted ? 0 : $1.recordBytes) } }

    func slot(of id: StreamID) -> Int? { slotByID[id] }

    /// `slot(of:)` that first tries `hint` (the slot found last time): a producer appends to
    /// the same stream many times in a row, and comparing ids is cheaper than hashing one.
    @inline(__always)
    func slot(of id: StreamID, hint: Int) -> Int? {
        if hint < entries.count && !entries[hint].isDeleted && entries[hint].id == id { return hint }
        return slotByID[id]
    }

    /// The slot of the live stream numbered `number`.
    ///
    /// Numbers are handed out in slot order, so until a compaction leaves gaps, stream n sits
    /// at slot n - (first number): checking that slot first spares the hashing, which was a
    /// fifth of a recovery scan once entry copies were gone.
    @inline(__always)
    func slot(number: UInt32) -> Int? {
        if let first = entries.first?.number, number >= first {
            let guess = Int(number - first)
            if guess < entries.count && entries[guess].number == number {
                return entries[guess].isDeleted ? nil : guess
            }
        }
        return slotByNumber[number]
    }

    /// The offset of the latest record of the live stream numbered `number`: what a record
    /// that continues it points back at (recovery's and verify's test of a linked record).
    func lastOffset(ofNumber number: UInt32) -> UInt64? {
        slot(number: number).map { entries[$0].lastOffset }
    }

    subscript(slot: Int) -> StreamEntry {
        // `_read` lends the entry: reading one field copies neither it nor its references.
        _read { yield entries[slot] }
        _modify { yield &entries[slot] }
    }

    /// An empty table.
    init() {}

    /// The names of the streams of `old` that `new` has no live entry for, by number.
    static func namesMissing(from new: StreamTable, in old: StreamTable) -> [UInt32: StreamID] {
        var names: [UInt32: StreamID] = [:]
        for entry in old.entries where new.slot(number: entry.number) == nil { names[entry.number] = entry.id }
        return names
    }

    /// Why `init(uniqueEntries:)` refused a snapshot's entries.
    enum Conflict: Error {
        /// Two entries have this id.
        case id(StreamID)
        /// Two entries have this number.
        case number(UInt32)

        /// The sentence an open and `verify` both give for it.
        var detail: String {
            switch self {
            case .id(let id): return "stream \"\(id)\" appears twice"
            case .number(let number): return "stream number \(number) appears twice"
            }
        }
    }

    /// The table of `entries`, in slot order, unless two of them share an id or a number.
    ///
    /// The entries array becomes the table's as it is, and each index costs one hash
    /// insertion: building a thousand-stream snapshot's table by copying every entry in and
    /// looking each key up before inserting it took a third of a read-only open.
    init(uniqueEntries entries: [StreamEntry]) throws(Conflict) {
        self.entries = entries
        slotByID.reserveCapacity(entries.count)
        slotByNumber.reserveCapacity(entries.count)
        for slot in entries.indices {
            let number = entries[slot].number
            if slotByID.updateValue(slot, forKey: entries[slot].id) != nil { throw .id(entries[slot].id) }
            if slotByNumber.updateValue(slot, forKey: number) != nil { throw .number(number) }
            highestNumber = max(highestNumber, number)
        }
    }

    mutating func insert(_ entry: StreamEntry) {
        let slot = entries.count
        entries.append(entry)
        slotByID[entry.id] = slot
        slotByNumber[entry.number] = slot
        highestNumber = max(highestNumber, entry.number)
    }

    /// Marks the stream deleted: its id becomes free and its number unusable.
    mutating func markDeleted(slot: Int) {
        entries[slot].isDeleted = true
        slotByID[entries[slot].id] = nil
        slotByNumber[entries[slot].number] = nil
    }

    /// Restores the numbering state of a snapshot whose streams were since removed.
    mutating func raiseHighestNumber(to number: UInt32) {
        highestNumber = max(highestNumber, number)
    }

    /// Why a record cannot follow the records before it (FORMAT.md, "Validity of the log").
    struct Violation: Error {
        let detail: String
    }

    /// Applies a valid record found at `offset` during a scan; throws when it breaks the
    /// stream lifecycle rules. `body` is the record's body.
    mutating func apply(_ header: RecordHeader, body: UnsafeRawBufferPointer, at offset: UInt64) throws(Violation) {
        switch header.type {
        case .snapshot, .padding:
            // FORMAT.md §4 and §6: journal records point at no stream record, and padding is
            // zero bytes. Every writer writes them so; a record otherwise is not one of ours.
            guard header.chunkIndex == 0, header.previous == 0 else {
                throw Violation(detail: "a \(header.type) record must have chunk index 0 and no previous record")
            }
            if header.type == .padding && body.contains(where: { $0 != 0 }) {
                throw Violation(detail: "a padding record's body must be zero bytes")
            }
            // A compacted file's snapshot keeps the numbers of the streams it dropped (§7):
            // an open that scans past it (its header's snapshot damaged) numbers on above
            // them too. The field follows the u64 `logEnd`.
            if header.type == .snapshot && body.count >= 12 {
                let highest = UInt32(littleEndian: body.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
                highestNumber = max(highestNumber, highest)
            }
            return
        case .streamOpen:
            guard header.stream > highestNumber else {
                throw Violation(
                    detail: "stream number \(header.stream) is not above the highest so far (\(highestNumber))")
            }
            guard header.chunkIndex == 0, header.previous == 0 else {
                throw Violation(detail: "a stream-open record must have chunk index 0 and no previous record")
            }
            // The writer refuses more (`metadataTooLarge`), so a longer body is not one it wrote.
            guard body.count <= StreamOpenBody.maxMetadataBytes else {
                throw Violation(
                    detail:
                        "stream-open body of \(body.count) bytes, over the limit of \(StreamOpenBody.maxMetadataBytes)")
            }
            let decoded: StreamOpenBody
            do { decoded = try StreamOpenBody.decode(body) } catch {
                throw Violation(detail: "stream-open body: \(error.detail) at body offset \(error.offset)")
            }
            if let problem = StreamID.problem(with: decoded.id) {
                throw Violation(detail: "stream id is invalid: \(problem)")
            }
            let id = StreamID(trusted: decoded.id)
            guard slotByID[id] == nil else { throw Violation(detail: "stream id \"\(id)\" is opened twice") }
            insert(
                StreamEntry(
                    id: id, number: header.stream, status: .open, metadata: decoded.metadata,
                    openOffset: offset, lastOffset: offset, chunkCount: 0, byteCount: 0,
                    recordBytes: UInt64(header.alignedSize), createdAt: header.timestamp, updatedAt: header.timestamp,
                    finishedAt: 0, reason: nil,
                    blockStarts: []))
        case .chunk, .completed, .failed, .cancelled, .interrupted, .deleted:
            guard let slot = slot(number: header.stream) else {
                throw Violation(
                    detail: "record for stream number \(header.stream), which was never opened or was deleted")
            }
            // Field by field, not `let entry = entries[slot]`: copying the entry retained and
            // released its four references for every record, 40% of a recovery scan.
            let status = entries[slot].status
            let chunkCount = entries[slot].chunkCount
            let lastOffset = entries[slot].lastOffset
            guard header.type != .deleted || body.isEmpty else {
                throw Violation(detail: "a deleted record's body must be empty, found \(body.count) bytes")
            }
            guard status == .open || header.type == .deleted else {
                throw Violation(detail: "record for stream \"\(entries[slot].id)\" after it ended (\(status))")
            }
            guard header.chunkIndex == chunkCount else {
                throw Violation(
                    detail:
                        "chunk index \(header.chunkIndex) for stream \"\(entries[slot].id)\", expected \(chunkCount)")
            }
            guard header.type != .chunk || header.chunkIndex < UInt32.max else {
                throw Violation(
                    detail:
                        "chunk index \(UInt32.max) for stream \"\(entries[slot].id)\": a stream holds at most \(UInt32.max) chunks"
                )
            }
            guard header.previous == lastOffset else {
                throw Violation(
                    detail:
                        "previous-record pointer \(header.previous) for stream \"\(entries[slot].id)\", expected \(lastOffset)"
                )
            }
            if header.type == .chunk {
                entries[slot].noteChunk(at: offset, length: body.count, timestamp: header.timestamp)
            } else if header.type == .deleted {
                markDeleted(slot: slot)
            } else {
                let reason: String?
                if body.isEmpty {
                    reason = nil
                } else if let text = String(validating: body, as: UTF8.self) {
                    reason = text
                } else {
                    throw Violation(detail: "terminal record reason is not valid UTF-8")
                }
                entries[slot].noteFinish(
                    header.type.terminalStatus!, reason: reason, at: offset, timestamp: header.timestamp)
            }
        }
    }
}
