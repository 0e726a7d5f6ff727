import TestSupport
import Testing

@testable import Journal

#if canImport(Glibc)
    import Glibc
#endif

/// EIO and ENOSPC at every file operation of a workload, one at a time (countdown style):
/// each failure must surface as an error naming the operation and errno, the handle must
/// refuse further writes (or, for a failure confined to a compaction's temporary file, stay
/// fully usable), and reopening must give back a consistent journal holding everything that
/// was acknowledged.
@Suite("Fault injection")
struct FaultInjectionTests {
    static func options(_ injector: FaultInjector) -> JournalOptions {
        var options = JournalOptions(
            durability: .everyAcknowledgement, openStreams: .keepOpen(staleAfter: .seconds(3600)))
        options.autoCompaction = nil
        // Snapshots only when the workload asks, so every run makes the same calls in the
        // same order on one thread.
        options.snapshotInterval = 1 << 30
        options.interposition = Interposition(interposer: injector)
        // The same file operations on every run.
        options.checkpointAtEverySync()
        return options
    }

    /// The operations a fault-free run performs.
    static func baseline() -> [IOOperation] {
        let directory = TestDirectory()
        let injector = FaultInjector()
        let workload = LedgerWorkload(path: directory.file("j"), options: options(injector))
        let outcome = workload.run()
        precondition(outcome == nil, "the fault-free workload failed: \(String(describing: outcome?.error))")
        return injector.operations
    }

    @Test("the workload exercises every kind of operation and passes its own ledger check")
    func baselineCoversEveryKind() {
        let directory = TestDirectory()
        let injector = FaultInjector()
        let workload = LedgerWorkload(path: directory.file("j"), options: Self.options(injector))
        #expect(workload.run() == nil)
        let kinds = Set(injector.operations.map(\.kind))
        #expect(
            kinds.isSuperset(of: [
                .open, .create, .write, .dataSync, .sync, .allocate, .zeroRange, .map, .link, .rename, .syncDirectory,
                .startThread,
            ]))
        let ledger = workload.ledger.snapshot
        #expect(ledger.finished["b"] == .completed && ledger.acknowledged["b"] == 22)
        #expect(ledgerViolations(path: directory.file("j"), ledger: ledger, context: "baseline").isEmpty)
    }

    /// FORMAT.md §3: link, unlink of the temporary name, then one directory sync. The unlink
    /// used to follow the sync, so a power loss could bring the temporary name back as a
    /// second hard link to the journal.
    @Test func creationRemovesTheTemporaryNameBeforeTheDirectorySync() throws {
        let directory = TestDirectory()
        let injector = FaultInjector()
        let journal = try Journal(path: directory.file("j"), options: Self.options(injector))
        try journal.close()
        let kinds = injector.operations.map(\.kind)
        let link = kinds.firstIndex(of: .link)
        let unlink = kinds.firstIndex(of: .unlink)
        let directorySync = kinds.firstIndex(of: .syncDirectory)
        #expect(link != nil && unlink != nil && directorySync != nil, "\(kinds)")
        if let link, let unlink, let directorySync {
            #expect(link < unlink && unlink < directorySync, "\(kinds)")
        }
    }

    /// A writer thread that could not start (EAGAIN under a thread limit) was ignored: the
    /// open succeeded without it, so no interval sync, snapshot or stale check ever ran, and
    /// durable async appends waited for a sync nobody led. The open now fails, and the
    /// threads it had started are stopped (the lock is free for the next open).
    @Test func aWriterThreadThatCannotStartFailsTheOpen() throws {
        let path = TestDirectory().file("threads.sj")
        for (number, name) in ["maintenance", "prefault", "compaction"].enumerated() {
            let injector = FaultInjector(failing: number, of: .startThread, with: Errno(rawValue: EAGAIN))
            var options = JournalOptions(durability: .interval(.milliseconds(5)))
            options.interposition = Interposition(interposer: injector)
            do {
                let journal = try Journal(path: path, options: options)
                Issue.record("the open succeeded without its \(name) thread")
                try journal.close()
            } catch {
                guard case .io(let operation, _, let errno) = error else {
                    Issue.record("\(name): \(error)")
                    continue
                }
                #expect(operation == "pthread_create (the \(name) thread)")
                #expect(errno.rawValue == EAGAIN)
            }
            #expect(injector.injected == .startThread(name: name))
            let again = try Journal(path: path, options: JournalOptions(durability: .none))
            try again.close()
        }
    }

    /// A read-only handle whose poller thread could not start carried on without it: its
    /// followers registered and waited, for good, for a look that nobody made. A stream
    /// follower, a journal-wide follower and a watch now each meet the error instead.
    @Test func aPollerThatCannotStartEndsEachKindOfWaiterWithTheError() async throws {
        let path = TestDirectory().file("poller.sj")
        let writer = try Journal(path: path, options: JournalOptions(durability: .none))
        defer { try? writer.close() }
        let id = try writer.createStream(StreamID("s"))
        try writer.append("first", to: id)
        let expected = JournalError.io(
            operation: "pthread_create (the poller thread)", path: path, errno: Errno(rawValue: EAGAIN))
        /// A read-only handle whose first thread start fails.
        func reader() throws -> Journal {
            var options = JournalOptions()
            let injector = FaultInjector(failing: 0, of: .startThread, with: Errno(rawValue: EAGAIN))
            options.interposition = Interposition(interposer: injector)
            return Journal(engine: try JournalEngine.openReadOnly(path: path, options: options))
        }
        /// What `body` threw, or nil if it returned or was still waiting after 10 s.
        func outcome(_ body: @escaping @Sendable () async throws -> Void) async -> JournalError? {
            await withTaskGroup(of: JournalError?.self) { group in
                group.addTask {
                    do { try await body() } catch { return error as? JournalError }
                    return nil
                }
                group.addTask {
                    try? await Task.sleep(for: .seconds(10))  // a bound, not a synchronisation
                    return nil
                }
                let first = await group.next()!
                group.cancelAll()
                return first
            }
        }

        let following = try reader()
        let follower = try following.follow(id)
        #expect(await outcome { for try await _ in follower {} } == expected)
        try following.close()

        let listening = try reader()
        let events = try listening.events(from: .beginning)
        #expect(await outcome { for try await _ in events {} } == expected)
        try listening.close()

        let watching = try reader()
        #expect(throws: expected) { _ = try watching.watch(id, beyond: 1) {} }
        try watching.close()
    }

    @Test("every operation fails once, with EIO and with ENOSPC", arguments: [EIO, ENOSPC])
    func everyOperationFails(errno code: Int32) {
        let injected = Errno(rawValue: code)
        let total = Self.baseline().count
        var surfaced = 0
        for number in 0..<total {
            let directory = TestDirectory()
            let path = directory.file("j")
            let injector = FaultInjector(failing: number, with: injected)
            let workload = LedgerWorkload(path: path, options: Self.options(injector))
            let outcome = workload.run()
            guard let operation = injector.injected else {
                Issue.record("operation \(number) of \(total) was never reached")
                continue
            }
            let context = "\(injected) at operation \(number) (\(operation))"
            if let (error, journal, step) = outcome {
                surfaced += 1
                guard case .io(let name, _, let reported) = error, reported == injected else {
                    Issue.record("\(context): step \(step) threw \(error), expected an I/O error with \(injected)")
                    journal.map { try? $0.close() }
                    continue
                }
                #expect(!name.isEmpty && "\(error)".contains("\(injected)"), "\(context): \(error)")
                if let journal {
                    let probe = Result { () throws(JournalError) in try journal.createStream(StreamID(trusted: "probe"))
                    }
                    switch probe {
                    case .success:
                        // Only a failure confined to the compaction's temporary file leaves the
                        // journal itself untouched and writable.
                        #expect(step == "compact", "\(context): writes still accepted after \(error) in \(step)")
                        do throws(JournalError) {
                            try workload.continueAfterSurvivedFailure(journal)
                        } catch {
                            Issue.record("\(context): the handle accepted a stream but then failed: \(error)")
                        }
                    case .failure(let refusal):
                        if case .poisoned = refusal {
                        } else if case .closed = refusal {
                        } else {
                            Issue.record("\(context): a write after the failure threw \(refusal), expected poisoned")
                        }
                    }
                    try? journal.close()
                }
            } else {
                // The failure was absorbed: only removing a temporary file may be.
                #expect(operation.kind == .unlink, "\(context): the failure was swallowed")
            }
            let violations = ledgerViolations(path: path, ledger: workload.ledger.snapshot, context: context)
            for violation in violations { Issue.record(Comment(rawValue: violation)) }
        }
        print("fault injection \(injected): \(total) operations, \(surfaced) surfaced")
        #expect(surfaced > total / 2)
    }

    @Test("a failed group commit fails every appender waiting on it, and none hangs")
    func failedGroupCommitFailsEveryWaiter() throws {
        let directory = TestDirectory()
        let path = directory.file("j")
        // The 30th fdatasync fails, while 16 threads wait for syncs.
        let injector = FaultInjector(failing: 30, of: .dataSync)
        var options = Self.options(injector)
        options.openStreams = .interrupt
        let journal = try Journal(path: path, options: options)
        let threads = 16
        let ids = try (0..<threads).map { try journal.createStream(StreamID("t\($0)")) }
        let ledger = Ledger()
        let errors = Locked<[JournalError]>([])
        onThreads(threads) { thread in
            let name = "t\(thread)"
            var index = 0
            while true {
                ledger.update { $0.attempted[name] = index + 1 }
                do throws(JournalError) {
                    _ = try journal.append(ledgerPayload(name, index), to: ids[thread])
                } catch {
                    errors.withLock { $0.append(error) }
                    return
                }
                ledger.update { $0.acknowledged[name] = index + 1 }
                index += 1
            }
        }
        let seen = errors.withLock { $0 }
        #expect(seen.count == threads, "every appender ends with an error")
        #expect(seen.contains { if case .io(_, _, let code) = $0 { code == Errno(rawValue: EIO) } else { false } })
        #expect(
            seen.allSatisfy { error in
                if case .io = error { return true }
                if case .poisoned = error { return true }
                return false
            })
        try? journal.close()
        var state = ledger.snapshot
        state.created = Set((0..<threads).map { "t\($0)" })
        for violation in ledgerViolations(path: path, ledger: state, context: "failed group commit") {
            Issue.record(Comment(rawValue: violation))
        }
    }
}
