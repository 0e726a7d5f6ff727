import TestSupport
import Testing

@testable import Journal

#if canImport(Glibc)
    import Glibc
#endif

/// Damage that looks like the end of the log must not be dropped as a torn tail (FORMAT.md
/// §5, "Torn tail or damage"): recovery refuses it, `verify` reports it, and `repair`
/// salvages what is intact. Only a write torn by a crash is dropped quietly.
@Suite struct TornTailTests {
    /// A crashed journal (no close, so the checkpoint stays where the open put it unless a
    /// sync moved it) with one open stream of `chunks`.
    static func crashedJournal(
        at path: String, durability: Durability = .none, chunks: [[UInt8]]
    ) throws -> StreamID {
        var options = JournalOptions(durability: durability)
        options.autoCompaction = nil
        let journal = try Journal(path: path, options: options)
        let id = try StreamID("s")
        try journal.createStream(id)
        for chunk in chunks { try journal.append(chunk, to: id) }
        journal.engine.abandonForTesting()
        return id
    }

    static func chunkRecords(_ bytes: [UInt8]) -> [ScannedRecord] {
        scanRecords(bytes).filter { $0.header.type == .chunk }
    }

    /// The current header as recovery picks it.
    static func header(_ bytes: [UInt8]) throws -> FileHeader {
        try bytes.withUnsafeBytes { try LoadedState.pickHeader($0, path: "test").header }
    }

    /// Asserts that every open fails with corruption at `offset`, that `verify` reports a
    /// problem there, and that the failed writable open changed no byte.
    static func expectRefused(_ path: String, at offset: UInt64, mentioning words: String) {
        let before = FileBytes.read(path)
        for writable in [true, false] {
            do {
                _ = writable ? try Journal(path: path) : try Journal.openReadOnly(path: path)
                Issue.record("a \(writable ? "writable" : "read-only") open accepted the damaged file")
            } catch {
                guard case .corruption(_, let at, _) = error else {
                    Issue.record("expected corruption, got \(error)")
                    continue
                }
                #expect(at == offset, "\(error)")
                #expect(error.description.contains(words), "\(error)")
            }
        }
        // Compared outside #expect, which would print both megabyte arrays on a failure.
        let unchanged = FileBytes.read(path) == before
        #expect(unchanged, "a refused open changed the file")
        let report = before.withUnsafeBytes { Journal.verify($0, path: path) }
        #expect(!report.isClean)
        #expect(report.problems.contains { $0.detail.contains(words) }, "\(report.problems)")
    }

    @Test func aDamagedNewestHeaderSlotIsRefusedNotTakenForAnEmptyLog() throws {
        let directory = TestDirectory()
        let path = directory.file("j.sj")
        let chunks = (0..<5).map { Array("chunk \($0)".utf8) }
        let id = try Self.crashedJournal(at: path, chunks: chunks)
        var bytes = FileBytes.read(path)
        // The open wrote generation 1 to slot A; slot B still holds the creator's generation 0.
        #expect(try Self.header(bytes).generation == 1)
        bytes[60] ^= 0x10
        #expect(try Self.header(bytes).generation == 0)
        FileBytes.write(bytes, to: path)

        Self.expectRefused(path, at: 0, mentioning: "generation")
        let repair = try Journal.repair(path: path)
        #expect(repair.chunksKept == chunks.count)
        let journal = try Journal.openReadOnly(path: path)
        var cursor = try journal.chunks(of: id)
        #expect(try cursor.collect().map(\.bytes) == chunks)
    }

    @Test func damageFollowedByIntactRecordsIsRefusedNotTakenForATornTail() throws {
        let directory = TestDirectory()
        let path = directory.file("j.sj")
        let chunks = (0..<6).map { Array("payload number \($0)".utf8) }
        let id = try Self.crashedJournal(at: path, chunks: chunks)
        var bytes = FileBytes.read(path)
        let records = Self.chunkRecords(bytes)
        // Nothing synced: the checkpoint is where the open left it, before every chunk.
        #expect(try Self.header(bytes).checkpointEnd <= records[0].offset)
        bytes[Int(records[2].offset) + RecordField.size + 3] ^= 0x01
        FileBytes.write(bytes, to: path)

        Self.expectRefused(
            path, at: records[2].offset, mentioning: "intact record follows at offset \(records[3].offset)")
        let repair = try Journal.repair(path: path)
        #expect(repair.chunksKept == 2)
        #expect(repair.chunksLost >= 1)
        var cursor = try Journal.openReadOnly(path: path).chunks(of: id)
        #expect(try cursor.collect().map(\.bytes) == Array(chunks.prefix(2)))
    }

    /// A flipped bit in a record's length past the checkpoint claimed an extent beyond every
    /// later record; the search for intact records started after it, found none, and the
    /// open dropped every later record as a torn tail while `verify` called the file valid.
    /// An intact record inside the claimed extent that continues the log is damage's proof:
    /// one that points back at the damaged record (one stream), or continues another stream.
    @Test(arguments: [1, 2])
    func aFlippedLengthBitIsDamageNotATornTail(streams: Int) throws {
        let directory = TestDirectory()
        let path = directory.file("j.sj")
        var options = JournalOptions(durability: .none)
        options.autoCompaction = nil
        let journal = try Journal(path: path, options: options)
        let ids = try (0..<streams).map { try journal.createStream(StreamID("s\($0)")) }
        for k in 0..<6 { try journal.append(Array("payload number \(k)".utf8), to: ids[k % streams]) }
        journal.engine.abandonForTesting()
        var bytes = FileBytes.read(path)
        let records = Self.chunkRecords(bytes)
        #expect(try Self.header(bytes).checkpointEnd <= records[0].offset)
        // bodyLength + 65,536: an extent far past the last record, inside the file.
        bytes[Int(records[2].offset) + RecordField.bodyLength.offset + 2] ^= 0x01
        #expect(records[2].offset + 65_536 < UInt64(bytes.count), "the claimed extent fits the file")
        FileBytes.write(bytes, to: path)

        Self.expectRefused(
            path, at: records[2].offset, mentioning: "intact record follows at offset \(records[3].offset)")
        let repair = try Journal.repair(path: path)
        #expect(repair.chunksKept >= 2)
    }

    /// Zeros where a record should start ended the log cleanly, and nothing looked past them:
    /// the open dropped the intact records after them without a word, `verify` called the
    /// file valid, and the writable open then zeroed them for good. Zeros that hold no whole
    /// sector are not a power loss's unwritten sector, so they are damage, as other invalid
    /// bytes followed by intact records are (FORMAT.md §5).
    @Test func zerosWhereARecordShouldStartFollowedByIntactRecordsAreDamage() throws {
        let directory = TestDirectory()
        let path = directory.file("j.sj")
        let chunks = (0..<6).map { Array("payload number \($0)".utf8) }
        let id = try Self.crashedJournal(at: path, chunks: chunks)
        var bytes = FileBytes.read(path)
        let records = Self.chunkRecords(bytes)
        #expect(try Self.header(bytes).checkpointEnd <= records[0].offset)
        let zeroed = records[2]
        for index in Int(zeroed.offset)..<Int(zeroed.end) { bytes[index] = 0 }
        #expect(!TailVerdict.hasZeroSector(bytes.withUnsafeBytes { $0 }, from: zeroed.offset, to: zeroed.end))
        FileBytes.write(bytes, to: path)

        Self.expectRefused(
            path, at: zeroed.offset, mentioning: "intact record follows at offset \(records[3].offset)")
        #expect(
            "\(Result { try Journal.openReadOnly(path: path) })".contains("zero bytes where a record should start"))
        let repair = try Journal.repair(path: path)
        #expect(repair.chunksKept == 2)
        var cursor = try Journal.openReadOnly(path: path).chunks(of: id)
        #expect(try cursor.collect().map(\.bytes) == Array(chunks.prefix(2)))
    }

    /// A power loss may write a later page before the one a record starts in; a zero sector
    /// then starts the log's end, and the records after it were never synced: a torn tail,
    /// dropped with a note naming them, as when the zeros fall inside the torn record.
    @Test func aPageNeverWrittenBeforeLaterWritesIsATornTailWithANote() throws {
        let directory = TestDirectory()
        let path = directory.file("j.sj")
        let chunks = (0..<40).map { Array(repeating: UInt8(truncatingIfNeeded: $0), count: 200 + $0) }
        let id = try Self.crashedJournal(at: path, chunks: chunks)
        var bytes = FileBytes.read(path)
        let records = Self.chunkRecords(bytes)
        // The first record that starts on a 4 KiB page boundary or after one: zero from
        // there to the end of that page.
        let page = (Int(records[1].offset) + 4095) / 4096 * 4096
        let first = try #require(records.firstIndex { $0.offset >= page })
        let start = Int(records[first].offset)
        let end = (start / 4096 + 1) * 4096
        let after = try #require(records.first { $0.offset >= end })
        #expect(end - start >= 512)
        for index in start..<end { bytes[index] = 0 }
        FileBytes.write(bytes, to: path)

        let report = bytes.withUnsafeBytes { Journal.verify($0, path: path) }
        #expect(report.isClean, "\(report.problems)")
        #expect(report.tailNote?.contains("from offset \(after.offset)") == true, "\(report.tailNote ?? "none")")
        let journal = try Journal(path: path)
        #expect(journal.recoveryReport.tornTailOffset == UInt64(start))
        #expect(journal.recoveryReport.tornTailReason?.contains("zero bytes where a record should start") == true)
        #expect(try journal.info(id).chunkCount == first)
        try journal.close()
    }

    /// Found by a review: the last sync wrote the page holding the synced end, zeros after
    /// it; later appends filled that page and the next; a power loss kept the next page but
    /// not the new version of the first. The zeros from the synced end to the end of its
    /// page hold no whole sector when the end lies in the page's last 512 bytes (or run to
    /// the end of its sector, when a disk writes sectors in any order), and both opens and
    /// `verify` took the file for damaged.
    @Test(arguments: [4096, 512])
    func zerosToTheEndOfTheSyncedEndsPageOrSectorAreATornTail(unit: Int) throws {
        let directory = TestDirectory()
        let path = directory.file("j.sj")
        let chunks = (0..<120).map { Array(repeating: UInt8(truncatingIfNeeded: $0), count: 90 + $0 % 7) }
        let id = try Self.crashedJournal(at: path, chunks: chunks)
        var bytes = FileBytes.read(path)
        let records = Self.chunkRecords(bytes)
        // A record boundary in the unit's last 512 bytes, not on a sector boundary, with
        // records after the unit.
        let index = try #require(
            records.indices.dropFirst().first { k in
                let offset = Int(records[k].offset)
                return offset % unit > unit - 512 && offset % 512 != 0
                    && records.last!.offset >= UInt64((offset / unit + 1) * unit)
            })
        let start = Int(records[index].offset)
        let end = (start / unit + 1) * unit
        let after = try #require(records.first { $0.offset >= UInt64(end) })
        for offset in start..<end { bytes[offset] = 0 }
        #expect(!TailVerdict.hasZeroSector(bytes.withUnsafeBytes { $0 }, from: UInt64(start), to: after.offset))
        FileBytes.write(bytes, to: path)

        let report = bytes.withUnsafeBytes { Journal.verify($0, path: path) }
        #expect(report.isClean, "\(report.problems)")
        #expect(report.tailNote?.contains("from offset \(after.offset)") == true, "\(report.tailNote ?? "none")")
        let reader = try Journal.openReadOnly(path: path)
        #expect(try reader.info(id).chunkCount == index)
        try reader.close()
        let journal = try Journal(path: path)
        #expect(journal.recoveryReport.tornTailOffset == UInt64(start))
        try journal.close()
    }

    /// The usual end of the log, zeros up to the file's size, is no torn tail.
    @Test func theCleanEndOfALogIsNoTornTail() throws {
        let directory = TestDirectory()
        let path = directory.file("j.sj")
        _ = try Self.crashedJournal(at: path, chunks: [Array("one".utf8)])
        let report = FileBytes.read(path).withUnsafeBytes { Journal.verify($0, path: path) }
        #expect(report.isClean && report.tailNote == nil, "\(report)")
        let journal = try Journal(path: path)
        #expect(journal.recoveryReport.tornTailOffset == nil)
        try journal.close()
    }

    @Test func syncsMoveTheCheckpointSoDamageInSyncedRecordsIsRefused() throws {
        let directory = TestDirectory()
        let path = directory.file("j.sj")
        let chunks = (0..<4).map { Array("acknowledged \($0)".utf8) }
        _ = try Self.crashedJournal(at: path, durability: .everyAcknowledgement, chunks: chunks)
        var bytes = FileBytes.read(path)
        let checkpoint = try Self.header(bytes).checkpointEnd
        let records = scanRecords(bytes)
        // The first sync after the open moved the checkpoint past the record it covered.
        #expect(checkpoint >= records[0].end)
        let last = try #require(records.last { $0.end <= checkpoint })
        // Only the synced prefix survives (a power loss took the rest), and its last record
        // has a flipped bit: no intact record follows, so only the checkpoint tells damage
        // from a torn write.
        for index in Int(checkpoint)..<bytes.count { bytes[index] = 0 }
        bytes[Int(last.offset) + RecordField.size] ^= 0x04
        FileBytes.write(bytes, to: path)

        Self.expectRefused(path, at: last.offset, mentioning: "before the durable checkpoint")
    }

    @Test func aWriteTornByAPowerLossIsDroppedWithTheLaterWritesTheDiskReordered() throws {
        let directory = TestDirectory()
        let path = directory.file("j.sj")
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: 3000)
        let chunks = [Array("before".utf8), big, Array("after".utf8)]
        let id = try Self.crashedJournal(at: path, chunks: chunks)
        var bytes = FileBytes.read(path)
        let records = Self.chunkRecords(bytes)
        let torn = records[1]
        // A sector of the big record never reached the disk; the record after it did.
        let sector = (Int(torn.offset) + 1023) / 512 * 512
        #expect(sector + 512 <= Int(torn.end))
        for index in sector..<sector + 512 { bytes[index] = 0 }
        FileBytes.write(bytes, to: path)

        let report = bytes.withUnsafeBytes { Journal.verify($0, path: path) }
        #expect(report.isClean, "\(report.problems)")
        #expect(report.tailNote?.contains("power loss") == true)
        // Not when they are dropped: `journalctl-stream verify` adds that ("dropped by the
        // next writable open"), and the note said it twice.
        #expect(report.tailNote?.contains("next writable open") == false, "\(report.tailNote ?? "")")
        let journal = try Journal(path: path)
        #expect(journal.recoveryReport.tornTailOffset == torn.offset)
        #expect(journal.recoveryReport.tornTailReason?.contains("from offset \(records[2].offset)") == true)
        var cursor = try journal.chunks(of: id)
        #expect(try cursor.collect().map(\.bytes) == [chunks[0]])
        #expect(try journal.info(id).status == .interrupted)
        try journal.close()
        #expect(try Journal.verify(path: path).isClean)
    }

    @Test func aRecordCutShortWhileCopyingAPayloadThatHoldsARecordIsATornTail() throws {
        let directory = TestDirectory()
        let path = directory.file("j.sj")
        // A payload carrying an intact record, as a journal or an export stored as a chunk would.
        let embedded = RecordHeader(
            type: .chunk, bodyLength: 16, generation: 1, stream: 1, chunkIndex: 7, timestamp: 1, previous: 8192
        ).encoded(body: Array("sixteen bytes!!!".utf8))
        let payload = [UInt8](repeating: 0x41, count: 64) + embedded + [UInt8](repeating: 0x42, count: 200)
        let id = try Self.crashedJournal(at: path, chunks: [Array("first".utf8), payload])
        var bytes = FileBytes.read(path)
        let cut = Self.chunkRecords(bytes)[1]
        // The writer died copying it: the checksum (written last) and the end of the body
        // never made it, but the embedded record did.
        for index in Int(cut.offset)..<Int(cut.offset) + 4 { bytes[index] = 0 }
        for index in Int(cut.end) - 150..<Int(cut.end) { bytes[index] = 0 }
        FileBytes.write(bytes, to: path)

        let journal = try Journal(path: path)
        #expect(journal.recoveryReport.tornTailOffset == cut.offset)
        var cursor = try journal.chunks(of: id)
        #expect(try cursor.collect().map(\.bytes) == [Array("first".utf8)])
        try journal.close()
    }

    @Test func anIdleJournalStillMovesItsCheckpointPastItsLastSync() throws {
        let directory = TestDirectory()
        let path = directory.file("j.sj")
        var options = JournalOptions(durability: .everyAcknowledgement)
        options.autoCompaction = nil
        let journal = try Journal(path: path, options: options)
        let id = try journal.createStream(StreamID("idle"))
        // Syncs within 100 ms of the last checkpoint do not move it; then appends stop.
        for index in 0..<3 { try journal.append("chunk \(index)", to: id) }
        let last = try #require(scanRecords(FileBytes.read(path)).last).end
        // The maintenance thread syncs once more a second after the last sync, and that sync
        // carries the checkpoint. Polled with a deadline: the wait is for the thread.
        let deadline = ContinuousClock.now + .seconds(30)
        var checkpoint = try Self.header(FileBytes.read(path)).checkpointEnd
        while checkpoint < last && ContinuousClock.now < deadline {
            usleep(20_000)
            checkpoint = try Self.header(FileBytes.read(path)).checkpointEnd
        }
        #expect(checkpoint == last)
        try journal.close()
    }

    @Test func aPartialLastRecordIsStillATornTail() throws {
        let directory = TestDirectory()
        let path = directory.file("j.sj")
        let chunks = (0..<3).map { Array("tail \($0)".utf8) }
        let id = try Self.crashedJournal(at: path, chunks: chunks)
        var bytes = FileBytes.read(path)
        let last = Self.chunkRecords(bytes).last!
        // A crash in the middle of copying the last record: its second half is still zero.
        for index in Int(last.offset) + RecordField.size..<Int(last.end) { bytes[index] = 0 }
        FileBytes.write(bytes, to: path)

        let journal = try Journal(path: path)
        #expect(journal.recoveryReport.tornTailOffset == last.offset)
        var cursor = try journal.chunks(of: id)
        #expect(try cursor.collect().map(\.bytes) == Array(chunks.prefix(2)))
        try journal.close()
    }
}
