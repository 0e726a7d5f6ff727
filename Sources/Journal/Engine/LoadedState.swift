/// The result of reading a journal's headers, latest usable snapshot and log tail: the
/// first half of recovery, shared by writable and read-only opens (FORMAT.md, "Recovery").
struct LoadedState {
    var table = StreamTable()
    var header: FileHeader
    var headerSlot: Int
    var end: UInt64
    var lastGeneration: UInt32 = 0
    var report = RecoveryReport()
    /// Whether the scan stopped at invalid bytes rather than a clean end.
    var stoppedAtInvalid = false
    /// Whether those bytes did not decode as a record (rather than an intact record that
    /// broke a lifecycle rule).
    var stoppedAtUndecodable = false
    /// Whether the scan stopped at 40 zero bytes with more file after them (not at the
    /// file's end): the usual end of the log, looked past all the same (FORMAT.md §5).
    var stoppedAtZeros = false
    /// Snapshots the header slots describe that a compaction's copy skips if their record is
    /// damaged (offset: aligned length): those the scan met damaged and skipped, and those
    /// before the snapshot loaded, which no open step reads.
    var damagedSnapshots: [UInt64: UInt64] = [:]
    /// Where the scan started: the records from here on were checked, and the offsets the
    /// table holds for records before it come from a snapshot, on trust.
    var checkedFrom = Layout.logStart

    /// Reads the two header slots of `file` (the whole file, from offset 0).
    static func pickHeader(_ file: UnsafeRawBufferPointer, path: String) throws(JournalError) -> (
        header: FileHeader, slot: Int, other: FileHeader?, damaged: [String]
    ) {
        if file.isEmpty {
            throw .notAJournal(path: path, reason: "the file is empty (0 bytes)")
        }
        var valid: [(FileHeader, Int)] = []
        var damaged: [String] = []
        var signatures = 0
        var newerVersion: UInt32?
        for slot in 0..<Layout.headerSlotCount {
            let start = slot * Layout.headerSlotSize
            let bytes = UnsafeRawBufferPointer(
                rebasing: file[min(start, file.count)..<min(start + Layout.headerSlotSize, file.count)])
            switch FileHeader.decode(bytes) {
            case .valid(let header):
                signatures += 1
                valid.append((header, slot))
            case .notAJournal:
                damaged.append("header slot \(slotName(slot)) at offset \(start) has no StreamJournal signature")
            case .unsupportedVersion(let version):
                // Fatal only if no slot is a valid current-version header: a writer that
                // upgrades a file rewrites both slots, so one newer slot beside a valid one
                // is a damaged slot (FORMAT.md, "File header").
                signatures += 1
                newerVersion = max(newerVersion ?? 0, version)
                damaged.append("header slot \(slotName(slot)) at offset \(start) claims format version \(version)")
            case .invalid(let reason):
                signatures += 1
                damaged.append("header slot \(slotName(slot)) at offset \(start): \(reason)")
            }
        }
        if signatures == 0 {
            throw .notAJournal(path: path, reason: "no StreamJournal signature at offset 0 (\(file.count) bytes)")
        }
        if valid.isEmpty, let newerVersion {
            throw .unsupportedVersion(path: path, found: newerVersion, supported: Layout.formatVersion)
        }
        guard let best = valid.max(by: { $0.0.sequence < $1.0.sequence }) else {
            throw .corruption(
                path: path, offset: 0, detail: "both header slots are damaged: " + damaged.joined(separator: "; "))
        }
        if file.count < Int(Layout.logStart) {
            throw .corruption(
                path: path, offset: UInt64(file.count),
                detail: "the file is \(file.count) bytes, shorter than the \(Layout.logStart)-byte header area")
        }
        let other = valid.first { $0.1 != best.1 }?.0
        return (best.0, best.1, other, damaged)
    }

    /// Loads the index: header, then the newest usable snapshot, then every record after it.
    /// Throws `corruption` when the log is invalid before the header's checkpoint.
    static func load(_ file: UnsafeRawBufferPointer, path: String) throws(JournalError) -> LoadedState {
        let outcome = rereadingWhileHeaderMoves(file, path: path) {
            if case .failure(.corruption) = $0 { true } else { false }
        } attempt: {
            Result { () throws(JournalError) in try loadOnce(file, path: path) }
        }
        return try outcome.get()
    }

    /// Runs `attempt` over `file` again, at most three times in all, while its result shows
    /// damage and the current header's sequence changed meanwhile; returns the last result.
    ///
    /// A reader without the writer lock (a read-only open, `verify`) can read one header and
    /// then meet records a new writer wrote under the next: the header moved, so that was a
    /// race, not damage, and a second look settles it. When the header did not move, the
    /// damage stands. A writable open holds the lock, so for it nothing moves.
    static func rereadingWhileHeaderMoves<Outcome>(
        _ file: UnsafeRawBufferPointer, path: String, damaged: (Outcome) -> Bool, attempt: () -> Outcome
    ) -> Outcome {
        var attempts = 0
        while true {
            let before = try? pickHeader(file, path: path).header.sequence
            let outcome = attempt()
            attempts += 1
            guard damaged(outcome), attempts < 3, before != nil,
                (try? pickHeader(file, path: path).header.sequence) != before
            else { return outcome }
        }
    }

    /// One attempt of `load`.
    private static func loadOnce(_ file: UnsafeRawBufferPointer, path: String) throws(JournalError) -> LoadedState {
        let picked = try pickHeader(file, path: path)
        var state = LoadedState(header: picked.header, headerSlot: picked.slot, end: Layout.logStart)
        state.report.headerSlot = picked.slot
        state.report.damagedHeaderSlots = picked.damaged
        let maxGeneration = picked.header.generation

        // Snapshots the headers point at: the current slot's first, then the other's.
        var candidates: [(UInt64, UInt64)] = []
        for header in [picked.header, picked.other].compactMap({ $0 }) where header.snapshotOffset != 0 {
            if !candidates.contains(where: { $0.0 == header.snapshotOffset }) {
                candidates.append((header.snapshotOffset, header.snapshotLength))
            }
        }
        var scanner = LogScanner(log: file, from: Layout.logStart, maxGeneration: maxGeneration)
        for (offset, length) in candidates {
            switch loadSnapshot(file, at: offset, length: length, maxGeneration: maxGeneration) {
            case .success(let (table, generation)):
                state.table = table
                state.report.snapshotOffset = offset
                state.checkedFrom = offset + length
                scanner = LogScanner(
                    log: file, from: offset + length, maxGeneration: maxGeneration, lastGeneration: generation)
            case .failure(let problem):
                state.report.snapshotProblems.append("snapshot at offset \(offset): \(problem.detail)")
                continue
            }
            break
        }
        // A full scan may meet a damaged snapshot the headers describe; its extent is known,
        // and it is derived data, so it is skipped rather than ending the log there.
        let knownSnapshots = Dictionary(candidates, uniquingKeysWith: { first, _ in first })
        // A compaction's copy reads the log from its start, so it also meets the snapshots
        // before the one loaded, which this open never read: one the other slot describes
        // may be damaged too, and the copy failed on it. Listed, it is skipped if damaged.
        for (offset, length) in candidates
        where offset + length <= state.checkedFrom && offset + length <= picked.header.checkpointEnd {
            state.damagedSnapshots[offset] = length
        }

        scanLoop: while true {
            switch scanner.next() {
            case .record(let header, let body, let offset):
                do {
                    try state.table.apply(header, body: body, at: offset)
                } catch {
                    state.end = offset
                    state.stoppedAtInvalid = true
                    state.report.tornTailReason = error.detail
                    break scanLoop
                }
                state.report.recordsScanned += 1
            case .end(let offset):
                state.end = offset
                state.stoppedAtZeros = offset + UInt64(RecordField.size) <= UInt64(file.count)
                break scanLoop
            case .invalid(let offset, let reason):
                // A snapshot the file ends inside is not skipped: past it is past the file (a
                // journal cut short), which the checkpoint check below reports.
                if let length = knownSnapshots[offset], offset + length <= picked.header.checkpointEnd,
                    offset + length <= UInt64(file.count)
                {
                    state.damagedSnapshots[offset] = length
                    scanner.skip(to: offset + length)
                    continue
                }
                state.end = offset
                state.stoppedAtInvalid = true
                state.stoppedAtUndecodable = true
                state.report.tornTailReason = reason
                break scanLoop
            }
        }
        state.lastGeneration = scanner.lastGeneration
        if state.end < picked.header.checkpointEnd {
            // A file shorter than its durable part was cut (a partial copy, a truncation):
            // said first, since the record it cuts short fails too, and "damage" misleads.
            let detail =
                UInt64(file.count) < picked.header.checkpointEnd
                ? "the file ends at \(file.count) but records up to \(picked.header.checkpointEnd) were durable "
                    + "(truncated file?)" + (state.report.tornTailReason.map { "; \($0)" } ?? "")
                : state.report.tornTailReason.map {
                    "\($0), before the durable checkpoint at \(picked.header.checkpointEnd) (damage, not a write torn by a crash)"
                } ?? "the log ends before the durable checkpoint at \(picked.header.checkpointEnd)"
            throw .corruption(path: path, offset: state.end, detail: detail)
        }
        if state.stoppedAtInvalid || state.stoppedAtZeros {
            try state.classifyTail(file, path: path, damagedSlots: picked.damaged)
        }
        state.report.logEnd = state.end
        return state
    }

    /// Decides whether the invalid bytes at `end` (at or after the checkpoint) are a torn tail
    /// or damage (FORMAT.md §5); throws `corruption` for damage, so nothing is discarded
    /// silently.
    private mutating func classifyTail(
        _ file: UnsafeRawBufferPointer, path: String, damagedSlots: [String]
    ) throws(JournalError) {
        let reason =
            stoppedAtZeros ? "zero bytes where a record should start" : report.tornTailReason ?? "invalid record"
        // A reader racing a live writer finds the record at `end` half-written (or not yet
        // begun: zeros).
        guard
            let verdict = TailVerdict.examineBesideWriter(
                file, from: end, undecodable: stoppedAtUndecodable || stoppedAtZeros,
                headerGeneration: header.generation, minimumGeneration: lastGeneration,
                zeroRunLimit: stoppedAtZeros ? TailVerdict.cleanEndZeroRunLimit : TailVerdict.zeroRunLimit, path: path,
                latestOfStream: { [table] in table.lastOffset(ofNumber: $0) })
        else { return }
        switch verdict {
        case .torn:
            // Zeros with nothing intact after them: the clean end of the log, no torn tail.
            if !stoppedAtZeros { report.tornTailOffset = end }
        case .tornBeforeLaterWrites(let later):
            report.tornTailOffset = end
            report.tornTailReason =
                "\(reason); a sector of it was never written (a power loss), and the unsynced records from offset \(later) that the disk wrote before it are dropped with it"
        case .newerGeneration(let offset, let generation):
            let slots = damagedSlots.isEmpty ? "" : " (\(damagedSlots.joined(separator: "; ")))"
            throw .corruption(
                path: path, offset: UInt64(headerSlot == 0 ? Layout.headerSlotSize : 0),
                detail:
                    "the record at offset \(offset) was written by writer generation \(generation), but the newest valid header slot (\(slotName(headerSlot))) is of generation \(header.generation): the newer header slot is damaged\(slots); nothing was changed"
            )
        case .damaged(let intact):
            let follows =
                intact == end
                ? "the record there is intact (its checksum matches) but breaks a validity rule"
                : "an intact record follows at offset \(intact), so this is damage, not a write torn by a crash"
            throw .corruption(path: path, offset: end, detail: "\(reason); \(follows); nothing was changed")
        }
    }

    /// Reads one snapshot record and the stream table it holds.
    static func loadSnapshot(
        _ file: UnsafeRawBufferPointer, at offset: UInt64, length: UInt64, maxGeneration: UInt32
    ) -> Result<(StreamTable, UInt32), DecodeError> {
        let header: RecordHeader
        switch decodeRecord(in: file, at: offset, maxGeneration: maxGeneration) {
        case .record(let decoded): header = decoded
        case .invalid(let reason): return .failure(DecodeError(offset: 0, detail: "not a valid record: \(reason)"))
        case .end: return .failure(DecodeError(offset: 0, detail: "not a valid record: zero bytes"))
        }
        guard header.type == .snapshot, UInt64(header.alignedSize) == length else {
            return .failure(DecodeError(offset: 0, detail: "the record there is not the snapshot the header describes"))
        }
        let body = UnsafeRawBufferPointer(
            rebasing: file[Int(offset) + RecordField.size..<Int(offset) + RecordField.size + Int(header.bodyLength)])
        let snapshot: SnapshotBody
        do { snapshot = try SnapshotBody.decode(body) } catch { return .failure(error) }
        guard snapshot.logEnd == offset else {
            return .failure(
                DecodeError(offset: 0, detail: "it covers the log up to \(snapshot.logEnd), not up to itself"))
        }
        var table: StreamTable
        do {
            table = try StreamTable(uniqueEntries: snapshot.streams)
        } catch {
            // Two entries with one number made the second replace the first in the number
            // index: records after the snapshot then went to the wrong stream, and the next
            // writable open wrote records that failed every open after it.
            return .failure(DecodeError(offset: 0, detail: error.detail))
        }
        table.raiseHighestNumber(to: snapshot.highestStreamNumber)
        return .success((table, header.generation))
    }
}

/// "A" or "B".
func slotName(_ slot: Int) -> String { slot == 0 ? "A" : "B" }
