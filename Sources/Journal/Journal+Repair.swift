#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What `Journal.repair(path:dryRun:)` found and did.
public struct RepairReport: Sendable, Equatable {
    /// A stretch of the file that held no valid record.
    public struct DamagedRegion: Sendable, Equatable, CustomStringConvertible {
        /// Where it starts.
        public var offset: UInt64
        /// How many bytes were skipped before the next valid record (or the end of the data).
        public var length: UInt64
        /// Why the first record there was invalid.
        public var reason: String
        /// True for an index snapshot a header describes: derived data, so nothing was lost
        /// (the repaired journal writes its own snapshots).
        public var isSnapshot = false
        /// "offset N (L bytes): reason".
        public var description: String { "offset \(offset) (\(length) bytes): \(reason)" }
    }

    /// A stream that lost chunks or its end, and is therefore ended as interrupted.
    public struct StreamLoss: Sendable, Equatable {
        /// The stream.
        public var id: StreamID
        /// Chunks 0 ..< chunksKept survive, with their indices unchanged.
        public var chunksKept: Int
        /// Chunks known to be lost (at least; a lost end may hide more).
        public var chunksLost: Int
        /// Payload bytes of readable chunks that had to be dropped because an earlier chunk is
        /// missing (chunk indices never change, so nothing can follow a gap).
        public var droppedPayloadBytes: Int
        /// How the stream had ended, when its terminal record was read; nil when it was lost or
        /// the stream was still open.
        public var originalStatus: StreamStatus?
        /// The reason written into its interrupted record.
        public var reason: String
    }

    /// The journal repaired (or examined, for a dry run).
    public var path: String
    /// True when nothing was written.
    public var dryRun: Bool
    /// False when `verify` found nothing wrong, so there was nothing to repair.
    public var needed = false
    /// What `Journal.verify` reported before the repair.
    public var problems: [VerificationReport.Problem] = []
    /// Stretches of the file that held no valid record, in file order.
    public var damagedRegions: [DamagedRegion] = []
    /// Streams whose stream-open record was read: all of them are in the repaired journal.
    public var streamsKept = 0
    /// Chunks in the repaired journal.
    public var chunksKept = 0
    /// Payload bytes in the repaired journal.
    public var bytesKept = 0
    /// Chunks known to be lost: missing from a stream, dropped after a gap, or belonging to a
    /// stream whose open record was lost. Chunks wholly inside damaged bytes and never
    /// referred to again cannot be counted; `damagedBytes` bounds them.
    public var chunksLost = 0
    /// Payload bytes of readable chunks that could not be kept.
    public var droppedPayloadBytes = 0
    /// Streams ended as interrupted because they lost chunks or their end.
    public var streamLosses: [StreamLoss] = []
    /// Stream numbers with records whose stream-open record was lost (their id is unknown).
    public var orphanStreamNumbers: [UInt32] = []
    /// Streams left out as deleted although no deleted record was read: their id was opened
    /// again, after damaged bytes, which only a deletion allows (its record was in the damage).
    public var streamsDeletedByReopening: [StreamID] = []
    /// Valid records that broke a lifecycle rule and were left out (e.g. a second open of a
    /// stream number, a record after a stream's end).
    public var recordsSkipped = 0
    /// Where the damaged file was kept (after a repair).
    public var damagedCopyPath: String?

    /// Bytes in damaged regions that may have held records of streams (damaged snapshots
    /// not counted).
    public var damagedBytes: UInt64 { damagedRegions.reduce(0) { $0 + ($1.isSnapshot ? 0 : $1.length) } }

    /// True when every stream record that was read is in the repaired journal and no region
    /// that may have held one is damaged.
    public var nothingLost: Bool {
        chunksLost == 0 && damagedBytes == 0 && streamLosses.isEmpty && orphanStreamNumbers.isEmpty
    }
}

extension Journal {
    /// Salvages every valid record of a damaged journal into a new file.
    ///
    /// The file is read record by record; after an invalid record the scan tries each
    /// following 8-byte-aligned offset for a valid one (the per-record rules and
    /// non-decreasing generations still apply). Each stream keeps its contiguous chunks from
    /// index 0, so no chunk index changes; a stream that lost a chunk or its end is ended as
    /// interrupted with a reason naming the loss. The result is written through the public
    /// API to `PATH.repaired` and checked with `verify`; then the damaged file is kept as
    /// `PATH.damaged-<UTC time>` (a hard link, so `PATH` never disappears) and the repaired
    /// one is renamed to `PATH`. Record timestamps are not kept: the rewritten records carry
    /// the time of the repair.
    ///
    /// Needs the writer lock: throws `locked` while a writer has the file open. A dry run
    /// takes no lock, writes nothing, and reports what a repair would do. A file that
    /// verifies clean is left alone (`needed` is false).
    public static func repair(path: String, dryRun: Bool = false) throws(JournalError) -> RepairReport {
        // The file's own name, as a writer resolves it: renaming over a symbolic link would
        // replace the link, not the journal it names (FORMAT.md §9).
        let filePath = FileSystem.resolvingLinks(path)
        var fd: FileDescriptor
        var locked = false
        while true {
            fd = try JournalEngine.io("open", path) { () throws(Errno) in
                try FileDescriptor.open(filePath, dryRun ? .readOnly : .readWrite)
            }
            if dryRun { break }
            do throws(JournalError) {
                locked = try JournalEngine.io("flock", path) { () throws(Errno) in try fd.tryLockExclusive() }
            } catch {
                fd.close()
                throw error
            }
            if !locked {
                let pid = JournalEngine.headerPID(fd)
                fd.close()
                throw .locked(path: path, pid: pid)
            }
            // A compaction may have renamed a new file over the name between the open and the
            // lock: the lock must be on the file the name holds now, as a writer's is, or the
            // repair would rename its copy of the replaced file over the live one.
            if let mine = try? fd.identity(), mine == (try? FileSystem.identity(of: filePath)) { break }
            fd.unlock()
            locked = false
            fd.close()
        }
        defer {
            if locked { fd.unlock() }
            fd.close()
        }
        let file = try MappedFile(path: path, descriptor: fd)
        let bytes = file.bytes
        // One generation above the newest valid slot: when the newest slot is damaged, the
        // other one is at most one writer behind (slots alternate, and only a writable open
        // raises the generation), and the records of that writer must be kept. No higher:
        // record-shaped bytes inside a payload could otherwise carry any generation, and the
        // real records after them would fail the rule that generations never decrease.
        var maxGeneration = UInt32.max
        do {
            // Only when a slot is damaged: with both valid, the newest is the current writer's,
            // and one record-shaped region of the next generation in a payload made every real
            // record after it "below the previous record's generation", and they were dropped.
            let picked = try LoadedState.pickHeader(bytes, path: path)
            let generation = picked.header.generation
            maxGeneration = generation == .max || picked.damaged.isEmpty ? generation : generation + 1
        } catch {
            // Both header slots damaged: the records still say which generation wrote them.
            guard case .corruption = error else { throw error }
        }
        let verification = Journal.verify(bytes, path: path)
        var salvage = Salvage(file: bytes, written: file.dataEnd, maxGeneration: maxGeneration)
        salvage.run()
        var report = salvage.report(path: path, dryRun: dryRun)
        report.problems = verification.problems
        report.needed = !verification.isClean
        if dryRun || !report.needed { return report }

        let repairedPath = filePath + ".repaired"
        // A leftover of an interrupted repair: only a repair holding this journal's lock
        // writes that name, and the lock is ours.
        try? FileSystem.unlink(repairedPath)
        do throws(JournalError) {
            try salvage.write(to: repairedPath)
            let check = try Journal.verify(path: repairedPath)
            if let problem = check.problems.first {
                throw .corruption(
                    path: repairedPath, offset: problem.offset,
                    detail: "the repaired copy does not verify (\(problem.detail)); \(path) was left unchanged")
            }
        } catch {
            // A copy that failed (a full disk) or does not verify is no use to anyone: it stayed
            // beside the journal until the next repair.
            try? FileSystem.unlink(repairedPath)
            throw error
        }
        var damagedPath = "\(filePath).damaged-\(compactUTC(Clock.wallMicroseconds()))"
        var attempt = 1
        while true {
            do {
                try FileSystem.link(filePath, damagedPath)
                break
            } catch {
                guard error == .exists, attempt < 100 else {
                    throw .io(operation: "link to \(damagedPath)", path: path, errno: error)
                }
                attempt += 1
                damagedPath = "\(filePath).damaged-\(compactUTC(Clock.wallMicroseconds()))-\(attempt)"
            }
        }
        try JournalEngine.io("rename \(repairedPath) to", path) { () throws(Errno) in
            _ = try retryingOnInterrupt { rename(repairedPath, filePath) }
        }
        try JournalEngine.io("fsync directory", path) { () throws(Errno) in
            try FileSystem.syncDirectory(containing: filePath)
        }
        report.damagedCopyPath = damagedPath
        return report
    }
}

/// `YYYYMMDDTHHMMSSZ` for a timestamp in microseconds: sortable and safe in a file name.
func compactUTC(_ micros: Int64) -> String {
    var seconds = time_t(micros / 1_000_000)
    var parts = tm()
    gmtime_r(&seconds, &parts)
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T"
        + "\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
}

/// The salvage plan: which records of the damaged file go into the repaired one, in log order.
private struct Salvage {
    /// One write into the repaired journal.
    /// Steps name streams by number: a deleted stream's id may be opened again later.
    enum Step {
        case open(UInt32, StreamID, metadata: [String: String])
        /// A chunk's payload, at this offset and length of the damaged file.
        case chunk(UInt32, bodyOffset: Int, length: Int)
        case finish(UInt32, StreamStatus, reason: String?)
    }

    /// What the scan learned about one stream.
    struct StreamState {
        var id: StreamID
        /// Chunks kept so far (the next index that fits).
        var count: UInt32 = 0
        /// Offset of the latest kept record (what the next record's `previous` must be).
        var lastKept: UInt64
        /// Offset of the latest record of this stream read at all.
        var lastSeen: UInt64
        var bytesKept = 0
        /// A terminal record was kept.
        var ended = false
        /// A record is missing: nothing after it can be kept.
        var broken = false
        /// Offset of the first record that could not be kept.
        var firstDropped: UInt64?
        /// One past the highest chunk index any record of the stream mentions (64 bits: an
        /// index of `UInt32.max` is a valid field value, one past it is not a `UInt32`).
        var knownCount: UInt64 = 0
        var droppedPayload = 0
        /// The terminal record read after the break, if any.
        var originalEnd: StreamStatus?
    }

    let file: UnsafeRawBufferPointer
    let maxGeneration: UInt32
    var steps: [Step] = []
    var streams: [UInt32: StreamState] = [:]
    var ids: Set<StreamID> = []
    var highestNumber: UInt32 = 0
    var damaged: [RepairReport.DamagedRegion] = []
    var orphans: [UInt32: (chunks: Int, bytes: Int)] = [:]
    /// Streams a deleted record removed: none of their steps are written.
    var deleted: Set<UInt32> = []
    /// Of those, streams whose deleted record was lost: the same id opened again after damage.
    var deletedForLostRecord: Set<UInt32> = []
    /// Since the last damage, the scan is on records a search found inside it, unconfirmed
    /// until one continues a stream read before.
    var searching = false
    var skipped = 0
    var losses: [RepairReport.StreamLoss] = []

    /// Where the file's written bytes end at the latest (`MappedFile.dataEnd`).
    let written: UInt64

    init(file: UnsafeRawBufferPointer, written: UInt64, maxGeneration: UInt32) {
        self.file = file
        self.written = written
        self.maxGeneration = maxGeneration
    }

    mutating func run() {
        var scanner = SalvageScanner(
            file: file, from: Layout.logStart, maxGeneration: maxGeneration,
            knownSnapshots: SalvageScanner.snapshotExtents(in: file), written: written)
        scan: while true {
            switch scanner.next() {
            case .record(let header, let body, let offset):
                take(header, body: body, at: offset)
            case .damaged(let offset, let reason, let resume):
                damaged.append(.init(offset: offset, length: (resume ?? scanner.dataEnd) - offset, reason: reason))
                searching = scanner.lastResumeWasSearched
            case .zeroGap(let offset, let length):
                damaged.append(.init(offset: offset, length: length, reason: "zero bytes inside the log"))
            case .damagedSnapshot(let offset, let length, let reason):
                damaged.append(
                    .init(offset: offset, length: length, reason: "index snapshot: \(reason)", isSnapshot: true))
            case .end:
                break scan
            }
        }
        finishBrokenStreams()
    }

    /// Applies the lifecycle rules (FORMAT.md §5 rule 8) per stream, keeping what fits.
    private mutating func take(_ header: RecordHeader, body: UnsafeRawBufferPointer, at offset: UInt64) {
        switch header.type {
        case .snapshot, .padding:
            // Derived data and filler: the repaired journal writes its own snapshots.
            return
        case .streamOpen:
            guard header.stream > highestNumber, header.chunkIndex == 0, header.previous == 0,
                body.count <= StreamOpenBody.maxMetadataBytes, let open = try? StreamOpenBody.decode(body),
                StreamID.problem(with: open.id) == nil
            else {
                skipped += 1
                return
            }
            let id = StreamID(trusted: open.id)
            if ids.contains(id) {
                // An id opens again only after its stream was deleted. With damage between the
                // earlier stream's last record and this one, its deleted record may be what was
                // lost: the earlier stream is gone (keeping it revived deleted data and dropped
                // the live stream). Without damage in between, or when this opening was found
                // by searching inside a damaged record (where a payload may hold record-shaped
                // bytes, which would delete a real stream), it is not taken for the writer's.
                guard !searching, let (earlier, state) = streams.first(where: { $0.value.id == id }),
                    damaged.contains(where: { !$0.isSnapshot && $0.offset > state.lastSeen && $0.offset < offset })
                else {
                    skipped += 1
                    return
                }
                streams[earlier] = nil
                ids.remove(id)
                deleted.insert(earlier)
                deletedForLostRecord.insert(earlier)
            }
            // A deleted record never precedes its stream's opening: one for this number before
            // it came from damaged bytes, and must not drop the stream.
            deleted.remove(header.stream)
            highestNumber = header.stream
            ids.insert(id)
            streams[header.stream] = StreamState(id: id, lastKept: offset, lastSeen: offset)
            steps.append(.open(header.stream, id, metadata: open.metadata))
        case .deleted:
            // Deleting is what the user wanted: honoured even when records before it were
            // lost, since they belonged to the deleted stream anyway. But only a record that
            // fits the stream (FORMAT.md §5 rule 8), or, when records of the stream may have
            // been lost (it broke, or damaged bytes lie between its last record read and
            // this one), one that points past the last kept record: the scan resumes inside
            // damaged records, and record-shaped bytes in a payload deleted an unrelated,
            // intact stream.
            if let stream = streams[header.stream] {
                let exact = header.chunkIndex == stream.count && header.previous == stream.lastKept
                let mayHaveLost =
                    stream.broken || stream.originalEnd != nil
                    || damaged.contains { !$0.isSnapshot && $0.offset > stream.lastSeen && $0.offset < offset }
                let afterLoss =
                    mayHaveLost && header.chunkIndex >= stream.count && header.previous > stream.lastKept
                    && header.previous < offset
                guard exact || afterLoss, body.isEmpty else {
                    skipped += 1
                    return
                }
                streams[header.stream] = nil
                ids.remove(stream.id)
            } else if !body.isEmpty {
                skipped += 1
                return
            }
            deleted.insert(header.stream)
        case .chunk, .completed, .failed, .cancelled, .interrupted:
            guard var stream = streams[header.stream] else {
                var orphan = orphans[header.stream] ?? (0, 0)
                if header.type == .chunk {
                    orphan.chunks += 1
                    orphan.bytes += body.count
                }
                orphans[header.stream] = orphan
                return
            }
            defer { streams[header.stream] = stream }
            if stream.ended || stream.originalEnd != nil {
                skipped += 1  // nothing follows a terminal record
                return
            }
            stream.lastSeen = offset
            var reason: String?
            if header.type != .chunk {
                guard let decoded = terminalReason(body) else {
                    skipped += 1  // a terminal record whose reason is not UTF-8 is invalid
                    return
                }
                reason = decoded
            }
            // A chunk at index 2³² − 1 is never kept (FORMAT.md §5), only counted as lost.
            let fits =
                !stream.broken && header.chunkIndex == stream.count && header.previous == stream.lastKept
                && (header.type != .chunk || header.chunkIndex < UInt32.max)
            // A record that continues a stream read before is the writer's: the scan is back
            // on real records.
            if fits { searching = false }
            if !fits && !stream.broken && header.chunkIndex < stream.count {
                skipped += 1  // an index already taken: not part of this stream's sequence
                return
            }
            if header.type == .chunk {
                stream.knownCount = max(stream.knownCount, UInt64(header.chunkIndex) + 1)
                if fits {
                    steps.append(.chunk(header.stream, bodyOffset: Int(offset) + RecordField.size, length: body.count))
                    stream.count += 1
                    stream.lastKept = offset
                    stream.bytesKept += body.count
                } else {
                    stream.broken = true
                    stream.firstDropped = stream.firstDropped ?? offset
                    stream.droppedPayload += body.count
                }
            } else {
                stream.knownCount = max(stream.knownCount, UInt64(header.chunkIndex))
                if fits {
                    steps.append(.finish(header.stream, header.type.terminalStatus!, reason: reason))
                    stream.ended = true
                    stream.lastKept = offset
                } else {
                    stream.broken = true
                    stream.firstDropped = stream.firstDropped ?? offset
                    stream.originalEnd = header.type.terminalStatus
                }
            }
        }
    }

    /// A terminal record's reason: `.some(nil)` for an empty body, the text for UTF-8, and
    /// nil when the body is not UTF-8 (which makes the record invalid).
    private func terminalReason(_ body: UnsafeRawBufferPointer) -> String?? {
        if body.isEmpty { return .some(nil) }
        guard let text = String(validating: body, as: UTF8.self) else { return nil }
        return .some(text)
    }

    /// Ends as interrupted every stream that lost chunks or may have lost its end.
    private mutating func finishBrokenStreams() {
        for number in streams.keys.sorted() {
            let stream = streams[number]!
            if stream.ended { continue }
            let region = damaged.first { !$0.isSnapshot && $0.offset > stream.lastKept }
            let place = region.map { "in damaged bytes at offset \($0.offset)" }
            let reason: String
            var lost = 0
            if stream.broken {
                lost = max(1, Int(stream.knownCount) - Int(stream.count))
                let location =
                    place ?? "because the record at offset \(stream.firstDropped!) does not follow the stream"
                let chunks =
                    stream.originalEnd != nil
                    ? (lost == 1
                        ? "chunk \(stream.count) was"
                        : "chunks \(stream.count)-\(Int(stream.count) + lost - 1) were")
                    : "chunk \(stream.count) and possibly later ones were"
                let ending = stream.originalEnd.map { "; the stream had ended \($0)" } ?? ""
                reason = "repair: \(chunks) lost \(location)\(ending)"
            } else if let region = damaged.first(where: { !$0.isSnapshot && $0.offset > stream.lastSeen }) {
                reason =
                    "repair: the stream's end may have been lost in damaged bytes at offset \(region.offset) (\(stream.count) chunks kept)"
            } else {
                continue  // still open in the damaged file, with nothing lost: it stays open
            }
            steps.append(.finish(number, .interrupted, reason: reason))
            losses.append(
                .init(
                    id: stream.id, chunksKept: Int(stream.count), chunksLost: lost,
                    droppedPayloadBytes: stream.droppedPayload, originalStatus: stream.originalEnd, reason: reason))
        }
    }

    func report(path: String, dryRun: Bool) -> RepairReport {
        var report = RepairReport(path: path, dryRun: dryRun)
        // Records of a stream deleted later are not a loss.
        let lostOrphans = orphans.filter { !deleted.contains($0.key) }.map(\.value)
        report.damagedRegions = damaged
        report.streamsKept = streams.count
        report.chunksKept = streams.values.reduce(0) { $0 + Int($1.count) }
        report.bytesKept = streams.values.reduce(0) { $0 + $1.bytesKept }
        report.streamLosses = losses
        report.chunksLost =
            losses.reduce(0) { $0 + $1.chunksLost } + lostOrphans.reduce(0) { $0 + $1.chunks }
        report.droppedPayloadBytes =
            losses.reduce(0) { $0 + $1.droppedPayloadBytes } + lostOrphans.reduce(0) { $0 + $1.bytes }
        report.orphanStreamNumbers = orphans.keys.filter { !deleted.contains($0) }.sorted()
        report.recordsSkipped = skipped
        report.streamsDeletedByReopening = steps.compactMap {
            guard case .open(let number, let id, _) = $0, deletedForLostRecord.contains(number) else { return nil }
            return id
        }
        return report
    }

    /// Writes the plan into a new journal at `path` through the public API.
    func write(to path: String) throws(JournalError) {
        var options = JournalOptions(durability: .none)
        // Accept every chunk the damaged file held, whatever limit its writer had.
        options.maxChunkSize = Layout.maxBodyLength
        options.autoCompaction = nil
        let journal = try Journal(path: path, options: options)
        var names: [UInt32: StreamID] = [:]
        for step in steps {
            switch step {
            case .open(let number, let id, let metadata):
                if deleted.contains(number) { continue }
                names[number] = id
                try journal.createStream(id, metadata: metadata)
            case .chunk(let number, let bodyOffset, let length):
                guard let id = names[number] else { continue }
                try journal.append(
                    bytes: UnsafeRawBufferPointer(rebasing: file[bodyOffset..<bodyOffset + length]), to: id)
            case .finish(let number, let status, let reason):
                guard let id = names[number] else { continue }
                try journal.finish(id, status: status, reason: reason)
            }
        }
        try journal.sync()
        try journal.close()
    }
}
