/// The result of `Journal.verify(path:)`: every problem found, each with its byte offset.
public struct VerificationReport: Sendable, Equatable {
    /// One rule broken at one place.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        /// Byte offset in the file where the problem starts.
        public var offset: UInt64
        /// Which rule was broken, in words.
        public var detail: String
        /// "offset N: detail".
        public var description: String { "offset \(offset): \(detail)" }
    }

    /// Everything wrong, in file order. Empty means the file is valid.
    public var problems: [Problem] = []
    /// Valid records read.
    public var records = 0
    /// Streams found, and how many are in each status.
    public var streams = 0
    /// Streams per status.
    public var streamsByStatus: [StreamStatus: Int] = [:]
    /// Snapshot records found.
    public var snapshots = 0
    /// Where the valid log ends.
    public var logEnd: UInt64 = 0
    /// The file's size (the log is preallocated, so usually larger than `logEnd`).
    public var fileSize: UInt64 = 0
    /// The durable checkpoint of the current header.
    public var checkpointEnd: UInt64 = 0
    /// Why the log ends where it does when that is not a clean end: a torn tail after the
    /// checkpoint, which recovery drops; not a problem.
    public var tailNote: String?

    /// True when no problem was found.
    public var isClean: Bool { problems.isEmpty }
}

extension Journal {
    /// Checks every byte that carries meaning: both header slots (checksum, reserved bytes),
    /// every record (bounds, checksum, type, padding, generation order), the stream lifecycle
    /// (open, chunks in index order, one terminal record), every snapshot against the state
    /// rebuilt from the log before it, and the headers' pointers. Reads without the writer
    /// lock, so it works beside a running writer (records still being written count as tail,
    /// and problems found while a new writer took over are checked again).
    ///
    /// Throws only when the file cannot be read at all (I/O, not a journal, newer version);
    /// damage is reported in the result.
    public static func verify(path: String) throws(JournalError) -> VerificationReport {
        let fd = try JournalEngine.io("open", path) { () throws(Errno) in try FileDescriptor.open(path, .readOnly) }
        defer { fd.close() }
        let size = try JournalEngine.regularFileSize(fd, path: path)
        if size == 0 { throw .notAJournal(path: path, reason: "the file is empty (0 bytes)") }
        let region = try JournalEngine.io("mmap", path) { () throws(Errno) in
            try MappedRegion(fd: fd, length: Int(size), writable: false)
        }
        let bytes = region.bytes(at: 0, count: Int(size))
        // A file without the signature in either slot is some other file, not a damaged
        // journal (FORMAT.md §8 step 1): say so rather than list three "problems".
        do {
            _ = try LoadedState.pickHeader(bytes, path: path)
        } catch {
            guard case .corruption = error else { throw error }
        }
        // Without the writer lock a writer can restart meanwhile: look again if the header moved.
        return LoadedState.rereadingWhileHeaderMoves(bytes, path: path) {
            !$0.isClean
        } attempt: {
            verify(bytes, path: path)
        }
    }

    static func verify(_ file: UnsafeRawBufferPointer, path: String) -> VerificationReport {
        var report = VerificationReport()
        report.fileSize = UInt64(file.count)
        var headers: [FileHeader] = []
        for slot in 0..<Layout.headerSlotCount {
            let start = slot * Layout.headerSlotSize
            let bytes = UnsafeRawBufferPointer(
                rebasing: file[min(start, file.count)..<min(start + Layout.headerSlotSize, file.count)])
            switch FileHeader.decode(bytes) {
            case .valid(let header):
                headers.append(header)
                if bytes.count < Layout.headerSlotSize {
                    report.problems.append(
                        .init(offset: UInt64(start + bytes.count), detail: "header slot is truncated"))
                } else if let bad = bytes[HeaderField.reserved.offset..<HeaderField.reserved.end].firstIndex(
                    where: { $0 != 0 }) ?? bytes[HeaderField.size...].firstIndex(where: { $0 != 0 })
                {
                    report.problems.append(
                        .init(
                            offset: UInt64(start + bad),
                            detail: "header slot \(slotName(slot)) has non-zero bytes in its reserved area"))
                }
            case .notAJournal:
                report.problems.append(
                    .init(offset: UInt64(start), detail: "header slot \(slotName(slot)) has no signature"))
            case .unsupportedVersion(let version):
                report.problems.append(
                    .init(offset: UInt64(start), detail: "header slot \(slotName(slot)) is version \(version)"))
            case .invalid(let reason):
                report.problems.append(.init(offset: UInt64(start), detail: "header slot \(slotName(slot)): \(reason)"))
            }
        }
        guard let header = headers.max(by: { $0.sequence < $1.sequence }) else {
            report.problems.append(.init(offset: 0, detail: "no valid header slot; nothing else can be checked"))
            return report
        }
        report.checkpointEnd = header.checkpointEnd
        var table = StreamTable()
        var snapshots: [UInt64: UInt64] = [:]
        var scanner = LogScanner(log: file, from: Layout.logStart, maxGeneration: header.generation)
        /// Torn tail or damage, for the log ending at `offset` at or after the checkpoint.
        func classifyTail(at offset: UInt64, reason: String, zeros: Bool) {
            // A live writer finished the record meanwhile: the log just ended there.
            guard
                let verdict = TailVerdict.examineBesideWriter(
                    file, from: offset, undecodable: true, headerGeneration: header.generation,
                    minimumGeneration: scanner.lastGeneration,
                    zeroRunLimit: zeros ? TailVerdict.cleanEndZeroRunLimit : TailVerdict.zeroRunLimit, path: path,
                    latestOfStream: { table.lastOffset(ofNumber: $0) })
            else { return }
            switch verdict {
            case .torn:
                // Zeros with nothing intact after them: the clean end of the log.
                if !zeros { report.tailNote = "torn tail at offset \(offset): \(reason)" }
            case .tornBeforeLaterWrites(let later):
                report.tailNote =
                    "torn tail at offset \(offset): \(reason); a sector of it was never written (a power loss), "
                    + "and the unsynced records from offset \(later), which the disk wrote before it, go with it"
            case .damaged(let intact):
                report.problems.append(
                    .init(
                        offset: offset,
                        detail:
                            "\(reason); an intact record follows at offset \(intact), so this is damage, not a torn write"
                    ))
            case .newerGeneration(let at, let generation):
                report.problems.append(
                    .init(
                        offset: at,
                        detail:
                            "record of writer generation \(generation), newer than the current header's \(header.generation): the newer header slot is damaged"
                    ))
            }
        }
        scan: while true {
            switch scanner.next() {
            case .record(let record, let body, let offset):
                if record.type == .snapshot {
                    snapshots[offset] = UInt64(record.alignedSize)
                    report.snapshots += 1
                    switch snapshotMismatch(body, at: offset, against: table) {
                    case .failure(let mismatch):
                        report.problems.append(.init(offset: offset, detail: "snapshot: \(mismatch.detail)"))
                    case .success(let highest):
                        // As an open that loads it does: a compacted file's snapshot carries
                        // the numbers of streams it dropped (§7).
                        table.raiseHighestNumber(to: highest)
                    }
                }
                do {
                    try table.apply(record, body: body, at: offset)
                } catch {
                    report.problems.append(.init(offset: offset, detail: error.detail))
                    report.logEnd = offset
                    break scan
                }
                report.records += 1
            case .end(let offset):
                report.logEnd = offset
                // Zeros where a record should start, with more file after them, are looked
                // past as invalid bytes are (FORMAT.md §5): records the disk returned zeros
                // in front of were dropped silently, and a writable open erased them.
                if offset >= header.checkpointEnd && offset + UInt64(RecordField.size) <= UInt64(file.count) {
                    classifyTail(at: offset, reason: "zero bytes where a record should start", zeros: true)
                }
                break scan
            case .invalid(let offset, let reason):
                report.logEnd = offset
                if offset < header.checkpointEnd {
                    report.problems.append(.init(offset: offset, detail: "\(reason), before the durable checkpoint"))
                    break scan
                }
                classifyTail(at: offset, reason: reason, zeros: false)
                break scan
            }
        }
        if report.logEnd < header.checkpointEnd, !report.problems.contains(where: { $0.offset == report.logEnd }) {
            report.problems.append(
                .init(
                    offset: report.logEnd,
                    detail: "the log ends before the durable checkpoint at \(header.checkpointEnd)"))
        }
        // Only where the scan got to, and once per offset: past damage that ended the scan the
        // snapshot was never read, and the damage is the problem already reported (a file
        // damaged at one record was reported twice, the intact snapshot after it blamed).
        for candidate in headers where candidate.snapshotOffset != 0 && candidate.snapshotOffset < report.logEnd {
            if snapshots[candidate.snapshotOffset] != candidate.snapshotLength,
                !report.problems.contains(where: { $0.offset == candidate.snapshotOffset })
            {
                report.problems.append(
                    .init(
                        offset: candidate.snapshotOffset,
                        detail:
                            "a header points at a snapshot of \(candidate.snapshotLength) bytes here, which the log does not hold"
                    ))
            }
        }
        report.streams = table.live.count
        for entry in table.live { report.streamsByStatus[entry.status, default: 0] += 1 }
        report.problems.sort { $0.offset < $1.offset }
        return report
    }

    /// Why a snapshot body differs from the state the log rebuilt up to it, or, when it
    /// matches, its highest stream number.
    private static func snapshotMismatch(_ body: UnsafeRawBufferPointer, at offset: UInt64, against table: StreamTable)
        -> Result<UInt32, SnapshotMismatch>
    {
        let snapshot: SnapshotBody
        do { snapshot = try SnapshotBody.decode(body) } catch {
            return .failure(SnapshotMismatch(detail: "\(error.detail) at body offset \(error.offset)"))
        }
        if snapshot.logEnd != offset {
            return .failure(SnapshotMismatch(detail: "it claims to cover the log up to \(snapshot.logEnd)"))
        }
        // Higher is allowed: compaction keeps the numbers of the streams it dropped used.
        if snapshot.highestStreamNumber < table.highestNumber {
            return .failure(
                SnapshotMismatch(
                    detail:
                        "highest stream number \(snapshot.highestStreamNumber), the log says \(table.highestNumber)"))
        }
        // The check an open that loads it makes: with an entry repeated in place of another,
        // the count and each entry's lookup by id still matched.
        do { _ = try StreamTable(uniqueEntries: snapshot.streams) } catch {
            return .failure(SnapshotMismatch(detail: error.detail))
        }
        if snapshot.streams.count != table.live.count {
            return .failure(
                SnapshotMismatch(detail: "\(snapshot.streams.count) streams, the log has \(table.live.count)"))
        }
        for entry in snapshot.streams {
            guard let slot = table.slot(of: entry.id), table[slot] == entry else {
                return .failure(SnapshotMismatch(detail: "stream \"\(entry.id)\" differs from the log"))
            }
        }
        return .success(snapshot.highestStreamNumber)
    }

    /// What `snapshotMismatch` found wrong.
    private struct SnapshotMismatch: Error {
        let detail: String
    }
}
