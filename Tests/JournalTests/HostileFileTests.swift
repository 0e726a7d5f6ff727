import TestSupport
import Testing

@testable import Journal

#if canImport(Glibc)
    import Glibc
#endif

/// Files with valid checksums but hostile field values: each of these trapped (an arithmetic
/// overflow or an out-of-range slice) before the fix named in its comment. Found by the
/// journal-file fuzz target (Fuzz/run.sh).
@Suite struct HostileFileTests {
    /// A fresh journal at `path` with one stream "a" (open, one chunk), closed cleanly.
    func makeJournal(_ path: String) throws {
        let journal = try Journal(path: path, options: JournalOptions(durability: .none))
        let id = try journal.createStream(StreamID("a"))
        try journal.append("x", to: id)
        try journal.close()
    }

    /// Appends a record with a valid checksum after the log of the (closed) journal at `path`.
    func appendRawRecord(
        _ path: String, type: RecordType, stream: UInt32, chunkIndex: UInt32, previous: UInt64, body: [UInt8]
    ) throws {
        var bytes = FileBytes.read(path)
        let (end, generation) = try bytes.withUnsafeBytes { raw in
            let state = try LoadedState.load(raw, path: path)
            return (Int(state.end), state.header.generation)
        }
        let record = RecordHeader(
            type: type, bodyLength: UInt32(body.count), generation: generation, stream: stream,
            chunkIndex: chunkIndex, timestamp: 1, previous: previous
        ).encoded(body: body)
        bytes.replaceSubrange(end..<end + record.count, with: record)
        FileBytes.write(bytes, to: path)
    }

    /// Rewrites both header slots through `change`, with fresh checksums.
    func rewriteHeaders(_ path: String, _ change: (inout FileHeader) -> Void) {
        var bytes = FileBytes.read(path)
        for slot in 0..<Layout.headerSlotCount {
            let start = slot * Layout.headerSlotSize
            let verdict = bytes.withUnsafeBytes {
                FileHeader.decode(UnsafeRawBufferPointer(rebasing: $0[start..<start + Layout.headerSlotSize]))
            }
            guard case .valid(var header) = verdict else { continue }
            change(&header)
            bytes.replaceSubrange(start..<start + Layout.headerSlotSize, with: header.encoded())
        }
        FileBytes.write(bytes, to: path)
    }

    /// `decodeRecord` sliced from an offset past the end of a file shorter than the header
    /// area (RecordHeader.swift).
    @Test func aFileShorterThanTheHeaderAreaIsReportedNotTrapped() throws {
        let directory = TestDirectory()
        let path = directory.file("short.sj")
        try makeJournal(path)
        FileBytes.write(Array(FileBytes.read(path)[0..<Layout.headerSlotSize]), to: path)
        let report = try Journal.verify(path: path)
        #expect(!report.isClean)
        _ = try Journal.repair(path: path, dryRun: true)
        // No record can start before 8192: the dump says so instead of printing an end row.
        #expect(throws: JournalError.self) { try Journal.dump(path: path) { _ in true } }
        #expect(throws: JournalError.self) { try Journal.openReadOnly(path: path) }
        [UInt8](repeating: 1, count: 100).withUnsafeBytes { raw in
            #expect(decodeRecord(in: raw, at: Layout.logStart, maxGeneration: 1) == .end)
            #expect(decodeRecord(in: raw, at: UInt64.max - 7, maxGeneration: 1) == .end)
        }
    }

    /// The header check added the snapshot offset and length, both from the file
    /// (FileHeader.swift).
    @Test func aSnapshotPointerNearTheTopOfTheRangeIsAnInvalidHeader() {
        var header = FormatTests.sampleHeader()
        header.snapshotOffset = UInt64.max - 7
        header.snapshotLength = 64
        header.encoded().withUnsafeBytes { raw in
            guard case .invalid = FileHeader.decode(raw) else {
                Issue.record("a snapshot pointer past the checkpoint was accepted")
                return
            }
        }
    }

    /// The back-pointer bounds check added 40 to a pointer from the file (JournalEngine+Read.swift).
    @Test func aBackPointerNearTheTopOfTheRangeIsCorruption() throws {
        let directory = TestDirectory()
        let path = directory.file("pointer.sj")
        try makeJournal(path)
        let journal = try Journal.openReadOnly(path: path)
        #expect(throws: JournalError.self) {
            try JournalEngine.previousPointer(
                in: journal.engine.region, at: UInt64.max - 7, end: Layout.logStart + 4096, path: path)
        }
        try journal.close()
    }

    /// Snapshot counts were taken as stored, and later sums of them overflowed; a snapshot
    /// claiming more bytes than the log before it holds is now unusable (SnapshotBody.swift).
    @Test func aSnapshotClaimingMoreBytesThanItsLogIsUnusable() {
        func entry(byteCount: UInt64, recordBytes: UInt64, chunkCount: UInt32 = 1) -> StreamEntry {
            StreamEntry(
                id: StreamID(trusted: "a"), number: 1, status: .completed, metadata: [:], openOffset: 8192,
                lastOffset: 8300, chunkCount: chunkCount, byteCount: byteCount, recordBytes: recordBytes,
                createdAt: 1, updatedAt: 2, finishedAt: 2, reason: nil, blockStarts: chunkCount == 0 ? [] : [8232])
        }
        let fits = SnapshotBody(logEnd: 9000, highestStreamNumber: 1, streams: [entry(byteCount: 10, recordBytes: 120)])
        #expect(throws: Never.self) { try fits.encoded().withUnsafeBytes { try SnapshotBody.decode($0) } }
        for bad in [
            entry(byteCount: UInt64.max, recordBytes: 120),
            entry(byteCount: 10, recordBytes: UInt64.max),
            entry(byteCount: 10, recordBytes: 100, chunkCount: 2),
        ] {
            let body = SnapshotBody(logEnd: 9000, highestStreamNumber: 1, streams: [bad]).encoded()
            #expect(throws: DecodeError.self) { try body.withUnsafeBytes { try SnapshotBody.decode($0) } }
        }
    }

    /// Retention computed `now - finishedAt`, which overflows for a timestamp from the file
    /// far from now (JournalEngine+Compaction.swift).
    @Test func retentionCutoffsDoNotOverflowOnDistantTimestamps() throws {
        let directory = TestDirectory()
        let journal = try Journal(path: directory.file("retention.sj"), options: JournalOptions(durability: .none))
        let id = try journal.createStream(StreamID("done"))
        try journal.complete(id)
        var policy = RetentionPolicy()
        policy.completedMaxAge = .seconds(1)
        let plan = journal.engine.lock.withLock { journal.engine.planRetention(policy, now: .min) }
        #expect(plan.keep.count == 1)
        policy.completedMaxAge = .seconds(Int64.max)
        let forever = journal.engine.lock.withLock { journal.engine.planRetention(policy, now: .max) }
        #expect(forever.keep.count == 1)
        try journal.close()
        #expect(Int64.max.saturatingAdding(1) == .max)
        #expect(Int64.min.saturatingSubtracting(1) == .min)
        #expect(Int64(5).saturatingSubtracting(.min) == .max)
    }

    /// `keepOpen`'s stale check computed `now - updatedAt` and `staleAfter` in microseconds,
    /// both able to overflow (JournalEngine.swift).
    @Test func keepOpenWithAnEnormousStaleTimeKeepsStreamsOpen() throws {
        let directory = TestDirectory()
        let path = directory.file("stale.sj")
        let first = try Journal(path: path, options: JournalOptions(durability: .none))
        try first.createStream(StreamID("open"))
        first.engine.abandonForTesting()
        let journal = try Journal(
            path: path,
            options: JournalOptions(durability: .none, openStreams: .keepOpen(staleAfter: .seconds(Int64.max))))
        #expect(journal.recoveryReport.streamsKeptOpen.map(\.rawValue) == ["open"])
        try journal.close()
    }

    /// A header sequence number of `UInt64.max - 1` overflowed at the next header write
    /// (JournalEngine.swift `writeHeader`).
    @Test func aHeaderSequenceThatCannotGrowFailsTheWritableOpen() throws {
        let directory = TestDirectory()
        let path = directory.file("sequence.sj")
        try makeJournal(path)
        rewriteHeaders(path) { $0.sequence = UInt64.max - 1 }
        #expect(throws: JournalError.self) { try Journal(path: path, options: JournalOptions(durability: .none)) }
        // Readers are unaffected.
        let reader = try Journal.openReadOnly(path: path)
        #expect(try reader.streams().count == 1)
        try reader.close()
    }

    /// A stream-open record with number `UInt32.max` made the next `createStream` overflow
    /// (JournalEngine+Write.swift).
    @Test func creatingAStreamAfterTheLastStreamNumberIsAnError() throws {
        let directory = TestDirectory()
        let path = directory.file("numbers.sj")
        try makeJournal(path)
        try appendRawRecord(
            path, type: .streamOpen, stream: UInt32.max, chunkIndex: 0, previous: 0,
            body: StreamOpenBody(id: "last", metadata: [:]).encoded())
        let journal = try Journal(path: path, options: JournalOptions(durability: .none))
        #expect(try journal.info(StreamID("last")).status == .interrupted)
        #expect(throws: JournalError.self) { try journal.createStream(StreamID("next")) }
        try journal.close()
    }

    /// Repair counted `chunkIndex + 1` in 32 bits, which overflows for index `UInt32.max`
    /// (Journal+Repair.swift).
    @Test func repairCountsAChunkIndexOfUInt32MaxWithoutOverflow() throws {
        let directory = TestDirectory()
        let path = directory.file("index.sj")
        try makeJournal(path)
        try appendRawRecord(path, type: .chunk, stream: 1, chunkIndex: UInt32.max, previous: 0, body: [1])
        let report = try Journal.repair(path: path, dryRun: true)
        #expect(report.streamLosses.first?.chunksLost == Int(UInt32.max))
    }

    /// An idempotent retry compared the caller's bytes with the stored chunk using the record's
    /// length field unchecked (JournalEngine+Write.swift). An open that loads a snapshot does
    /// not check the records before it, so a damaged length answered "duplicate" for bytes the
    /// journal never stored (and a large one read past the log). The stored record is now
    /// checked as a read checks it.
    @Test func anIdempotentRetryAgainstADamagedChunkIsCorruptionNotADuplicate() throws {
        let directory = TestDirectory()
        let path = directory.file("retry.sj")
        let journal = try Journal(path: path, options: JournalOptions(durability: .none))
        let id = try journal.createStream(StreamID("a"))
        try journal.append("hello", to: id)
        try journal.close()
        var bytes = FileBytes.read(path)
        let (chunk, snapshot) = try bytes.withUnsafeBytes { raw in
            let state = try LoadedState.load(raw, path: path)
            return (state.table[state.table.slot(of: id)!].blockStarts[0], state.header.snapshotOffset)
        }
        #expect(snapshot > chunk, "the clean close wrote a snapshot after the chunk")
        // "hello" becomes "hell": the checksum no longer matches, and only a check notices.
        bytes[Int(chunk) + RecordField.bodyLength.offset] = 4
        FileBytes.write(bytes, to: path)

        let reopened = try Journal(path: path, options: JournalOptions(durability: .none))
        do {
            let outcome = try reopened.append(Array("hell".utf8), to: id, at: 0)
            Issue.record("a retry against a damaged chunk answered \(outcome)")
        } catch {
            guard case .corruption(_, let at, _) = error else {
                Issue.record("expected corruption, got \(error)")
                return
            }
            #expect(at == chunk, "\(error)")
        }
        try reopened.close()
    }

    /// FORMAT.md §3: the reserved bytes 96..<116 and the bytes after the 120-byte structure
    /// are zero. Readers accept a slot whose checksum covers non-zero reserved bytes (a later
    /// version may use them); `verify` names the first such byte.
    @Test func verifyReportsNonZeroReservedHeaderBytesThatOpensAccept() throws {
        let directory = TestDirectory()
        for position in [HeaderField.reserved.offset, HeaderField.reserved.end - 1, HeaderField.size] {
            let path = directory.file("reserved-\(position).sj")
            try makeJournal(path)
            var bytes = FileBytes.read(path)
            for slot in 0..<Layout.headerSlotCount {
                let start = slot * Layout.headerSlotSize
                bytes[start + position] = 0x5A
                let crc = bytes.withUnsafeBytes {
                    CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start..<start + HeaderField.checksum.offset]))
                }
                withUnsafeBytes(of: crc.littleEndian) {
                    bytes.replaceSubrange(start + HeaderField.checksum.offset..<start + HeaderField.size, with: $0)
                }
            }
            FileBytes.write(bytes, to: path)
            let report = bytes.withUnsafeBytes { Journal.verify($0, path: path) }
            #expect(report.problems.map(\.offset) == [UInt64(position), UInt64(Layout.headerSlotSize + position)])
            #expect(report.problems.allSatisfy { $0.detail.contains("reserved area") }, "\(report.problems)")
            let journal = try Journal.openReadOnly(path: path)
            #expect(try journal.info(StreamID("a")).chunkCount == 1)
            try journal.close()
        }
    }
}
