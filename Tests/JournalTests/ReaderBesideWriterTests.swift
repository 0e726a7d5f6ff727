import Foundation
import Synchronization
import TestSupport
import Testing

@testable import Journal

#if canImport(Glibc)
    import Glibc
#endif

/// Readers that take no lock (`openReadOnly`, `verify`, the CLI beside a running server) while
/// a writer appends in the same file.
@Suite struct ReaderBesideWriterTests {
    /// The race below, made to happen every time: the reader's scan stops at a record whose
    /// checksum (which a writer stores last) is not there yet, and the writer finishes it
    /// while the reader looks past it for intact records. Without the second look at the
    /// record, the open threw "the record there is intact (its checksum matches) but breaks a
    /// validity rule", and verify reported damage.
    @Test func aRecordFinishedWhileTheReaderLooksPastItEndsTheLogForThatLook() throws {
        let path = TestDirectory().file("finishing.sj")
        _ = try buildSampleJournal(at: path, crash: true)
        let records = scanRecords(FileBytes.read(path))
        // An intact record follows the one in progress, as when the writer has gone on.
        let inProgress = records[records.count - 2]
        let checksum = Array(FileBytes.read(path)[Int(inProgress.offset)..<Int(inProgress.offset) + 4])
        @Sendable func storeChecksum(_ bytes: [UInt8]) {
            let fd = open(path, O_WRONLY)
            #expect(fd >= 0)
            #expect(pwrite(fd, bytes, 4, off_t(inProgress.offset)) == 4)
            close(fd)
        }
        let finishes = Atomic<Int>(0)
        TestHooks.setBeforeLookingPast(path: path) { end in
            guard end == inProgress.offset else { return }
            storeChecksum(checksum)
            finishes.add(1, ordering: .relaxed)
        }
        defer { TestHooks.setBeforeLookingPast(path: path, nil) }

        storeChecksum([0, 0, 0, 0])
        let reader = try Journal.openReadOnly(path: path)
        #expect(reader.recoveryReport.logEnd == inProgress.offset)
        try reader.close()

        storeChecksum([0, 0, 0, 0])
        let report = try Journal.verify(path: path)
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.logEnd == inProgress.offset)
        #expect(finishes.load(ordering: .relaxed) == 2)

        // Damage is still damage: a record that stays broken, with an intact one after it.
        TestHooks.setBeforeLookingPast(path: path, nil)
        storeChecksum([0, 0, 0, 0])
        #expect(throws: JournalError.self) { try Journal.openReadOnly(path: path) }
        #expect(try Journal.verify(path: path).problems.count == 1)
    }

    /// A reader whose scan met the record the writer was copying, which the writer finished
    /// while the reader looked past it, took the now intact record for damage: "the record
    /// there is intact (its checksum matches) but breaks a validity rule", and `verify`
    /// reported a problem. The writer appends 8 KiB chunks flat out, so it is copying a
    /// record much of the time, and frequent snapshots keep each open's scan short.
    @Test func readersNeverTakeARecordInProgressForDamage() throws {
        let path = TestDirectory().file("busy.sj")
        var options = JournalOptions(durability: .none)
        options.autoCompaction = nil
        options.snapshotInterval = 4 << 20
        let journal = try Journal(path: path, options: options)
        let id = try journal.createStream(StreamID("large"))
        let chunk = [UInt8](repeating: 0x61, count: 8 << 10)
        let stop = Atomic<Bool>(false)
        let appended = Atomic<Int>(0)
        let writerDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            // Bounded, so a reader slower than expected cannot fill the disk.
            while !stop.load(ordering: .relaxed) && appended.load(ordering: .relaxed) < 12_000 {
                guard (try? chunk.withUnsafeBytes { try journal.append(bytes: $0, to: id) }) != nil else { break }
                appended.add(1, ordering: .relaxed)
            }
            writerDone.signal()
        }
        var failures: [String] = []
        var looks = 0
        while looks < 300 && appended.load(ordering: .relaxed) < 12_000 {
            looks += 1
            do {
                let reader = try Journal.openReadOnly(path: path)
                try reader.close()
                // verify scans the whole log: every twentieth look.
                if looks % 20 == 0 {
                    let report = try Journal.verify(path: path)
                    failures += report.problems.map { "verify: \($0.detail) at \($0.offset)" }
                }
            } catch {
                failures.append("open: \(error)")
            }
        }
        stop.store(true, ordering: .relaxed)
        writerDone.wait()
        try journal.close()
        #expect(failures.isEmpty, "\(failures.count) of \(looks) looks failed, first: \(failures.first ?? "")")
    }
}
