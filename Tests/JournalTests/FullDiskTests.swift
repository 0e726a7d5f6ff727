import TestSupport
import Testing

@testable import Journal

#if canImport(Glibc)
    import Glibc
#endif

/// A file system with a set amount of room: every `fallocate` asking for more than is left
/// fails with `ENOSPC` (and takes nothing), the way a nearly full disk answers.
final class DiskSpace: IOInterposer {
    private struct State {
        var free: UInt64 = .max
        var refusals: [UInt64] = []
        var granted: [UInt64] = []
    }

    private let state = Locked(State())

    /// Bytes the file system may still allocate.
    var free: UInt64 {
        get { state.withLock { $0.free } }
        set { state.withLock { $0.free = newValue } }
    }

    /// When each refused `fallocate` was made (monotonic nanoseconds).
    var refusals: [UInt64] { state.withLock { $0.refusals } }
    /// The lengths of the `fallocate` calls that succeeded.
    var granted: [UInt64] { state.withLock { $0.granted } }

    func willPerform(_ operation: IOOperation, descriptor: Int32) throws(Errno) {
        guard case .allocate(_, let length) = operation else { return }
        let refused = state.withLock { state -> Bool in
            if length > state.free {
                state.refusals.append(Clock.monotonicNanoseconds())
                return true
            }
            state.free -= length
            state.granted.append(length)
            return false
        }
        if refused { throw Errno(rawValue: ENOSPC) }
    }

    func didPerform(_ operation: IOOperation, descriptor: Int32) {}
}

/// A full disk fails the append that needed room, not the handle (FORMAT.md §10): it used
/// to poison the writer, so a moment without space took a server's journal down until a
/// restart.
@Suite("Full disk")
struct FullDiskTests {
    static let chunk = [UInt8](repeating: 0x5A, count: 16 << 10)

    static func options(_ disk: DiskSpace) -> JournalOptions {
        var options = JournalOptions(durability: .none)
        options.autoCompaction = nil
        options.snapshotInterval = 1 << 30
        options.interposition = Interposition(interposer: disk)
        return options
    }

    /// Appends `chunk` to `id` until an append fails; returns how many were stored and the
    /// error.
    static func fill(_ journal: Journal, _ id: StreamID, with chunk: [UInt8] = chunk) -> (
        stored: Int, error: JournalError?
    ) {
        var stored = 0
        while stored < 100_000 {
            do throws(JournalError) {
                _ = try journal.append(chunk, to: id)
                stored += 1
            } catch {
                return (stored, error)
            }
        }
        return (stored, nil)
    }

    @Test func anAppendWithoutRoomFailsAloneAndTheNextOneSucceedsOnceThereIsRoom() throws {
        let disk = DiskSpace()
        let path = TestDirectory().file("full.sj")
        let journal = try Journal(path: path, options: Self.options(disk))
        let id = try journal.createStream(StreamID("s"))
        disk.free = 0
        let (stored, error) = Self.fill(journal, id)
        #expect(stored > 0)
        guard case .io(let operation, _, let errno) = error else {
            Issue.record("expected an I/O error, got \(String(describing: error))")
            return
        }
        #expect(operation.hasPrefix("fallocate") && errno == Errno(rawValue: ENOSPC))
        #expect("\(error!)".contains("free some space, then retry"), "\(error!)")
        // The failed append stored nothing, and the handle still takes what needs no room.
        #expect(try journal.info(id).chunkCount == stored)
        #expect(throws: Never.self) { try journal.createStream(StreamID("small")) }
        disk.free = .max
        #expect(try journal.append(Self.chunk, to: id) == stored)
        try journal.close()

        let reopened = try Journal(path: path, options: Self.options(disk))
        #expect(try reopened.info(id).chunkCount == stored + 1)
        #expect(try reopened.info(StreamID("small")).chunkCount == 0)
        try reopened.close()
        #expect(try Journal.verify(path: path).isClean)
    }

    @Test func aBatchThatFindsNoRoomStoresNoneOfIt() throws {
        let disk = DiskSpace()
        let path = TestDirectory().file("batch.sj")
        let journal = try Journal(path: path, options: Self.options(disk))
        let id = try journal.createStream(StreamID("s"))
        disk.free = 0
        let (stored, _) = Self.fill(journal, id)
        // Room for a few small chunks is left at the end of the file; the batch needs more.
        let batch = [[UInt8]](repeating: [1, 2, 3], count: 4) + [Self.chunk]
        #expect(throws: JournalError.self) { try journal.append(contentsOf: batch, to: id) }
        #expect(try journal.info(id).chunkCount == stored)
        disk.free = .max
        #expect(try journal.append(contentsOf: batch, to: id) == stored..<stored + 5)
        try journal.close()
        let reopened = try Journal.openReadOnly(path: path)
        var cursor = try reopened.chunks(of: id, from: stored)
        #expect(try cursor.collect().map(\.bytes) == batch)
        try reopened.close()
    }

    /// Less room than the usual growth step (4 MiB) is still room for records.
    @Test func aNearlyFullDiskStillTakesTheRecordsThatFit() throws {
        let disk = DiskSpace()
        let path = TestDirectory().file("nearly.sj")
        let journal = try Journal(path: path, options: Self.options(disk))
        let id = try journal.createStream(StreamID("s"))
        disk.free = 0
        let (atTheEdge, _) = Self.fill(journal, id)
        let (fileSize, end) = journal.engine.lock.withLock { (journal.engine.fileSize, journal.engine.end) }
        let grants = disk.granted.count
        disk.free = 256 << 10
        let (more, error) = Self.fill(journal, id)
        #expect(error != nil)
        // What was left in the file and four growths of 64 KiB, in records of a 40-byte
        // header and 16 KiB.
        let record = UInt64(RecordField.size + Self.chunk.count)
        #expect(more == Int((fileSize - end + (256 << 10)) / record), "stored \(more) more")
        #expect(Array(disk.granted.dropFirst(grants)) == [64 << 10, 64 << 10, 64 << 10, 64 << 10])
        try journal.close()
        let reopened = try Journal.openReadOnly(path: path)
        #expect(try reopened.info(id).chunkCount == atTheEdge + more)
        try reopened.close()
    }

    /// `record` ends the stream as failed when a chunk finds no room, as when the journal
    /// refuses a chunk: the handle no longer goes down with the full disk, so the stream
    /// stayed open for good (until a restart interrupted it).
    @Test func recordingIntoAFullDiskFailsTheStream() async throws {
        let disk = DiskSpace()
        let journal = try Journal(path: TestDirectory().file("record.sj"), options: Self.options(disk))
        let id = try journal.createStream(StreamID("s"))
        disk.free = 0
        let chunks = AsyncStream<[UInt8]> { continuation in
            for _ in 0..<100 { continuation.yield([UInt8](repeating: 0x61, count: 64 << 10)) }
            continuation.finish()
        }
        await #expect(throws: JournalError.self) { try await journal.record(chunks, into: id) }
        let (fileSize, end) = journal.engine.lock.withLock { (journal.engine.fileSize, journal.engine.end) }
        // The terminal record, with a reason of a few hundred bytes, fits where the chunk did not.
        try #require(fileSize - end >= 1024)
        let info = try journal.info(id)
        #expect(info.status == .failed)
        #expect(info.reason?.contains("No space left on device") == true, "\(info.reason ?? "no reason")")
        try journal.close()
    }

    /// Closing on a full disk skips the final snapshot (the next open scans more log) and
    /// succeeds: it failed, and journal-server exited 1 without closing.
    @Test func closingOnAFullDiskSkipsTheSnapshot() throws {
        let disk = DiskSpace()
        let path = TestDirectory().file("close.sj")
        let journal = try Journal(path: path, options: Self.options(disk))
        let id = try journal.createStream(StreamID("s"))
        disk.free = 0
        let (stored, _) = Self.fill(journal, id)
        _ = Self.fill(journal, id, with: [1])
        let skipped = journal.engine.lock.withLock { journal.engine.statistics.snapshotsSkipped }
        #expect(throws: Never.self) { try journal.close() }
        #expect(journal.engine.lock.withLock { journal.engine.statistics.snapshotsSkipped } == skipped + 1)
        let reopened = try Journal.openReadOnly(path: path)
        #expect(reopened.recoveryReport.snapshotOffset == nil)
        #expect(try reopened.info(id).chunkCount > stored)
        try reopened.close()
    }

    /// The maintenance thread's snapshot meets the full disk too: it tries again a second
    /// later, not at once (it spun on a full core).
    @Test func aSnapshotWithoutRoomIsTriedAgainASecondLater() async throws {
        let disk = DiskSpace()
        let journal = try Journal(path: TestDirectory().file("snapshot.sj"), options: Self.options(disk))
        let id = try journal.createStream(StreamID("s"))
        disk.free = 0
        _ = Self.fill(journal, id)
        // To the last 48 bytes: less than any snapshot record.
        _ = Self.fill(journal, id, with: [1])
        let before = disk.refusals.count
        let snapshots = journal.engine.lock.withLock { journal.engine.statistics.snapshots }
        journal.engine.lock.withLock {
            journal.engine.bytesSinceSnapshot = 1 << 31
            journal.engine.lock.broadcast()
        }
        // Each try is refused twice: the usual step, then the least that would do.
        await until { disk.refusals.count >= before + 3 }
        let tries = Array(disk.refusals.dropFirst(before))
        #expect(tries.count >= 3)
        if tries.count >= 3 {
            #expect(tries[2] - tries[0] >= 900_000_000, "tries \((tries[2] - tries[0]) / 1000) µs apart")
        }
        disk.free = .max
        await until { journal.engine.lock.withLock { journal.engine.statistics.snapshots } > snapshots }
        #expect(journal.engine.lock.withLock { journal.engine.statistics.snapshots } == snapshots + 1)
        try journal.close()
    }
}
