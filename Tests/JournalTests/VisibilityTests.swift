import Foundation
import TestSupport
import Testing

@testable import Journal

/// An I/O seam double that holds every `fdatasync` while closed, so a test can look at the
/// journal between a record's write and its sync. `closed` is guarded by `condition`.
final class SyncGate: IOInterposer, @unchecked Sendable {
    private let condition = NSCondition()
    private var closed = false

    func close() {
        condition.lock()
        closed = true
        condition.unlock()
    }

    func open() {
        condition.lock()
        closed = false
        condition.broadcast()
        condition.unlock()
    }

    func willPerform(_ operation: IOOperation, descriptor: Int32) throws(Errno) {
        guard operation.kind == .dataSync else { return }
        condition.lock()
        while closed { condition.wait() }
        condition.unlock()
    }

    func didPerform(_ operation: IOOperation, descriptor: Int32) {}
}

/// FORMAT.md §10: visibility does not wait for durability.
@Suite struct VisibilityTests {
    @Test("under every-ack a follower receives a chunk before the fdatasync that makes it durable")
    func followersSeeChunksBeforeTheirSync() async throws {
        let directory = TestDirectory()
        let gate = SyncGate()
        var options = JournalOptions(durability: .everyAcknowledgement)
        options.autoCompaction = nil
        options.interposition = Interposition(interposer: gate)
        let journal = try Journal(path: directory.file("j"), options: options)
        let stream = try journal.createStream(StreamID("s"))
        var follower = try journal.follow(stream).makeAsyncIterator()

        gate.close()
        let appended = Locked<Int?>(nil)
        let appender = Task {
            // Suspends until a sync covers the chunk, which the closed gate holds back.
            let index = try await journal.appendSuspending("visible early", to: stream)
            appended.withLock { $0 = index }
            return index
        }

        guard case .chunk(let chunk)? = try await follower.next() else {
            Issue.record("the follower ended without the chunk")
            gate.open()
            return
        }
        #expect(chunk.index == 0)
        #expect(chunk.bytes == Array("visible early".utf8))
        // The follower has the chunk; the append that wrote it has not returned, and no sync
        // has covered it.
        let (end, synced) = journal.engine.lock.withLock { (journal.engine.end, journal.engine.syncedEnd) }
        #expect(synced < end, "the chunk was already durable: this test shows nothing")
        #expect(appended.withLock { $0 } == nil)

        gate.open()
        #expect(try await appender.value == 0)
        try journal.close()
    }
}
