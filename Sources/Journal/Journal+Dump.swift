#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// Low-level inspection for `journalctl-stream info` and `dump`: header slots, disk usage and a
// record-by-record listing that keeps going past damage. All of it reads the file without the
// writer lock, so it works beside a running writer.

// MARK: Header slots

/// The fields of one valid header slot (FORMAT.md §3), as `journalctl-stream info` shows them.
public struct JournalHeaderFields: Sendable, Equatable {
    /// The format version the slot declares.
    public var formatVersion: UInt32
    /// Feature bits a reader must understand (none in version 1).
    public var requiredFeatures: UInt32
    /// Feature bits a reader may ignore.
    public var optionalFeatures: UInt32
    /// The 16 random bytes chosen at creation, as 32 lowercase hex digits.
    public var journalID: String
    /// Increases with every header write; the valid slot with the highest value is current.
    public var sequence: UInt64
    /// The writer generation: increases at every writable open.
    public var generation: UInt32
    /// The process id of the writer that last opened the file (informational).
    public var writerPID: Int32
    /// When the journal was created, microseconds since the Unix epoch.
    public var createdAt: Int64
    /// When this slot was written, microseconds since the Unix epoch.
    public var updatedAt: Int64
    /// Every byte of the log below this offset was durable and valid when the slot was written.
    public var checkpointEnd: UInt64
    /// Offset of the index snapshot the slot points at, or nil for none.
    public var snapshotOffset: UInt64?
    /// Aligned length of that snapshot record (0 for none).
    public var snapshotLength: UInt64

    init(_ header: FileHeader) {
        formatVersion = header.formatVersion
        requiredFeatures = header.requiredFeatures
        optionalFeatures = header.optionalFeatures
        journalID = header.journalID.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
        sequence = header.sequence
        generation = header.generation
        writerPID = Int32(bitPattern: header.writerPID)
        createdAt = header.createdAt
        updatedAt = header.updatedAt
        checkpointEnd = header.checkpointEnd
        snapshotOffset = header.snapshotOffset == 0 ? nil : header.snapshotOffset
        snapshotLength = header.snapshotLength
    }
}

/// One of the two header slots: its fields when valid, or why it is not.
public struct JournalHeaderSlot: Sendable, Equatable {
    /// 0 for slot A (offset 0), 1 for slot B (offset 4096).
    public var index: Int
    /// "A" or "B".
    public var name: String { slotName(index) }
    /// The slot's fields when it is a valid version-1 header.
    public var fields: JournalHeaderFields?
    /// Why the slot is not usable, when it is not.
    public var problem: String?
}

/// What the start of a journal file says, read straight from the file (no recovery, no lock).
public struct JournalFileInfo: Sendable, Equatable {
    /// The path as given.
    public var path: String
    /// The file's size in bytes (`st_size`); the writer preallocates, so usually above the log.
    public var fileSize: UInt64
    /// Bytes the file occupies on disk (`st_blocks` × 512).
    public var allocatedBytes: UInt64
    /// Both header slots, A then B.
    public var slots: [JournalHeaderSlot]
    /// The slot in use: the valid one with the highest sequence, or nil when neither is valid.
    public var currentSlot: Int?

    /// The fields of the slot in use.
    public var current: JournalHeaderFields? { currentSlot.flatMap { slots[$0].fields } }
}

extension Journal {
    /// The newest file format version this build reads and writes.
    public static var supportedFormatVersion: UInt32 { Layout.formatVersion }

    /// Reads both header slots and the file's sizes. Throws only when the file cannot be read
    /// or carries no StreamJournal signature at all; a damaged slot is reported in the result.
    public static func fileInfo(path: String) throws(JournalError) -> JournalFileInfo {
        let fd = try JournalEngine.io("open", path) { () throws(Errno) in try FileDescriptor.open(path, .readOnly) }
        defer { fd.close() }
        var status = stat()
        try JournalEngine.io("fstat", path) { () throws(Errno) in
            _ = try retryingOnInterrupt { fstat(fd.rawValue, &status) }
        }
        var bytes = [UInt8](repeating: 0, count: Int(Layout.logStart))
        let read = bytes.withUnsafeMutableBytes { raw in Result { () throws(Errno) in try fd.read(into: raw, at: 0) } }
        let count: Int
        switch read {
        case .success(let bytesRead): count = bytesRead
        case .failure(let error): throw .io(operation: "read header", path: path, errno: error)
        }
        if count == 0 { throw .notAJournal(path: path, reason: "the file is empty (0 bytes)") }
        var info = JournalFileInfo(
            path: path, fileSize: UInt64(status.st_size), allocatedBytes: UInt64(status.st_blocks) * 512,
            slots: [], currentSlot: nil)
        var signatures = 0
        bytes.withUnsafeBytes { raw in
            for slot in 0..<Layout.headerSlotCount {
                let start = min(slot * Layout.headerSlotSize, count)
                let end = min(start + Layout.headerSlotSize, count)
                var entry = JournalHeaderSlot(index: slot)
                switch FileHeader.decode(UnsafeRawBufferPointer(rebasing: raw[start..<end])) {
                case .valid(let header):
                    signatures += 1
                    entry.fields = JournalHeaderFields(header)
                case .notAJournal:
                    entry.problem = "no StreamJournal signature"
                case .unsupportedVersion(let version):
                    signatures += 1
                    entry.problem = "claims format version \(version), newer than this build reads"
                case .invalid(let reason):
                    signatures += 1
                    entry.problem = reason
                }
                info.slots.append(entry)
            }
        }
        if signatures == 0 {
            throw .notAJournal(path: path, reason: "no StreamJournal signature at offset 0 (\(count) bytes read)")
        }
        info.currentSlot = info.slots.indices
            .filter { info.slots[$0].fields != nil }
            .max { info.slots[$0].fields!.sequence < info.slots[$1].fields!.sequence }
        return info
    }
}

// MARK: Disk usage

/// Where a journal file's bytes go, computed by scanning the whole log.
///
/// Live bytes are the records a compaction would copy: the open, chunk and terminal records
/// of every stream in the stream table (open and finished alike), plus the snapshot the
/// current header points at. Dead bytes are the records it would drop: snapshots that a later
/// one superseded, padding, and records of streams no longer in the table. Free bytes are the
/// file's preallocated space after the log (and any torn tail, which the next writable open
/// zeroes).
public struct DiskUsage: Sendable, Equatable {
    /// `st_size`.
    public var fileSize: UInt64
    /// `st_blocks` × 512: what the file really takes on disk.
    public var allocatedBytes: UInt64
    /// The two header slots.
    public var headerBytes: UInt64
    /// Where the scanned log ends.
    public var logEnd: UInt64
    /// Records (framing and padding included) of streams in the table.
    public var liveStreamBytes: UInt64
    /// How many records that is.
    public var liveStreamRecords: Int
    /// Chunk payload bytes of those streams, without framing.
    public var payloadBytes: UInt64
    /// The snapshot record the current header points at (0 when none).
    public var currentSnapshotBytes: UInt64
    /// Superseded snapshots, padding and records of streams no longer in the table.
    public var deadBytes: UInt64
    /// Snapshot records that a later snapshot superseded.
    public var supersededSnapshots: Int
    /// Bytes from the log end to the file size: preallocated space (or a torn tail).
    public var freeBytes: UInt64 { fileSize > logEnd ? fileSize - logEnd : 0 }
    /// Live bytes: the stream records and the current snapshot.
    public var liveBytes: UInt64 { liveStreamBytes + currentSnapshotBytes }
    /// Why the scan stopped before the end of the file's data, when it did: a record being
    /// written (beside a running writer), a torn tail, or damage (`verify` tells which).
    public var stopNote: String?
}

extension Journal {
    /// Scans the file once and sorts every byte into live, dead and free (see `DiskUsage`).
    /// Reads without the lock, up to the last valid record.
    public static func diskUsage(path: String) throws(JournalError) -> DiskUsage {
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        let picked = try LoadedState.pickHeader(bytes, path: path)
        var usage = DiskUsage(
            fileSize: UInt64(bytes.count), allocatedBytes: file.allocatedBytes, headerBytes: Layout.logStart,
            logEnd: Layout.logStart, liveStreamBytes: 0, liveStreamRecords: 0, payloadBytes: 0,
            currentSnapshotBytes: 0, deadBytes: 0, supersededSnapshots: 0)
        var table = StreamTable()
        var perStream: [UInt32: (bytes: UInt64, records: Int, payload: UInt64)] = [:]
        var scanner = LogScanner(log: bytes, from: Layout.logStart, maxGeneration: picked.header.generation)
        scan: while true {
            switch scanner.next() {
            case .record(let record, let body, let offset):
                do { try table.apply(record, body: body, at: offset) } catch {
                    usage.logEnd = offset
                    usage.stopNote = "offset \(offset): \(error.detail)"
                    break scan
                }
                let size = UInt64(record.alignedSize)
                switch record.type {
                case .snapshot:
                    if offset == picked.header.snapshotOffset {
                        usage.currentSnapshotBytes += size
                    } else {
                        usage.deadBytes += size
                        usage.supersededSnapshots += 1
                    }
                case .padding:
                    usage.deadBytes += size
                default:
                    var totals = perStream[record.stream] ?? (0, 0, 0)
                    totals.bytes += size
                    totals.records += 1
                    if record.type == .chunk { totals.payload += UInt64(record.bodyLength) }
                    perStream[record.stream] = totals
                }
                usage.logEnd = scanner.offset
            case .end(let offset):
                usage.logEnd = offset
                break scan
            case .invalid(let offset, let reason):
                usage.logEnd = offset
                usage.stopNote = "offset \(offset): \(reason)"
                break scan
            }
        }
        for (number, totals) in perStream {
            if table.slot(number: number) != nil {
                usage.liveStreamBytes += totals.bytes
                usage.liveStreamRecords += totals.records
                usage.payloadBytes += totals.payload
            } else {
                usage.deadBytes += totals.bytes
            }
        }
        return usage
    }
}

// MARK: Record dump

/// One record as `journalctl-stream dump` lists it: the raw header fields, whether the
/// checksum matches, and the first rule the record breaks (nil when it is valid).
public struct DumpedRecord: Sendable, Equatable {
    /// Whether the stored checksum matches the bytes.
    public enum Checksum: Sendable, Equatable {
        /// Stored and computed CRC-32C agree.
        case valid
        /// They differ.
        case mismatch(stored: UInt32, computed: UInt32)
        /// The record's length field points past the file, so nothing could be checked.
        case unavailable
    }

    /// Byte offset of the record.
    public var offset: UInt64
    /// The raw type byte.
    public var typeCode: UInt8
    /// The type's name: open, chunk, completed, failed, cancelled, interrupted, snapshot,
    /// padding, or `type-N` for a value this build does not know.
    public var typeName: String
    /// Body bytes, as the length field says.
    public var bodyLength: UInt32
    /// Bytes the record takes in the file (header, body, padding).
    public var size: UInt64
    /// The writer generation that wrote it.
    public var generation: UInt32
    /// The stream number (0 for journal records).
    public var streamNumber: UInt32
    /// The stream's id, when its open record was read (or the index knows it).
    public var streamID: StreamID?
    /// Chunk index (chunk records) or chunk count (terminal records).
    public var chunkIndex: UInt32
    /// When it was written, microseconds since the Unix epoch.
    public var timestamp: Int64
    /// Offset of the stream's previous record.
    public var previous: UInt64
    /// The checksum status.
    public var checksum: Checksum
    /// The first validity rule (FORMAT.md §5) the record breaks, or nil when it is valid.
    public var problem: String?
}

/// One step of a dump.
public enum DumpEntry: Sendable, Equatable {
    /// A record, valid or not.
    case record(DumpedRecord)
    /// Bytes after an invalid record where no valid record starts; the dump resumed at
    /// `offset + length` (the next 8-byte-aligned offset holding a valid record) or stopped.
    case unreadable(offset: UInt64, length: UInt64)
    /// The log ends cleanly here: only zero bytes follow up to the file's size.
    case end(offset: UInt64, fileSize: UInt64)
}

extension Journal {
    /// Lists the records of the file at `path` from `offset` (default: the first record),
    /// calling `body` for each entry until it returns false or the file's data ends.
    ///
    /// Unlike recovery, the dump does not stop at the first invalid record: it reports it
    /// (with its checksum status and the rule it breaks), then tries every following 8-byte-
    /// aligned offset for a valid record and goes on from there. Stream lifecycle rules
    /// (FORMAT.md §5 rule 8) are checked only when the dump starts at the first record;
    /// from a later offset, stream ids come from the index an open would load.
    public static func dump(
        path: String, from start: UInt64? = nil, _ body: (DumpEntry) throws -> Bool
    ) throws {
        let offset = start ?? Layout.logStart
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        // With both header slots damaged the records still say which generation wrote them:
        // a debugging tool must work exactly then.
        var maxGeneration = UInt32.max
        do {
            maxGeneration = try LoadedState.pickHeader(bytes, path: path).header.generation
        } catch {
            guard case .corruption = error else { throw error }
        }
        guard offset >= Layout.logStart, offset % UInt64(Layout.recordAlignment) == 0 else {
            throw JournalError.corruption(
                path: path, offset: offset,
                detail: "a dump must start at a multiple of 8 at or after \(Layout.logStart), where records start")
        }
        if bytes.count < Int(Layout.logStart) {
            throw JournalError.corruption(
                path: path, offset: UInt64(bytes.count),
                detail:
                    "the file is \(bytes.count) bytes, shorter than the \(Layout.logStart)-byte header area, so it holds no records"
            )
        }
        guard offset <= UInt64(bytes.count) else {
            throw JournalError.corruption(
                path: path, offset: offset,
                detail: "offset \(offset) is beyond the end of the file (\(bytes.count) bytes)")
        }
        let checkLifecycle = offset == Layout.logStart
        var names: [UInt32: StreamID] = [:]
        if !checkLifecycle, let state = try? LoadedState.load(bytes, path: path) {
            for entry in state.table.entries { names[entry.number] = entry.id }
        }
        var table = StreamTable()
        var scanner = SalvageScanner(
            file: bytes, from: offset, maxGeneration: maxGeneration,
            knownSnapshots: SalvageScanner.snapshotExtents(in: bytes), written: file.dataEnd)
        while true {
            switch scanner.next() {
            case .record(let header, let recordBody, let at):
                var problem: String?
                if header.type == .streamOpen, let open = try? StreamOpenBody.decode(recordBody),
                    StreamID.problem(with: open.id) == nil
                {
                    names[header.stream] = names[header.stream] ?? StreamID(trusted: open.id)
                }
                if checkLifecycle {
                    do { try table.apply(header, body: recordBody, at: at) } catch { problem = error.detail }
                }
                let entry = DumpedRecord(
                    offset: at, typeCode: header.type.rawValue, typeName: header.type.dumpName,
                    bodyLength: header.bodyLength, size: UInt64(header.alignedSize), generation: header.generation,
                    streamNumber: header.stream, streamID: names[header.stream], chunkIndex: header.chunkIndex,
                    timestamp: header.timestamp, previous: header.previous, checksum: .valid, problem: problem)
                if try !body(.record(entry)) { return }
            case .damaged(let at, let reason, let resume):
                var entry = rawRecord(in: bytes, at: at, reason: reason)
                entry.streamID = names[entry.streamNumber]
                // A length field that leads exactly to the next valid record is believable:
                // the damage is inside this record, and there is no gap to report.
                let claimed = UInt64(
                    Layout.aligned(RecordField.size + Int(min(entry.bodyLength, UInt32(Layout.maxBodyLength)))))
                if let resume, resume == at + claimed { entry.size = claimed }
                if try !body(.record(entry)) { return }
                let next = resume ?? scanner.dataEnd
                let recordEnd = at + entry.size
                if next > recordEnd, try !body(.unreadable(offset: recordEnd, length: next - recordEnd)) { return }
                if resume == nil {
                    _ = try body(.end(offset: max(next, recordEnd), fileSize: UInt64(bytes.count)))
                    return
                }
            case .zeroGap(let at, let length):
                if try !body(.unreadable(offset: at, length: length)) { return }
            case .damagedSnapshot(let at, let length, let reason):
                var entry = rawRecord(in: bytes, at: at, reason: "\(reason) (a snapshot the header describes; skipped)")
                entry.size = length
                if try !body(.record(entry)) { return }
            case .end(let at):
                _ = try body(.end(offset: at, fileSize: UInt64(bytes.count)))
                return
            }
        }
    }

    /// The header fields of the invalid record at `offset`, read as they are, with the
    /// checksum status when the length field allows computing it.
    static func rawRecord(in file: UnsafeRawBufferPointer, at offset: UInt64, reason: String) -> DumpedRecord {
        let available = max(0, min(RecordField.size, file.count - Int(offset)))
        var header = [UInt8](repeating: 0, count: RecordField.size)
        for i in 0..<available { header[i] = file[Int(offset) + i] }
        return header.withUnsafeBytes { raw in
            let bodyLength: UInt32 = raw.le(RecordField.bodyLength)
            let typeCode: UInt8 = raw.le(RecordField.type)
            let end = Int(offset) + RecordField.size + Int(bodyLength)
            var checksum = DumpedRecord.Checksum.unavailable
            var size = UInt64(Layout.recordAlignment)
            if available == RecordField.size, Int(bodyLength) <= Layout.maxBodyLength, end <= file.count {
                let stored: UInt32 = raw.le(RecordField.checksum)
                let computed = CRC32C.checksum(
                    UnsafeRawBufferPointer(rebasing: file[Int(offset) + RecordField.checksum.end..<end]))
                checksum = stored == computed ? .valid : .mismatch(stored: stored, computed: computed)
                // Only a record whose checksum matches can be trusted to say how long it is.
                if stored == computed { size = UInt64(min(Layout.aligned(end), file.count) - Int(offset)) }
            }
            return DumpedRecord(
                offset: offset, typeCode: typeCode,
                typeName: RecordType(rawValue: typeCode)?.dumpName ?? "type-\(typeCode)",
                bodyLength: bodyLength, size: size, generation: raw.le(RecordField.generation),
                streamNumber: raw.le(RecordField.stream), streamID: nil, chunkIndex: raw.le(RecordField.chunkIndex),
                timestamp: Int64(bitPattern: raw.le(RecordField.timestamp)), previous: raw.le(RecordField.previous),
                checksum: checksum, problem: reason)
        }
    }
}

extension RecordType {
    /// The short name `dump` prints.
    var dumpName: String {
        switch self {
        case .streamOpen: return "open"
        case .chunk: return "chunk"
        case .completed: return "completed"
        case .failed: return "failed"
        case .cancelled: return "cancelled"
        case .interrupted: return "interrupted"
        case .snapshot: return "snapshot"
        case .padding: return "padding"
        case .deleted: return "deleted"
        }
    }
}

// MARK: Shared helpers

/// A whole journal file mapped read-only, for the scans above and for repair.
final class MappedFile {
    /// The descriptor to close at deinit; nil when the caller owns it.
    private let ownedDescriptor: FileDescriptor?
    let region: MappedRegion
    let size: UInt64
    let allocatedBytes: UInt64
    /// One past the file's last data extent (`lastDataEnd`): no byte after it is written.
    let dataEnd: UInt64

    /// Opens and maps `path`. Repair passes the descriptor it holds the lock on; that one is
    /// the caller's to close.
    init(path: String, descriptor: FileDescriptor? = nil) throws(JournalError) {
        let fd: FileDescriptor
        if let descriptor {
            fd = descriptor
        } else {
            fd = try JournalEngine.io("open", path) { () throws(Errno) in try FileDescriptor.open(path, .readOnly) }
        }
        var status = stat()
        do throws(Errno) {
            _ = try retryingOnInterrupt { fstat(fd.rawValue, &status) }
        } catch {
            if descriptor == nil { fd.close() }
            throw .io(operation: "fstat", path: path, errno: error)
        }
        if status.st_mode & S_IFMT != S_IFREG {
            if descriptor == nil { fd.close() }
            let errno = Errno(rawValue: status.st_mode & S_IFMT == S_IFDIR ? EISDIR : ENODEV)
            throw JournalEngine.notARegularFile(path: path, errno: errno)!
        }
        if status.st_size == 0 {
            if descriptor == nil { fd.close() }
            throw .notAJournal(path: path, reason: "the file is empty (0 bytes)")
        }
        do throws(Errno) {
            region = try MappedRegion(fd: fd, length: Int(status.st_size), writable: false)
        } catch {
            if descriptor == nil { fd.close() }
            throw .io(operation: "mmap", path: path, errno: error)
        }
        ownedDescriptor = descriptor == nil ? fd : nil
        size = UInt64(status.st_size)
        allocatedBytes = UInt64(status.st_blocks) * 512
        dataEnd = MappedFile.lastDataEnd(fd, size: size)
    }

    /// One past the last byte of the file's last data extent, from `SEEK_DATA` and
    /// `SEEK_HOLE` (`size` where the file system does not tell, or on error). The salvage
    /// scans look for the end of the written bytes backwards from here: reading the holes of
    /// a sparse file a word at a time faults in every page (a 4 GiB one took 11.7 s).
    /// Preallocated, never-written space reads as zeros whether or not it counts as a hole.
    static func lastDataEnd(_ fd: FileDescriptor, size: UInt64) -> UInt64 {
        #if os(Linux)
            // <unistd.h> defines these only under _GNU_SOURCE, which the Glibc module lacks;
            // the values are Linux's ABI.
            let (SEEK_DATA, SEEK_HOLE): (Int32, Int32) = (3, 4)
            var position: off_t = 0
            var end: off_t = 0
            while UInt64(position) < size {
                let data = lseek(fd.rawValue, position, SEEK_DATA)
                if data < 0 { return errno == ENXIO ? UInt64(end) : size }
                let hole = lseek(fd.rawValue, data, SEEK_HOLE)
                if hole <= data { return size }
                (end, position) = (hole, hole)
            }
            return min(UInt64(end), size)
        #else
            return size
        #endif
    }

    deinit {
        ownedDescriptor?.close()
    }

    /// The whole file, from offset 0.
    var bytes: UnsafeRawBufferPointer { region.bytes(at: 0, count: Int(size)) }
}

/// Walks records like `LogScanner`, but does not stop at damage: after an invalid record it
/// tries each following 8-byte-aligned offset until one holds a valid record (FORMAT.md §5
/// rules 1–7, generations never decreasing) and resumes there. Zero bytes followed by more
/// data are reported as a gap rather than taken for the end. Used by `dump` and `repair`.
struct SalvageScanner {
    /// What the next position holds.
    enum Step {
        /// A record that passes every per-record rule.
        case record(RecordHeader, body: UnsafeRawBufferPointer, offset: UInt64)
        /// The bytes at `offset` are not a valid record; the scan resumes at `resume`, or,
        /// when nil, no valid record follows.
        case damaged(offset: UInt64, reason: String, resume: UInt64?)
        /// `length` zero bytes at `offset`, followed by more data.
        case zeroGap(offset: UInt64, length: UInt64)
        /// A damaged snapshot record that a header describes, skipped whole (its extent is
        /// known): derived data, so nothing is lost. Recovery skips it the same way.
        case damagedSnapshot(offset: UInt64, length: UInt64, reason: String)
        /// Only zero bytes from here to the end of the file.
        case end(UInt64)
    }

    let file: UnsafeRawBufferPointer
    let maxGeneration: UInt32
    private(set) var offset: UInt64
    private(set) var lastGeneration: UInt32 = 0
    /// One past the last non-zero byte of the file, rounded up to the record alignment.
    let dataEnd: UInt64

    /// Snapshot records the header slots describe: offset to aligned length.
    let knownSnapshots: [UInt64: UInt64]
    /// The offset of each stream's latest valid record so far: a record whose `previous`
    /// matches it continues a real stream, which bytes inside a payload almost never do.
    private var latestOfStream: [UInt32: UInt64] = [:]
    /// Whether the last resume after damage took the first valid record a search found,
    /// unconfirmed (a record-shaped region inside the damaged record's payload may be it).
    private(set) var lastResumeWasSearched = false

    /// `written` is where the file's written bytes end at the latest (`MappedFile.dataEnd`).
    init(
        file: UnsafeRawBufferPointer, from offset: UInt64, maxGeneration: UInt32,
        knownSnapshots: [UInt64: UInt64] = [:],
        written: UInt64 = .max
    ) {
        self.file = file
        self.offset = offset
        self.maxGeneration = maxGeneration
        self.knownSnapshots = knownSnapshots
        let limit = Int(min(written, UInt64(file.count)))
        dataEnd = UInt64(min(Layout.aligned(SalvageScanner.dataLength(file, from: Int(offset), to: limit)), file.count))
    }

    mutating func next() -> Step {
        if offset >= dataEnd { return .end(offset) }
        switch decodeRecord(in: file, at: offset, maxGeneration: maxGeneration) {
        case .record(let header) where header.generation >= lastGeneration:
            let at = offset
            let start = Int(at) + RecordField.size
            lastGeneration = header.generation
            offset += UInt64(header.alignedSize)
            if header.stream != 0 { latestOfStream[header.stream] = at }
            return .record(
                header, body: UnsafeRawBufferPointer(rebasing: file[start..<start + Int(header.bodyLength)]), offset: at
            )
        case .record(let header):
            return damaged(
                "generation \(header.generation) is below the previous record's \(lastGeneration) "
                    + "(left over from an earlier writer)"
            )
        case .end:
            // Zero bytes here, yet data further on: a zeroed stretch inside the log.
            let at = offset
            var next = at
            while next < dataEnd, isZeroWord(at: next) { next += UInt64(Layout.recordAlignment) }
            offset = next
            return .zeroGap(offset: at, length: next - at)
        case .invalid(let reason):
            if let length = knownSnapshots[offset], offset + length <= UInt64(file.count) {
                let at = offset
                offset += length
                return .damagedSnapshot(offset: at, length: length, reason: reason)
            }
            return damaged(reason)
        }
    }

    /// The snapshot extents the valid header slots of `file` describe.
    static func snapshotExtents(in file: UnsafeRawBufferPointer) -> [UInt64: UInt64] {
        var extents: [UInt64: UInt64] = [:]
        for slot in 0..<Layout.headerSlotCount {
            let start = min(slot * Layout.headerSlotSize, file.count)
            let end = min(start + Layout.headerSlotSize, file.count)
            if case .valid(let header) = FileHeader.decode(UnsafeRawBufferPointer(rebasing: file[start..<end])),
                header.snapshotOffset != 0
            {
                extents[header.snapshotOffset] = header.snapshotLength
            }
        }
        return extents
    }

    private mutating func damaged(_ reason: String) -> Step {
        let at = offset
        // A record whose header is believable and whose claimed end holds a valid record:
        // the damage is most likely inside it (rot in its payload), and the log goes on at
        // that end, as recovery's look past a bad record assumes. Searching from inside the
        // payload took record-shaped bytes there (a journal stored as a chunk) for records: a
        // fake stream opening that hid a real one, a fake deletion, a fake generation. But
        // the damage may be in the length itself (a flipped bit in `bodyLength` can claim
        // an extent ending exactly on a later record): a valid record inside the claimed
        // extent that is linked to the log around it (`linked`) is real, and the scan
        // resumes there.
        if let extent = TailVerdict.claimedExtent(file, at: at), at + extent < dataEnd,
            isPlausibleHeader(at: at + extent),
            case .record(let header) = decodeRecord(in: file, at: at + extent, maxGeneration: maxGeneration),
            header.generation >= lastGeneration
        {
            var candidate = at + UInt64(Layout.recordAlignment)
            while candidate < at + extent {
                if let inside = validRecord(at: candidate), linked(inside, at: candidate) { break }
                candidate += UInt64(Layout.recordAlignment)
            }
            offset = candidate
            lastResumeWasSearched = false
            return .damaged(offset: at, reason: reason, resume: offset)
        }
        var candidate = at + UInt64(Layout.recordAlignment)
        while candidate < dataEnd {
            if let found = validRecord(at: candidate) {
                offset = candidate
                // Unconfirmed unless linked: it may be record-shaped bytes of a payload.
                lastResumeWasSearched = !linked(found, at: candidate)
                return .damaged(offset: at, reason: reason, resume: candidate)
            }
            candidate += UInt64(Layout.recordAlignment)
        }
        lastResumeWasSearched = true
        offset = dataEnd
        return .damaged(offset: at, reason: reason, resume: nil)
    }

    /// The record at `position` if it is valid and not below the generation so far.
    private func validRecord(at position: UInt64) -> RecordHeader? {
        guard position < dataEnd, isPlausibleHeader(at: position),
            case .record(let header) = decodeRecord(in: file, at: position, maxGeneration: maxGeneration),
            header.generation >= lastGeneration
        else { return nil }
        return header
    }

    /// Whether the valid record `header` at `position` is tied to the log around it, as a
    /// writer's records are and record-shaped bytes in a payload almost never: it continues
    /// a stream read so far (its `previous` is that stream's latest record), or the record
    /// right after it is valid and either points back at it or continues a stream read so
    /// far (a stream opening followed by its first chunk, say).
    private func linked(_ header: RecordHeader, at position: UInt64) -> Bool {
        if header.stream != 0, header.previous != 0, latestOfStream[header.stream] == header.previous { return true }
        let next = position + UInt64(header.alignedSize)
        guard let following = validRecord(at: next), following.stream != 0 else { return false }
        return following.previous == position || latestOfStream[following.stream] == following.previous
    }

    private func isZeroWord(at position: UInt64) -> Bool {
        let start = Int(position)
        if start + 8 <= file.count { return file.loadUnaligned(fromByteOffset: start, as: UInt64.self) == 0 }
        return file[start...].allSatisfy { $0 == 0 }
    }

    /// One past the last non-zero byte in `start ..< limit` (or `start`), a word at a time:
    /// the preallocated zeros after the log can be hundreds of megabytes.
    static func dataLength(_ file: UnsafeRawBufferPointer, from start: Int, to limit: Int) -> Int {
        var last = max(start, min(limit, file.count))
        while last > start, last % 8 != 0 {
            if file[last - 1] != 0 { return last }
            last -= 1
        }
        while last - 8 >= start, file.loadUnaligned(fromByteOffset: last - 8, as: UInt64.self) == 0 { last -= 8 }
        while last > start, file[last - 1] == 0 { last -= 1 }
        return last
    }

    /// Cheap checks before the checksum, so trying every offset of a damaged stretch does not
    /// checksum garbage lengths (shared with recovery's search past a torn tail).
    private func isPlausibleHeader(at position: UInt64) -> Bool {
        TailVerdict.plausibleHeader(
            file, at: position, minimumGeneration: lastGeneration, maxGeneration: maxGeneration)
    }
}
