import Foundation
import TestSupport
import Testing

@testable import Journal

#if canImport(Glibc)
    import Glibc
#endif

/// Collects a follower's events: chunk indices and texts, and the terminal info.
func drain(_ follower: StreamFollower) async throws -> (indices: [Int], texts: [String], end: StreamInfo?) {
    var indices: [Int] = []
    var texts: [String] = []
    for try await event in follower {
        switch event {
        case .chunk(let chunk):
            indices.append(chunk.index)
            texts.append(chunk.text)
        case .finished(let info):
            return (indices, texts, info)
        }
    }
    return (indices, texts, nil)
}

/// Returns once `condition` holds, or after `seconds`, so that a condition that never comes
/// true fails the caller's checks instead of hanging the run. Generous deadlines are for
/// tasks that must be scheduled first: the whole suite runs in parallel on two cooperative
/// threads, and tasks have waited 9 s there to run at all.
func until(seconds: UInt64 = 10, _ condition: () -> Bool) async {
    let deadline = Clock.monotonicNanoseconds() + seconds * 1_000_000_000
    while !condition() && Clock.monotonicNanoseconds() < deadline { await Task.yield() }
}

/// Returns once a follower of `journal` has replayed and is suspended (or after 10 s).
func untilSomeoneWaits(on journal: Journal) async {
    await until { journal.engine.waiterCount > 0 }
}

@Suite struct FollowTests {
    @Test func replayThenLiveThenTheEnd() async throws {
        let journal = try Journal(path: TestDirectory().file("follow.sj"), options: JournalOptions(durability: .none))
        let id = try journal.createStream(StreamID("s"))
        for i in 0..<3 { try journal.append("r\(i)", to: id) }
        let follower = try journal.follow(id, from: 1)
        let consumer = Task { try await drain(follower) }
        for i in 3..<6 { try journal.append("r\(i)", to: id) }
        try journal.fail(id, reason: "rate limited")
        let (indices, texts, end) = try await consumer.value
        #expect(indices == Array(1..<6))
        #expect(texts == (1..<6).map { "r\($0)" })
        #expect(end?.status == .failed && end?.reason == "rate limited")
        #expect(throws: JournalError.indexOutOfRange(id, index: 7, count: 6)) { try journal.follow(id, from: 7) }
        try journal.close()
    }

    @Test func noGapOrDuplicateAtTheReplayToLiveBoundaryUnderRacingAppends() async throws {
        let journal = try Journal(path: TestDirectory().file("race.sj"), options: JournalOptions(durability: .none))
        var generator = SystemRandomNumberGenerator()
        for iteration in 0..<2000 {
            let id = try journal.createStream(StreamID("race-\(iteration)"))
            let before = Int.random(in: 0...5, using: &generator)
            let after = Int.random(in: 0...5, using: &generator)
            for i in 0..<before { try journal.append("c\(i)", to: id) }
            let start = Int.random(in: 0...before, using: &generator)
            let follower = try journal.follow(id, from: start)
            // The appends race the follower's first steps on another thread.
            let writer = Task.detached {
                for i in before..<before + after { try journal.append("c\(i)", to: id) }
                try journal.complete(id)
            }
            let (indices, texts, end) = try await drain(follower)
            try await writer.value
            #expect(indices == Array(start..<before + after), "iteration \(iteration)")
            #expect(texts == (start..<before + after).map { "c\($0)" })
            #expect(end?.status == .completed)
        }
        #expect(journal.engine.waiterCount == 0)
        try journal.close()
    }

    @Test func cancellingTheConsumerEndsItPromptlyAndReleasesItsWaiter() async throws {
        let journal = try Journal(path: TestDirectory().file("cancel.sj"))
        let id = try journal.createStream(StreamID("idle"))
        try journal.append("only", to: id)
        let follower = try journal.follow(id)
        let consumer = Task { () -> Int in
            var seen = 0
            for try await _ in follower { seen += 1 }
            return seen
        }
        await untilSomeoneWaits(on: journal)
        #expect(journal.engine.waiterCount == 1)
        consumer.cancel()
        #expect(try await consumer.value == 1)
        #expect(journal.engine.waiterCount == 0)
        // The stream itself is untouched by a reader going away.
        #expect(try journal.info(id).status == .open)
        try journal.close()
    }

    @Test func aThousandFollowersOfOneStreamEachReceiveEveryChunkInOrder() async throws {
        let journal = try Journal(path: TestDirectory().file("fan.sj"), options: JournalOptions(durability: .none))
        let id = try journal.createStream(StreamID("fan"))
        let chunks = 200
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<1000 {
                let follower = try journal.follow(id)
                group.addTask {
                    let (indices, _, end) = try await drain(follower)
                    return indices == Array(0..<chunks) && end?.status == .completed
                }
            }
            let writer = Task.detached {
                for i in 0..<chunks { try journal.append("chunk \(i)", to: id) }
                try journal.complete(id)
            }
            var good = 0
            for try await ok in group where ok { good += 1 }
            try await writer.value
            #expect(good == 1000)
        }
        #expect(journal.engine.waiterCount == 0)
        try journal.close()
    }

    @Test func aFollowersChunksStayReadableAfterACompactionReplacesTheirMapping() async throws {
        let journal = try Journal(path: TestDirectory().file("alias.sj"), options: JournalOptions(durability: .none))
        // A deleted stream ahead of the followed one, so that compaction moves its records.
        let doomed = try journal.createStream(StreamID("doomed"))
        try journal.append(String(repeating: "x", count: 100_000), to: doomed)
        try journal.deleteStream(doomed)
        let id = try journal.createStream(StreamID("live"))
        try journal.append("before", to: id)
        let follower = try journal.follow(id)
        let consumer = Task { () -> [Chunk] in
            var chunks: [Chunk] = []
            for try await event in follower {
                if case .chunk(let chunk) = event { chunks.append(chunk) }
            }
            return chunks
        }
        await untilSomeoneWaits(on: journal)
        #expect(journal.engine.waiterCount == 1)
        // The file and its mapping are replaced while the follower waits with a handle on the
        // old one. The compaction wakes it; the next chunk must come from the new file, where
        // every offset has moved.
        let report = try journal.compact(policy: .keepEverything)
        #expect(report.logBytesAfter < report.logBytesBefore)
        try journal.append("after", to: id)
        try journal.complete(id)
        let chunks = try await consumer.value
        // The engine let go of the first mapping at the compaction; the first chunk holds it
        // through the follower's alias.
        #expect(chunks.map(\.index) == [0, 1])
        #expect(chunks.map(\.text) == ["before", "after"])
        try journal.close()
    }

    @Test func aFinishedFollowerLetsGoOfItsMapping() async throws {
        let journal = try Journal(path: TestDirectory().file("done.sj"), options: JournalOptions(durability: .none))
        let id = try journal.createStream(StreamID("s"))
        try journal.append("only", to: id)
        try journal.complete(id)
        var iterator = try journal.follow(id).makeAsyncIterator()
        guard case .chunk = try await iterator.next() else {
            Issue.record("expected the chunk first")
            return
        }
        weak let alias = iterator.alias
        #expect(alias != nil)
        guard case .finished = try await iterator.next() else {
            Issue.record("expected the end")
            return
        }
        // A parked iterator would otherwise pin the mapping (after a compaction, the old file).
        #expect(alias == nil)
        try journal.close()
    }

    @Test func aFollowerWaitingWhileTheWriterMapsTheFileAgainReadsThroughTheNewMapping() async throws {
        var options = JournalOptions(durability: .none)
        options.mappingReserve = 4 << 20
        let journal = try Journal(path: TestDirectory().file("remap.sj"), options: options)
        let id = try journal.createStream(StreamID("followed"))
        let filler = try journal.createStream(StreamID("filler"))
        let follower = try journal.follow(id)
        let consumer = Task { () -> [String] in
            var texts: [String] = []
            for try await event in follower {
                if case .chunk(let chunk) = event { texts.append(chunk.text) }
            }
            return texts
        }
        await untilSomeoneWaits(on: journal)
        #expect(journal.engine.waiterCount == 1)
        let engine = journal.engine
        func mapping() -> (end: UInt64, length: Int, base: UInt) {
            engine.lock.withLock { (engine.end, engine.region.length, UInt(bitPattern: engine.region.base)) }
        }
        // Another stream's chunks do not wake the follower: it keeps waiting with its handle on
        // the first mapping while the log grows past that mapping's end.
        let first = mapping()
        while mapping().end <= UInt64(first.length) {
            try journal.append(String(repeating: "f", count: 64 << 10), to: filler)
        }
        #expect(mapping().base != first.base)
        #expect(journal.engine.waiterCount == 1)
        // Handed over with the wake, this chunk lies beyond the follower's old mapping.
        try journal.append("beyond the first mapping", to: id)
        try journal.complete(id)
        #expect(try await consumer.value == ["beyond the first mapping"])
        try journal.close()
    }

    @Test func closingTheJournalEndsFollowersWithAnError() async throws {
        let journal = try Journal(path: TestDirectory().file("close.sj"))
        let id = try journal.createStream(StreamID("s"))
        let follower = try journal.follow(id)
        let consumer = Task { try await drain(follower) }
        await untilSomeoneWaits(on: journal)
        try journal.close()
        await #expect(throws: JournalError.closed(path: journal.path)) { try await consumer.value }
    }

    @Test func aFollowerInAnotherProcessSeesLiveChunksAndTheEnd() throws {
        let path = TestDirectory().file("cross.sj")
        let journal = try Journal(path: path, options: JournalOptions(durability: .none))
        let id = try journal.createStream(StreamID("cross"))
        try journal.append(childPayload(stream: 0, index: 0), to: id)
        let child = ChildProcess(["follow", path, "cross", "0"])
        #expect(child.readLine() == "following")
        #expect(
            child.readLine() == "chunk 0 "
                + childPayload(stream: 0, index: 0).map { String($0, radix: 16) }.joined(separator: ","))
        for index in 1..<50 {
            try journal.append(childPayload(stream: 0, index: index), to: id)
            // One at a time: each line proves the child saw a chunk committed after it started.
            let line = child.readLine()
            #expect(
                line == "chunk \(index) "
                    + childPayload(stream: 0, index: index).map { String($0, radix: 16) }.joined(separator: ","))
        }
        try journal.cancel(id, reason: "user pressed stop")
        #expect(child.readLine() == "finished cancelled user pressed stop")
        #expect(child.waitForExit() == 0)
        try journal.close()
    }

    @Test func aReadOnlyHandlesFollowersLeaveTheLookingToThePollerAndCostOnePassPerRecord() async throws {
        // The handle that another process would hold; in this process, so that its counters
        // can be read. Each follower used to look at the file (a stat(2)) at every step, and
        // every look examined every waiter: a thousand followers, a million checks per chunk.
        let path = TestDirectory().file("reader.sj")
        let writer = try Journal(path: path, options: JournalOptions(durability: .none))
        let id = try writer.createStream(StreamID("watched"))
        let reader = try Journal.openReadOnly(path: path)
        let followers = 200
        let chunks = 5
        let consumers = try (0..<followers).map { _ in
            let follower = try reader.follow(id)
            return Task {
                let (indices, _, end) = try await drain(follower)
                return indices == Array(0..<chunks) && end?.status == .completed
            } as Task<Bool, any Error>
        }
        await until { reader.engine.waiterCount == followers }
        #expect(reader.engine.waiterCount == followers)
        // Looks that find nothing new (reads on the handle, the poller's idle ticks) examine
        // no waiter.
        let idle = reader.engine.lock.withLock { reader.engine.statistics }
        for _ in 0..<100 { _ = try reader.info(id) }
        let afterIdle = reader.engine.lock.withLock { reader.engine.statistics }
        #expect(afterIdle.lookups - idle.lookups >= 100)
        #expect(afterIdle.waiterChecks == idle.waiterChecks)
        let before = afterIdle
        for index in 0..<chunks {
            // Read before the append: the poller may examine the waiters before this task
            // runs again, and a count taken after that would wait out the deadline.
            let checks = reader.engine.lock.withLock { reader.engine.statistics.waiterChecks }
            try writer.append("chunk \(index)", to: id)
            // Every follower has the chunk and waits again before the next one is appended,
            // so each record is new to exactly one look by the poller.
            await until {
                reader.engine.lock.withLock { reader.engine.statistics.waiterChecks } > checks
                    && reader.engine.waiterCount == followers
            }
        }
        try writer.complete(id)
        var good = 0
        for consumer in consumers where try await consumer.value { good += 1 }
        #expect(good == followers)
        let after = reader.engine.lock.withLock { reader.engine.statistics }
        // Followers that have waited once never look themselves.
        #expect(after.lookups - before.lookups == after.pollerLookups - before.pollerLookups)
        // One pass over the waiters for each of the 6 records (5 chunks and the end).
        #expect(after.waiterChecks - before.waiterChecks <= (chunks + 1) * followers)
        #expect(reader.engine.waiterCount == 0)
        try reader.close()
        try writer.close()
    }

    @Test func aReadOnlyHandlesWaitingFollowersMeetTheErrorWhenTheFileCanNoLongerBeRead() async throws {
        // Followers that have waited leave looking to the poller; a look that fails (here, a
        // file that is not a journal renamed over the path) must end them with its error,
        // not leave them waiting for records nobody can read.
        let directory = TestDirectory()
        let path = directory.file("replaced.sj")
        let writer = try Journal(path: path, options: JournalOptions(durability: .none))
        let id = try writer.createStream(StreamID("watched"))
        try writer.append("before", to: id)
        let reader = try Journal.openReadOnly(path: path)
        let ended = Locked<[String]>([])
        let follower = try reader.follow(id)
        let events = try reader.events(from: .now)
        let followerTask = Task {
            do {
                let (indices, _, end) = try await drain(follower)
                ended.withLock { $0.append("follower ended quietly after \(indices), end \(String(describing: end))") }
            } catch {
                ended.withLock { $0.append("follower: \((error as? JournalError)?.code ?? "\(error)")") }
            }
        }
        let eventsTask = Task {
            do {
                for try await event in events { ended.withLock { $0.append("event \(event)") } }
                ended.withLock { $0.append("events ended quietly") }
            } catch {
                ended.withLock { $0.append("events: \((error as? JournalError)?.code ?? "\(error)")") }
            }
        }
        // Each phase has its own deadline.
        await until(seconds: 30) { reader.engine.waiterCount == 2 }
        #expect(reader.engine.waiterCount == 2)
        let impostor = directory.file("impostor")
        let kept = directory.file("kept")
        #expect(link(path, kept) == 0)
        #expect(FileManager.default.createFile(atPath: impostor, contents: Data(repeating: 0x5A, count: 16_384)))
        #expect(rename(impostor, path) == 0)
        await until(seconds: 30) { ended.withLock { $0.count } == 2 }
        // Past the deadline, cancelling ends both quietly, which the checks below reject.
        followerTask.cancel()
        eventsTask.cancel()
        await followerTask.value
        await eventsTask.value
        let outcomes = ended.withLock { $0 }.sorted()
        #expect(outcomes == ["events: not_a_journal", "follower: not_a_journal"])
        #expect(reader.engine.waiterCount == 0)
        // With the journal back under its name, the next look by anyone clears the failure
        // (the poller, with nobody waiting, has stopped): followers leave looking to it again.
        #expect(reader.engine.lock.withLock { reader.engine.pollFailure } != nil)
        #expect(rename(kept, path) == 0)
        #expect(try reader.info(id).chunkCount == 1)
        #expect(reader.engine.lock.withLock { reader.engine.pollFailure } == nil)
        try reader.close()
        try writer.close()
    }

    @Test func aReadOnlyHandleTailingEverythingLooksAtTheFileOncePerBacklogNotPerEvent() async throws {
        let path = TestDirectory().file("tail.sj")
        let writer = try Journal(path: path, options: JournalOptions(durability: .none))
        let id = try writer.createStream(StreamID("backlog"))
        for i in 0..<500 { try writer.append("c\(i)", to: id) }
        let reader = try Journal.openReadOnly(path: path)
        let before = reader.engine.lock.withLock { reader.engine.statistics.lookups }
        var events = try reader.events(from: .beginning).makeAsyncIterator()
        var chunks = 0
        while chunks < 500, let event = try await events.next() {
            if case .chunkAppended = event { chunks += 1 }
        }
        #expect(chunks == 500)
        // The looks of `events(from:)` and of the first step; none per event of the backlog.
        #expect(reader.engine.lock.withLock { reader.engine.statistics.lookups } - before <= 2)
        // Past the backlog it still sees what the writer commits next.
        try writer.append("late", to: id)
        let late = try await events.next()
        guard case .chunkAppended(let stream, let chunk) = late else {
            Issue.record("expected the late chunk, got \(String(describing: late))")
            return
        }
        #expect(stream == id && chunk.index == 500 && chunk.text == "late")
        try reader.close()
        try writer.close()
    }

    @Test func replayedEventsCarryTheirRecordsTimestampsAndCountsNotTodaysState() async throws {
        let path = TestDirectory().file("replay.sj")
        let journal = try Journal(path: path, options: JournalOptions(durability: .none))
        let id = try StreamID("x")
        try journal.createStream(id, metadata: ["run": "1"])
        try journal.append("a", to: id)
        try journal.append("b", to: id)
        try journal.complete(id)
        try journal.deleteStream(id)
        try journal.createStream(id, metadata: ["run": "2"])
        try journal.append("c", to: id)
        try journal.sync()
        // What the records say, from the raw log.
        var recorded: [Int64] = []
        try Journal.dump(path: path) { entry in
            if case .record(let record) = entry, record.typeName != "snapshot" { recorded.append(record.timestamp) }
            return true
        }
        var events: [JournalEvent] = []
        for try await event in try journal.events(from: .beginning) {
            events.append(event)
            if events.count == recorded.count { break }
        }
        #expect(events.map(\.timestamp) == recorded)
        guard case .streamFinished(_, .completed, nil, let count, _) = events[3] else {
            Issue.record("expected the first run's end, got \(events[3])")
            return
        }
        // The first run ended with 2 chunks; the stream under that id now has 1.
        #expect(count == 2)
        #expect(try journal.info(id).chunkCount == 1)
        guard case .streamOpened(_, let metadata, _) = events[0], case .streamDeleted = events[4] else {
            Issue.record("unexpected events \(events)")
            return
        }
        #expect(metadata == ["run": "1"])
    }

    @Test func journalWideEventsArriveInLogOrder() async throws {
        let journal = try Journal(path: TestDirectory().file("events.sj"), options: JournalOptions(durability: .none))
        let early = try journal.createStream(StreamID("early"))
        try journal.append("before", to: early)
        let everything = try journal.events(from: .beginning)
        let fromNow = try journal.events(from: .now)
        let late = try journal.createStream(StreamID("late"), metadata: ["k": "v"])
        try journal.append("x", to: late)
        try journal.append("after", to: early)
        try journal.complete(late)
        func describe(_ events: JournalEventSequence, count: Int) async throws -> [String] {
            var out: [String] = []
            for try await event in events {
                switch event {
                case .streamOpened(let id, let metadata, _): out.append("open \(id) \(metadata)")
                case .chunkAppended(let id, let chunk): out.append("chunk \(id) \(chunk.index) \(chunk.text)")
                case .streamFinished(let id, let status, let reason, let count, _):
                    out.append("end \(id) \(status) \(reason ?? "-") \(count)")
                case .streamDeleted(let id, _): out.append("deleted \(id)")
                }
                if out.count == count { break }
            }
            return out
        }
        let recent = ["open late [\"k\": \"v\"]", "chunk late 0 x", "chunk early 1 after", "end late completed - 1"]
        #expect(try await describe(fromNow, count: 4) == recent)
        #expect(try await describe(everything, count: 6) == ["open early [:]", "chunk early 0 before"] + recent)
        try journal.close()
    }

    @Test func recordingAnAsyncSequenceEndsTheStreamAsTheSequenceDoes() async throws {
        let journal = try Journal(
            path: TestDirectory().file("record.sj"), options: JournalOptions(durability: .everyAcknowledgement))
        struct ModelError: Error, CustomStringConvertible { var description: String { "model overloaded" } }

        let fine = try journal.createStream()
        let tokens = AsyncStream<String> { continuation in
            for token in ["Hel", "lo"] { continuation.yield(token) }
            continuation.finish()
        }
        let info = try await journal.record(tokens, into: fine)
        #expect(info.status == .completed && info.chunkCount == 2)

        let broken = try journal.createStream()
        let failing = AsyncThrowingStream<[UInt8], Error> { continuation in
            continuation.yield([1, 2])
            continuation.finish(throwing: ModelError())
        }
        await #expect(throws: ModelError.self) { try await journal.record(failing, into: broken) }
        #expect(try journal.info(broken).status == .failed)
        #expect(try journal.info(broken).reason == "model overloaded")
        #expect(try journal.info(broken).chunkCount == 1)

        let stopped = try journal.createStream()
        let (endless, feed) = AsyncStream<String>.makeStream()
        feed.yield("first")
        let producer = Task { try await journal.record(endless, into: stopped) }
        // Cancel once the first token is stored; the endless sequence never finishes by itself.
        let deadline = Clock.monotonicNanoseconds() + 10_000_000_000
        while try journal.info(stopped).chunkCount == 0 && Clock.monotonicNanoseconds() < deadline {
            await Task.yield()
        }
        producer.cancel()
        await #expect(throws: CancellationError.self) { try await producer.value }
        #expect(try journal.info(stopped).status == .cancelled)
        #expect(try journal.info(stopped).chunkCount == 1)
        try journal.close()
    }

    /// An error whose description is over `maxReasonBytes` still fails the stream, with the
    /// description cut at a character boundary and a note saying so (an over-long reason was
    /// refused, and the stream stayed open: the "stuck streaming" this call exists to end).
    /// The chunk limit no longer applies to reasons: with a 16-byte one, the producing task's
    /// cancellation threw chunkTooLarge and left the stream open.
    @Test func recordingEndsTheStreamWhateverTheReasonsLength() async throws {
        var options = JournalOptions(durability: .none)
        options.maxChunkSize = 16
        let journal = try Journal(path: TestDirectory().file("reason.sj"), options: options)
        struct Verbose: Error, CustomStringConvertible {
            var description: String { String(repeating: "é", count: Journal.maxReasonBytes) }
        }
        let broken = try journal.createStream()
        let failing = AsyncThrowingStream<String, Error> { $0.finish(throwing: Verbose()) }
        await #expect(throws: Verbose.self) { try await journal.record(failing, into: broken) }
        let info = try journal.info(broken)
        #expect(info.status == .failed)
        let reason = try #require(info.reason)
        #expect(reason.utf8.count <= Journal.maxReasonBytes)
        #expect(reason.hasPrefix("éé") && reason.hasSuffix("[cut to 1048576 bytes from 2097152]"))

        // A chunk the journal refuses fails the stream too (it stayed open: record treated
        // every JournalError as the journal's own failure).
        let refused = try journal.createStream()
        let oversized = AsyncStream<String> { continuation in
            continuation.yield("fits")
            continuation.yield(String(repeating: "x", count: 17))
            continuation.finish()
        }
        await #expect(throws: JournalError.chunkTooLarge(size: 17, limit: 16)) {
            try await journal.record(oversized, into: refused)
        }
        #expect(try journal.info(refused).status == .failed)
        #expect(try journal.info(refused).chunkCount == 1)
        #expect(try journal.info(refused).reason?.contains("17 bytes") == true)

        let stopped = try journal.createStream()
        let (endless, _) = AsyncStream<String>.makeStream()
        let producer = Task { try await journal.record(endless, into: stopped) }
        producer.cancel()
        await #expect(throws: CancellationError.self) { try await producer.value }
        #expect(try journal.info(stopped).status == .cancelled)
        #expect(try journal.info(stopped).reason == "the producing task was cancelled")
        try journal.close()
    }

    /// Errors were told apart by type: a `JournalError` thrown by the sequence (a follower of
    /// another journal whose stream was deleted) was taken for this journal's own, and the
    /// stream stayed open for good. A client that reports its task's cancellation with its
    /// own error failed the stream instead of cancelling it. And when the stream could not
    /// be ended (someone had ended it), that refusal replaced the sequence's error.
    @Test func recordingTellsTheSequencesErrorsFromTheJournals() async throws {
        let journal = try Journal(path: TestDirectory().file("relay.sj"), options: JournalOptions(durability: .none))
        let relayed = try journal.createStream()
        let upstream = AsyncThrowingStream<String, Error> { continuation in
            continuation.yield("from upstream")
            continuation.finish(throwing: JournalError.unknownStream(StreamID(trusted: "gone")))
        }
        await #expect(throws: JournalError.unknownStream(StreamID(trusted: "gone"))) {
            try await journal.record(upstream, into: relayed)
        }
        #expect(try journal.info(relayed).status == .failed)
        #expect(try journal.info(relayed).reason?.contains("gone") == true)
        #expect(try journal.info(relayed).chunkCount == 1)

        struct ClientCancelled: Error {}
        struct CancellingClient: AsyncSequence, AsyncIteratorProtocol {
            var started = false
            mutating func next() async throws -> String? {
                if !started {
                    started = true
                    return "first"
                }
                // Like a network client: it waits for data until its task is cancelled, then
                // reports the cancellation as its own error.
                try? await Task.sleep(for: .seconds(3600))
                throw ClientCancelled()
            }
            func makeAsyncIterator() -> Self { self }
        }
        let stopped = try journal.createStream()
        let producer = Task { try await journal.record(CancellingClient(), into: stopped) }
        await until { (try? journal.info(stopped).chunkCount) == 1 }
        producer.cancel()
        await #expect(throws: ClientCancelled.self) { try await producer.value }
        #expect(try journal.info(stopped).status == .cancelled)
        #expect(try journal.info(stopped).reason == "the producing task was cancelled")

        struct ModelError: Error {}
        let endedElsewhere = try journal.createStream()
        let (tokens, feed) = AsyncThrowingStream<String, Error>.makeStream()
        feed.yield("a")
        let second = Task { try await journal.record(tokens, into: endedElsewhere) }
        await until { (try? journal.info(endedElsewhere).chunkCount) == 1 }
        try journal.cancel(endedElsewhere, reason: "by an operator")
        feed.finish(throwing: ModelError())
        await #expect(throws: ModelError.self) { try await second.value }
        #expect(try journal.info(endedElsewhere).status == .cancelled)
        #expect(try journal.info(endedElsewhere).reason == "by an operator")
        try journal.close()
    }

    @Test func resumePointsHonourLastEventIDExactly() {
        let open = StreamInfo(
            id: StreamID(trusted: "s"), status: .open, chunkCount: 10, byteCount: 0, createdAt: 0, updatedAt: 0,
            finishedAt: nil, reason: nil, metadata: [:])
        var done = open
        done.status = .completed
        #expect(SSEResumePoint.decide(lastEventID: nil, info: open) == .from(0))
        #expect(SSEResumePoint.decide(lastEventID: "", info: open) == .from(0))
        #expect(SSEResumePoint.decide(lastEventID: "0", info: open) == .from(1))
        #expect(SSEResumePoint.decide(lastEventID: "8", info: open) == .from(9))
        #expect(SSEResumePoint.decide(lastEventID: "9", info: open) == .from(10))
        #expect(SSEResumePoint.decide(lastEventID: "9", info: done) == .alreadyEnded)
        #expect(SSEResumePoint.decide(lastEventID: "8", info: done) == .from(9))
        // Leading zeros, however many: an id is `1*DIGIT`. Nineteen digits or more were
        // "not a chunk index" whatever their value.
        #expect(SSEResumePoint.decide(lastEventID: String(repeating: "0", count: 30) + "3", info: open) == .from(4))
        for malformed in ["-1", "abc", "1.5", " 3", "3 ", "+3", "99999999999999999999999"] {
            guard case .reset(let earliest, _) = SSEResumePoint.decide(lastEventID: malformed, info: open) else {
                Issue.record("\(malformed) was accepted")
                continue
            }
            #expect(earliest == 0)
        }
        #expect(
            SSEResumePoint.decide(lastEventID: "10", info: open)
                == .reset(earliest: 0, reason: "Last-Event-ID 10 is beyond the end (the last chunk is 9)"))
        // A stream a power loss cut short and recovery ended: a client that saw more gets a
        // reset, not other bytes under the indices it saw (README, "Durability").
        var interrupted = open
        interrupted.status = .interrupted
        #expect(
            SSEResumePoint.decide(lastEventID: "12", info: interrupted)
                == .reset(earliest: 0, reason: "Last-Event-ID 12 is beyond the end (the last chunk is 9)"))
        #expect(
            SSEResumePoint.decide(lastEventID: "2", info: open, earliestAvailable: 5)
                == .reset(earliest: 5, reason: "chunks before 5 were removed"))
        #expect(SSEResumePoint.decide(lastEventID: "4", info: open, earliestAvailable: 5) == .from(5))
        // `?from=K` asks for K on; a reset names what the client sent.
        #expect(SSEResumePoint.decide(from: 10, info: open) == .from(10))
        #expect(SSEResumePoint.decide(from: 10, info: done) == .alreadyEnded)
        #expect(
            SSEResumePoint.decide(from: 11, info: open)
                == .reset(earliest: 0, reason: "from=11 is beyond the end (the last chunk is 9)"))
        var empty = open
        empty.chunkCount = 0
        #expect(
            SSEResumePoint.decide(from: 3, info: empty)
                == .reset(earliest: 0, reason: "from=3 is beyond the end (the stream has no chunks yet)"))
    }
}
