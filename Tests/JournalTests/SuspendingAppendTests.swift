import TestSupport
import Testing

@testable import Journal

#if canImport(Glibc)
    import Glibc
#endif

/// `appendSuspending`: durable before it returns under every-ack, syncs shared between tasks,
/// a failed sync reaches every waiting task.
@Suite("Suspending append")
struct SuspendingAppendTests {
    private static func options(_ injector: FaultInjector, _ durability: Durability) -> JournalOptions {
        // Streams stay open across the reopen in the failure test.
        var options = JournalOptions(durability: durability, openStreams: .keepOpen(staleAfter: .seconds(3600)))
        options.autoCompaction = nil
        options.interposition = Interposition(interposer: injector)
        // The injected failure must land on a sync that tasks wait on, not on the maintenance
        // loop's idle checkpoint sync: a loaded CI machine once kept every task off the
        // cooperative pool for a second after a sync, the idle sync took the failure, and the
        // tasks saw only the poisoned handle.
        options.checkpointAtEverySync()
        return options
    }

    /// (log end, end covered by a successful fdatasync), read together under the lock.
    private static func ends(_ journal: Journal) -> (end: UInt64, synced: UInt64) {
        journal.engine.lock.withLock { (journal.engine.end, journal.engine.syncedEnd) }
    }

    @Test("under every-ack each append returns only after a sync covered it")
    func returnsOnlyWhenDurable() async throws {
        let directory = TestDirectory()
        let injector = FaultInjector()
        let journal = try Journal(path: directory.file("j"), options: Self.options(injector, .everyAcknowledgement))
        let stream = try journal.createStream(StreamID("s"))
        for index in 0..<50 {
            #expect(try await journal.appendSuspending("chunk \(index)", to: stream) == index)
            // One task appends: everything written so far is this task's, so all of it is synced.
            let (end, synced) = Self.ends(journal)
            #expect(synced >= end, "append \(index) returned with bytes \(synced)..<\(end) not yet synced")
        }
        #expect(try await journal.appendSuspending([0, 255, 10], to: stream) == 50)
        var cursor = try journal.chunks(of: stream, from: 50)
        #expect(try cursor.next()?.bytes == [0, 255, 10])
        try journal.close()
    }

    @Test("without every-ack it returns without waiting for a sync")
    func otherPoliciesDoNotSync() async throws {
        let directory = TestDirectory()
        let injector = FaultInjector()
        let journal = try Journal(path: directory.file("j"), options: Self.options(injector, .none))
        let stream = try journal.createStream(StreamID("s"))
        let syncsBefore = injector.operations.filter { $0.kind == .dataSync }.count
        for index in 0..<20 { #expect(try await journal.appendSuspending("c\(index)", to: stream) == index) }
        #expect(injector.operations.filter { $0.kind == .dataSync }.count == syncsBefore)
        #expect(try journal.info(stream).chunkCount == 20)
        try journal.close()
    }

    @Test("many tasks share syncs and each stream keeps its order")
    func tasksShareSyncs() async throws {
        let directory = TestDirectory()
        let injector = FaultInjector()
        let path = directory.file("j")
        let journal = try Journal(path: path, options: Self.options(injector, .everyAcknowledgement))
        let tasks = 200
        let perTask = 20
        let streams = try (0..<tasks).map { try journal.createStream(StreamID("t\($0)")) }
        let syncsBefore = injector.operations.filter { $0.kind == .dataSync }.count
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    for index in 0..<perTask {
                        let got = try await journal.appendSuspending(
                            ledgerPayload("t\(task)", index), to: streams[task])
                        #expect(got == index)
                    }
                }
            }
            try await group.waitForAll()
        }
        let syncs = injector.operations.filter { $0.kind == .dataSync }.count - syncsBefore
        #expect(syncs > 0)
        #expect(
            syncs <= tasks * perTask / 2, "\(syncs) syncs for \(tasks * perTask) chunks: group commit did not group")
        try journal.close()
        let reader = try Journal.openReadOnly(path: path)
        for task in 0..<tasks {
            var cursor = try reader.chunks(of: streams[task])
            #expect(try cursor.collect().map(\.bytes) == (0..<perTask).map { ledgerPayload("t\(task)", $0) })
        }
        try reader.close()
    }

    @Test("a failed sync fails every waiting task with the errno, and the handle refuses writes")
    func failedSyncReachesEveryTask() async throws {
        let directory = TestDirectory()
        let path = directory.file("j")
        let tasks = 32
        // Streams first (each create syncs), then count the syncs an open makes, so that the
        // injected failure lands among the appends.
        let setup = try Journal(path: path, options: Self.options(FaultInjector(), .everyAcknowledgement))
        let streams = try (0..<tasks).map { try setup.createStream(StreamID("t\($0)")) }
        try setup.close()
        let counter = FaultInjector()
        try Journal(path: path, options: Self.options(counter, .everyAcknowledgement)).close()
        let syncsAtOpen = counter.operations.filter { $0.kind == .dataSync }.count
        let injector = FaultInjector(failing: syncsAtOpen + 2, of: .dataSync)
        let journal = try Journal(path: path, options: Self.options(injector, .everyAcknowledgement))
        let errors = await withTaskGroup(of: JournalError?.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    // Appends until the failure reaches this task; none may hang.
                    for index in 0... {
                        do throws(JournalError) {
                            _ = try await journal.appendSuspending(ledgerPayload("t\(task)", index), to: streams[task])
                        } catch {
                            return error
                        }
                    }
                    return nil
                }
            }
            var errors: [JournalError?] = []
            for await error in group { errors.append(error) }
            return errors
        }
        #expect(errors.count == tasks && errors.allSatisfy { $0 != nil }, "\(errors.prefix(3))")
        #expect(
            errors.contains { if case .io(_, _, let code) = $0 { code == Errno(rawValue: EIO) } else { false } },
            "\(errors.prefix(3))")
        #expect(injector.injected?.kind == .dataSync)
        #expect(throws: JournalError.self) { try journal.append("more", to: streams[0]) }
        try? journal.close()
    }
}
