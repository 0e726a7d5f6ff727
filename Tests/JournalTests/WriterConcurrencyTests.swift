import Foundation
import TestSupport
import Testing

@testable import Journal

/// Orderings of the writer's own threads that a review of the write path found broken
/// (helper-29): each test sets up the ordering deterministically, or makes it the steady
/// state. Each fails without its fix, except the two under steady load (see there).
@Suite struct WriterConcurrencyTests {
    /// Options for a journal whose background thread a test stops or does not need.
    private static var quiet: JournalOptions {
        var options = JournalOptions(durability: .none)
        options.autoCompaction = nil
        options.checkpointAtEverySync()
        return options
    }

    /// Async durability waiters were resumed only by a sync. A failure that is not a sync's
    /// (a `fallocate` hitting a full disk) poisoned the handle, the maintenance thread then
    /// ran no sync, and a task in `appendSuspending` or `record` stayed suspended until close.
    @Test func anAsyncDurabilityWaiterMeetsAFailureThatIsNotASyncs() async throws {
        let journal = try Journal(path: TestDirectory().file("poison.sj"), options: Self.quiet)
        journal.engine.stopMaintenanceThread()  // no sync for async waiters from here on
        let id = try journal.createStream()
        let (_, position) = try [UInt8](repeating: 1, count: 8).withUnsafeBytes {
            try journal.engine.appendWithoutAcknowledging($0, to: id)
        }
        let outcome = Locked<String?>(nil)
        let waiter = Task {
            do {
                try await journal.engine.awaitDurable(upTo: position)
                outcome.withLock { $0 = "durable" }
            } catch {
                outcome.withLock { $0 = "\(error)" }
            }
        }
        await until { journal.engine.lock.withLock { journal.engine.durabilityWaiters.count } == 1 }
        journal.engine.lock.withLock {
            _ = journal.engine.poison(.io(operation: "fallocate", path: journal.path, errno: Errno(rawValue: ENOSPC)))
        }
        await until { outcome.withLock { $0 } != nil }
        let message = outcome.withLock { $0 }
        #expect(message?.contains("fallocate") == true, "\(String(describing: message))")
        try? journal.close()
        await waiter.value
    }

    /// Under `everyAcknowledgement` with two appenders, each sync can hand the next one to
    /// the other appender's queued ticket, so that a sync is always in flight; `close` waited
    /// for none to be, while the appenders went on (the journal was not closed yet). New
    /// writes now wait while close drains the queue, and are then refused as closed.
    ///
    /// This checks the outcome under that load, not the unbounded wait itself: without the
    /// pause it passes too, in about 3 s instead of 0.1 s, because on this machine the chain
    /// of hand-offs ends by itself (a sync covers both appenders' records now and then).
    @Test func closeReturnsUnderSteadyDurableAppends() throws {
        let appenders = try SteadyAppenders(file: TestDirectory().file("close.sj"))
        let closed = DispatchSemaphore(value: 0)
        Thread {
            try? appenders.journal.close()
            closed.signal()
        }.start()
        #expect(closed.wait(timeout: .now() + 60) == .success, "close did not return")
        let errors = appenders.stop()
        #expect(errors.allSatisfy { $0 == .closed(path: appenders.journal.path) }, "\(errors)")
    }

    /// The same for a compaction, whose swap waited for no sync to be in flight (and the
    /// same limit: it passes without the pause, slower).
    @Test func compactionReturnsUnderSteadyDurableAppends() throws {
        let appenders = try SteadyAppenders(file: TestDirectory().file("compact.sj"))
        let compacted = DispatchSemaphore(value: 0)
        let result = Locked<String?>(nil)
        Thread {
            do {
                try appenders.journal.compact(policy: .keepEverything)
                result.withLock { $0 = "compacted" }
            } catch {
                result.withLock { $0 = "\(error)" }
            }
            compacted.signal()
        }.start()
        #expect(compacted.wait(timeout: .now() + 60) == .success, "the compaction did not return")
        #expect(result.withLock { $0 } == "compacted")
        #expect(appenders.stop().isEmpty)
        try appenders.journal.close()
    }

    /// A snapshot's header was written without waiting for an earlier header write to be
    /// synced: a checkpoint written by another thread's sync after the snapshot's own sync
    /// sat unsynced in one slot, and the snapshot's header went over the other, the last
    /// durable one; a power cut tearing both left no valid slot. The interposer writes that
    /// checkpoint during the snapshot's sync; a sync must now come between the two headers.
    @Test func aSnapshotHeaderNeverFollowsAnUnsyncedHeaderWrite() throws {
        let interposer = HeaderWrittenDuringASync()
        var options = Self.quiet
        options.interposition = Interposition(interposer: interposer)
        let journal = try Journal(path: TestDirectory().file("headers.sj"), options: options)
        journal.engine.stopMaintenanceThread()
        interposer.engine.set(journal.engine)
        let id = try journal.createStream()
        try journal.append("x", to: id)
        interposer.arm()
        try journal.writeSnapshot()
        let sequence = interposer.recorded()
        #expect(sequence.filter { $0 == "header" }.count == 2, "\(sequence)")
        #expect(!zip(sequence, sequence.dropFirst()).contains { $0 == ("header", "header") }, "\(sequence)")
        try journal.close()
    }

    /// A write waiting out a pause must read the stream table only after it: a compaction's
    /// swap renumbers the table. The first version of the pause waited inside the idempotent
    /// append after its lookup, so a retry went to whatever stream then held the old slot,
    /// or past the table's end (a trap). Here a stream before the appended one is deleted,
    /// so the compaction moves it from slot 1 to slot 0 while the append waits.
    @Test func aWriteWaitingOutAPauseLooksUpItsStreamAfterTheSwap() throws {
        let journal = try Journal(path: TestDirectory().file("renumber.sj"), options: Self.quiet)
        let engine = journal.engine
        let gone = try journal.createStream(StreamID("gone"))
        let kept = try journal.createStream(StreamID("kept"))
        try journal.append("g0", to: gone)
        try journal.append("k0", to: kept)
        try journal.deleteStream(gone)
        engine.lock.withLock { engine.writePauses += 1 }
        let outcome = Locked<String?>(nil)
        let appender = Thread {
            do {
                let result = try journal.append(Array("k1".utf8), to: kept, at: 1)
                outcome.withLock { $0 = "\(result)" }
            } catch {
                outcome.withLock { $0 = "\(error)" }
            }
        }
        appender.start()
        let deadline = Clock.monotonicNanoseconds() + 30_000_000_000
        while engine.lock.withLock({ engine.writersWaitingForPause }) == 0 && Clock.monotonicNanoseconds() < deadline {
            sched_yield()
        }
        #expect(engine.lock.withLock { engine.writersWaitingForPause } == 1)
        try journal.compact(policy: .keepEverything)
        engine.lock.withLock {
            engine.writePauses -= 1
            engine.lock.broadcast()
        }
        while outcome.withLock({ $0 }) == nil && Clock.monotonicNanoseconds() < deadline { sched_yield() }
        #expect(outcome.withLock { $0 } == "appended")
        var chunks = try journal.chunks(of: kept)
        #expect(try [chunks.next()?.text, chunks.next()?.text, chunks.next()?.text] == ["k0", "k1", nil])
        #expect(throws: JournalError.unknownStream(gone)) { try journal.info(gone) }
        try journal.close()
    }

    /// `close` synced nothing when it wrote no snapshot (a table too large for one): the
    /// snapshot's sync was its only one, and the maintenance thread had stopped.
    @Test func closeSyncsWhenItWritesNoSnapshot() throws {
        let injector = FaultInjector()
        var options = Self.quiet
        options.snapshotBodyLimit = 0
        options.interposition = Interposition(interposer: injector)
        let journal = try Journal(path: TestDirectory().file("nosnap.sj"), options: options)
        let id = try journal.createStream()
        try journal.append("x", to: id)
        let syncs = { injector.operations.filter { $0 == .dataSync }.count }
        let before = syncs()
        try journal.close()
        #expect(syncs() > before)
    }
}

/// Two threads appending durably to their own streams until told to stop or refused.
private final class SteadyAppenders: @unchecked Sendable {
    let journal: Journal
    private let stopped = Locked(false)
    private let errors = Locked<[JournalError]>([])
    private let appended = Locked(0)
    private let done = DispatchGroup()

    init(file: String) throws {
        var options = JournalOptions(durability: .everyAcknowledgement)
        options.autoCompaction = nil
        // Each sync lasts until the other appender has queued behind it (or 50 ms): the
        // steady state of a busy server. With a plain disk here the queue empties so often
        // that close waited through only 8 syncs.
        let disk = SyncUntilQueued()
        options.interposition = Interposition(interposer: disk)
        journal = try Journal(path: file, options: options)
        disk.engine.set(journal.engine)
        for _ in 0..<2 {
            let id = try journal.createStream()
            done.enter()
            Thread { [self] in
                while !stopped.withLock({ $0 }) {
                    do throws(JournalError) {
                        try journal.append("chunk", to: id)
                        appended.withLock { $0 += 1 }
                    } catch {
                        errors.withLock { $0.append(error) }
                        break
                    }
                }
                done.leave()
            }.start()
        }
        // Steady state: both appenders have gone through group commit a few times.
        while appended.withLock({ $0 }) < 200 && errors.withLock({ $0.isEmpty }) { sched_yield() }
    }

    /// Stops the appenders and returns the errors they met.
    func stop() -> [JournalError] {
        stopped.withLock { $0 = true }
        done.wait()
        return errors.withLock { $0 }
    }
}

/// A disk whose `fdatasync` returns only once another thread has queued for the next sync,
/// with records this one does not cover, or after 50 ms (a bound, so that a writer that stops appending is not held up for good).
/// Only the journal file's own syncs: a compaction syncs its new file with the lock held.
private final class SyncUntilQueued: IOInterposer, @unchecked Sendable {
    let engine = WeakEngine()

    func willPerform(_ operation: IOOperation, descriptor: Int32) throws(Errno) {
        guard operation == .dataSync, let (engine, journalFile) = engine.get(), descriptor == journalFile
        else { return }
        let deadline = Clock.monotonicNanoseconds() + 50_000_000
        // The leader runs this with the engine's lock released. Only a ticket for records
        // beyond what this sync covers keeps the queue from emptying when it ends (one for
        // records before its goal is covered by it): wait for one past the end as of now.
        let covered = engine.lock.withLock { engine.end }
        while !engine.lock.withLock({ engine.syncQueue.contains { $0.target > covered } })
            && Clock.monotonicNanoseconds() < deadline
        {
            sched_yield()
        }
    }

    func didPerform(_ operation: IOOperation, descriptor: Int32) {}
}

/// Records header writes and syncs; once armed, writes a header (as another thread's
/// checkpoint would) right after the next sync, with the engine's lock free.
private final class HeaderWrittenDuringASync: IOInterposer, @unchecked Sendable {
    let engine = WeakEngine()
    private let state = Locked((armed: false, recording: false, sequence: [String]()))

    func arm() { state.withLock { $0 = (true, true, []) } }

    func recorded() -> [String] { state.withLock { $0.sequence } }

    func willPerform(_ operation: IOOperation, descriptor: Int32) throws(Errno) {
        state.withLock { state in
            guard state.recording else { return }
            switch operation {
            case .dataSync: state.sequence.append("sync")
            case .write(let offset, _) where offset < Layout.logStart: state.sequence.append("header")
            default: break
            }
        }
    }

    func didPerform(_ operation: IOOperation, descriptor: Int32) {
        guard operation == .dataSync else { return }
        let fire = state.withLock { state -> Bool in
            defer { state.armed = false }
            return state.armed
        }
        guard fire, let engine = engine.get()?.engine else { return }
        engine.lock.withLock { try? engine.writeHeader() }
    }
}

/// The engine a test double calls back into, held weakly: the engine holds the double
/// through its options, and a strong reference back made a cycle that leaked both (the
/// sanitizer pass reports leaks).
private final class WeakEngine: @unchecked Sendable {
    private let lock = NSLock()
    private weak var engine: JournalEngine?
    private var descriptor: Int32 = -1

    /// Remembers `engine` and the descriptor of its journal file.
    func set(_ engine: JournalEngine) {
        let descriptor = engine.lock.withLock { engine.fd.rawValue }
        lock.lock()
        defer { lock.unlock() }
        (self.engine, self.descriptor) = (engine, descriptor)
    }

    func get() -> (engine: JournalEngine, descriptor: Int32)? {
        lock.lock()
        defer { lock.unlock() }
        return engine.map { ($0, descriptor) }
    }
}
