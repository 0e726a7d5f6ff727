import Dispatch
import Foundation
import TestSupport
import Testing

@testable import Journal

/// What one broadcast subscriber was handed, and a signal for its last call.
final class BroadcastRecorder: Sendable {
    private let events = Locked<(indices: [Int], texts: [String], end: Result<StreamInfo, JournalError>?, late: Int)>(
        ([], [], nil, 0))
    private let ended = DispatchSemaphore(value: 0)

    /// The handler to subscribe with.
    var handler: StreamBroadcast.Handler {
        { [self] event in
            events.withLock { state in
                // Anything after the last call is a broken promise; counted, not dropped.
                if state.end != nil {
                    state.late += 1
                    return
                }
                switch event {
                case .success(.chunk(let chunk)):
                    state.indices.append(chunk.index)
                    state.texts.append(chunk.text)
                case .success(.finished(let info)):
                    state.end = .success(info)
                case .failure(let error):
                    state.end = .failure(error)
                }
            }
            if case .success(.chunk) = event { return }
            ended.signal()
        }
    }

    /// Waits (10 s at most) for the last call; false when it did not come.
    func waitForEnd() -> Bool { ended.wait(timeout: .now() + 10) == .success }

    var indices: [Int] { events.withLock { $0.indices } }
    var texts: [String] { events.withLock { $0.texts } }
    var end: Result<StreamInfo, JournalError>? { events.withLock { $0.end } }
    var callsAfterTheEnd: Int { events.withLock { $0.late } }
    var endStatus: StreamStatus? {
        guard case .success(let info) = end else { return nil }
        return info.status
    }
}

/// Returns once `condition` holds (true), or false after 10 s, so that a condition that never
/// comes true fails the caller's checks instead of hanging the run.
private func spinUntil(_ condition: () -> Bool) -> Bool {
    let deadline = Clock.monotonicNanoseconds() + 10_000_000_000
    while !condition() {
        if Clock.monotonicNanoseconds() > deadline { return false }
        sched_yield()
    }
    return true
}

/// Runs `body` on each of `count` threads and waits for all; returns what they threw. The
/// test checks the errors itself: an issue recorded on a thread of our own belongs to no test.
private func onThreadsCollectingErrors(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) -> [String] {
    let errors = Locked<[String]>([])
    onThreads(count) { index in
        do { try body(index) } catch { errors.withLock { $0.append("thread \(index): \(error)") } }
    }
    return errors.withLock { $0 }
}

@Suite struct StreamBroadcastTests {
    @Test func eachSubscriberGetsItsChunksFromItsOwnIndexThenTheEnd() throws {
        let journal = try Journal(path: TestDirectory().file("b.sj"), options: JournalOptions(durability: .none))
        let id = try journal.createStream(StreamID("s"))
        for i in 0..<3 { try journal.append("c\(i)", to: id) }
        let broadcast = try journal.broadcast(id)
        let (a, b, c) = (BroadcastRecorder(), BroadcastRecorder(), BroadcastRecorder())
        try broadcast.subscribe(from: 0, a.handler)
        try broadcast.subscribe(from: 2, b.handler)
        try broadcast.subscribe(from: 3, c.handler)
        for i in 3..<6 { try journal.append("c\(i)", to: id) }
        // One that joins behind the live subscribers reads its backlog from the file.
        let late = BroadcastRecorder()
        try broadcast.subscribe(from: 1, late.handler)
        try journal.fail(id, reason: "rate limited")
        for (recorder, start) in [(a, 0), (b, 2), (c, 3), (late, 1)] {
            #expect(recorder.waitForEnd())
            #expect(recorder.indices == Array(start..<6))
            #expect(recorder.texts == (start..<6).map { "c\($0)" })
            guard case .success(let info) = recorder.end else {
                Issue.record("expected the end, got \(String(describing: recorder.end))")
                continue
            }
            #expect(info.status == .failed && info.reason == "rate limited" && info.chunkCount == 6)
        }
        // A subscriber of a finished stream gets its chunks and the end at once.
        let after = BroadcastRecorder()
        try broadcast.subscribe(from: 4, after.handler)
        #expect(after.waitForEnd())
        #expect(after.indices == [4, 5] && after.endStatus == .failed)
        #expect(broadcast.subscriberCount == 0)
        #expect(journal.engine.waiterCount == 0)
        try journal.close()
    }

    @Test func badSubscriptionsAreRefused() throws {
        let journal = try Journal(path: TestDirectory().file("bad.sj"), options: JournalOptions(durability: .none))
        let nope = try StreamID("nope")
        #expect(throws: JournalError.unknownStream(nope)) { try journal.broadcast(nope) }
        let id = try journal.createStream(StreamID("s"))
        try journal.append("one", to: id)
        let broadcast = try journal.broadcast(id)
        #expect(throws: JournalError.indexOutOfRange(id, index: 2, count: 1)) {
            try broadcast.subscribe(from: 2) { _ in }
        }
        #expect(throws: JournalError.indexOutOfRange(id, index: -1, count: 1)) {
            try broadcast.subscribe(from: -1) { _ in }
        }
        // The id now names another stream: the broadcast's is gone, whatever the new one holds.
        try journal.deleteStream(id)
        _ = try journal.createStream(StreamID("s"))
        try journal.append("a", to: id)
        try journal.append("b", to: id)
        #expect(throws: JournalError.unknownStream(id)) { try broadcast.subscribe(from: 0) { _ in } }
        #expect(broadcast.subscriberCount == 0)
        try journal.close()
    }

    @Test func noGapOrRepeatForSubscribersJoiningWhileAppendsRace() throws {
        let journal = try Journal(path: TestDirectory().file("race.sj"), options: JournalOptions(durability: .none))
        var generator = SystemRandomNumberGenerator()
        for iteration in 0..<1000 {
            let id = try journal.createStream(StreamID("race-\(iteration)"))
            let before = Int.random(in: 0...5, using: &generator)
            let after = Int.random(in: 0...8, using: &generator)
            for i in 0..<before { try journal.append("c\(i)", to: id) }
            let broadcast = try journal.broadcast(id)
            let first = BroadcastRecorder()
            let firstStart = Int.random(in: 0...before, using: &generator)
            try broadcast.subscribe(from: firstStart, first.handler)
            // The appends race both the first subscriber's delivery and the second's joining,
            // which takes whatever count it finds as its start.
            let second = BroadcastRecorder()
            let secondStart = Locked(0)
            let errors = onThreadsCollectingErrors(2) { role in
                if role == 0 {
                    for i in before..<before + after { try journal.append("c\(i)", to: id) }
                    try journal.complete(id)
                } else {
                    let start = try journal.info(id).chunkCount
                    secondStart.withLock { $0 = start }
                    try broadcast.subscribe(from: start, second.handler)
                }
            }
            #expect(errors.isEmpty, "iteration \(iteration)")
            for (recorder, start) in [(first, firstStart), (second, secondStart.withLock { $0 })] {
                #expect(recorder.waitForEnd(), "iteration \(iteration)")
                #expect(recorder.indices == Array(start..<before + after), "iteration \(iteration)")
                #expect(recorder.texts == (start..<before + after).map { "c\($0)" })
                #expect(recorder.endStatus == .completed)
                #expect(recorder.callsAfterTheEnd == 0)
            }
        }
        #expect(journal.engine.waiterCount == 0)
        try journal.close()
    }

    @Test func aThousandSubscribersEachReceiveEveryChunkInOrder() throws {
        let journal = try Journal(path: TestDirectory().file("fan.sj"), options: JournalOptions(durability: .none))
        let id = try journal.createStream(StreamID("fan"))
        let chunks = 200
        let broadcast = try journal.broadcast(id)
        let recorders = (0..<1000).map { _ in BroadcastRecorder() }
        for recorder in recorders { try broadcast.subscribe(recorder.handler) }
        #expect(broadcast.subscriberCount == 1000)
        // Appended from here: the handlers run on the broadcast's queue.
        for i in 0..<chunks { try journal.append("chunk \(i)", to: id) }
        try journal.complete(id)
        var good = 0
        for recorder in recorders where recorder.waitForEnd() {
            if recorder.indices == Array(0..<chunks) && recorder.texts.last == "chunk \(chunks - 1)"
                && recorder.endStatus == .completed
            {
                good += 1
            }
        }
        #expect(good == 1000)
        // One watch served all of them, and nothing is left registered.
        #expect(broadcast.subscriberCount == 0)
        #expect(journal.engine.waiterCount == 0)
        try journal.close()
    }

    @Test func cancellingStopsTheCallsAndTheLastCancelWithdrawsTheWatch() throws {
        let journal = try Journal(path: TestDirectory().file("cancel.sj"), options: JournalOptions(durability: .none))
        let id = try journal.createStream(StreamID("idle"))
        try journal.append("only", to: id)
        let broadcast = try journal.broadcast(id)
        let (kept, dropped) = (BroadcastRecorder(), BroadcastRecorder())
        // What the handler holds is let go of once it is cancelled: here, a doorbell rung at
        // its release.
        let released = DispatchSemaphore(value: 0)
        let keptSubscription = try broadcast.subscribe(from: 1, kept.handler)
        let droppedSubscription = try broadcast.subscribe(from: 0) { [token = ReleaseSignal(released)] event in
            _ = token
            dropped.handler(event)
        }
        try journal.append("second", to: id)
        // Both have chunk 1 once the kept one has (one delivery round), and then the broadcast
        // waits on its one watch.
        #expect(spinUntil { kept.indices == [1] && journal.engine.waiterCount == 1 })
        #expect(dropped.indices == [0, 1])
        droppedSubscription.cancel()
        #expect(released.wait(timeout: .now() + 10) == .success)
        #expect(broadcast.subscriberCount == 1)
        try journal.append("third", to: id)
        #expect(spinUntil { kept.indices == [1, 2] })
        #expect(dropped.indices == [0, 1])
        #expect(dropped.end == nil)
        #expect(spinUntil { journal.engine.waiterCount == 1 })
        // The last cancel takes the broadcast's watch with it (a watch being armed at that
        // moment is withdrawn by the drain arming it, just after).
        keptSubscription.cancel()
        #expect(broadcast.subscriberCount == 0)
        #expect(spinUntil { journal.engine.waiterCount == 0 })
        // The stream itself is untouched by its readers going away.
        #expect(try journal.info(id).status == .open)
        try journal.close()
    }

    @Test func aHandlerThatCancelsItselfGetsNoFurtherCall() throws {
        let journal = try Journal(path: TestDirectory().file("self.sj"), options: JournalOptions(durability: .none))
        let id = try journal.createStream(StreamID("s"))
        for i in 0..<10 { try journal.append("c\(i)", to: id) }
        let broadcast = try journal.broadcast(id)
        let seen = Locked<[Int]>([])
        let subscription = Locked<BroadcastSubscription?>(nil)
        let third = DispatchSemaphore(value: 0)
        // Subscribing under the lock: the handler cannot run before the subscription is stored.
        try subscription.withLock { stored in
            stored = try broadcast.subscribe(from: 0) { event in
                guard case .success(.chunk(let chunk)) = event else { return }
                seen.withLock { $0.append(chunk.index) }
                if chunk.index == 2 {
                    subscription.withLock { $0 }?.cancel()
                    third.signal()
                }
            }
        }
        #expect(third.wait(timeout: .now() + 10) == .success)
        // Another subscriber's full run proves the queue went past where a next call would be.
        let witness = BroadcastRecorder()
        try broadcast.subscribe(from: 0, witness.handler)
        try journal.complete(id)
        #expect(witness.waitForEnd())
        #expect(witness.indices == Array(0..<10))
        #expect(seen.withLock { $0 } == [0, 1, 2])
        try journal.close()
    }

    @Test func deletingTheStreamOrClosingTheJournalEndsSubscribersWithTheError() throws {
        let path = TestDirectory().file("end.sj")
        let journal = try Journal(path: path, options: JournalOptions(durability: .none))
        let doomed = try journal.createStream(StreamID("doomed"))
        try journal.append("x", to: doomed)
        let deleted = BroadcastRecorder()
        let first = try journal.broadcast(doomed)
        try first.subscribe(from: 1, deleted.handler)
        try journal.deleteStream(doomed)
        #expect(deleted.waitForEnd())
        guard case .failure(.unknownStream(let gone)) = deleted.end else {
            Issue.record("expected unknownStream, got \(String(describing: deleted.end))")
            return
        }
        #expect(gone == doomed)
        // A deleted stream takes no more subscribers.
        #expect(throws: JournalError.self) { try first.subscribe(from: 0) { _ in } }
        // Its id created again names another stream: the watch a broadcast arms, by the
        // stream's number, is refused instead of waiting on the new stream's chunks.
        _ = try journal.createStream(doomed)
        #expect(throws: JournalError.unknownStream(doomed)) {
            try journal.engine.watch(doomed, number: first.number, beyond: 1) {}
        }

        let id = try journal.createStream(StreamID("open"))
        let closing = BroadcastRecorder()
        try journal.broadcast(id).subscribe(closing.handler)
        try journal.close()
        #expect(closing.waitForEnd())
        guard case .failure(.closed(let closedPath)) = closing.end else {
            Issue.record("expected closed, got \(String(describing: closing.end))")
            return
        }
        #expect(closedPath == path)
    }

    @Test func aBroadcastCrossesACompactionThatMovesItsStream() throws {
        let journal = try Journal(path: TestDirectory().file("compact.sj"), options: JournalOptions(durability: .none))
        // A deleted stream ahead of the broadcast one, so that compaction moves its records.
        let doomed = try journal.createStream(StreamID("doomed"))
        try journal.append(String(repeating: "x", count: 100_000), to: doomed)
        try journal.deleteStream(doomed)
        let id = try journal.createStream(StreamID("live"))
        try journal.append("before", to: id)
        let broadcast = try journal.broadcast(id)
        let recorder = BroadcastRecorder()
        try broadcast.subscribe(from: 0, recorder.handler)
        #expect(spinUntil { recorder.indices == [0] && journal.engine.waiterCount == 1 })
        let report = try journal.compact(policy: .keepEverything)
        #expect(report.logBytesAfter < report.logBytesBefore)
        try journal.append("after", to: id)
        try journal.complete(id)
        #expect(recorder.waitForEnd())
        #expect(recorder.indices == [0, 1])
        #expect(recorder.texts == ["before", "after"])
        #expect(recorder.endStatus == .completed)
        try journal.close()
    }

    @Test func aBroadcastOnAReadOnlyHandleSeesTheWritersChunks() throws {
        let path = TestDirectory().file("ro.sj")
        let writer = try Journal(path: path, options: JournalOptions(durability: .none))
        let id = try writer.createStream(StreamID("s"))
        try writer.append("c0", to: id)
        let reader = try Journal.openReadOnly(path: path)
        let recorder = BroadcastRecorder()
        try reader.broadcast(id).subscribe(from: 0, recorder.handler)
        for i in 1..<5 { try writer.append("c\(i)", to: id) }
        try writer.complete(id)
        #expect(recorder.waitForEnd())
        #expect(recorder.indices == Array(0..<5))
        #expect(recorder.texts == (0..<5).map { "c\($0)" })
        #expect(recorder.endStatus == .completed)
        try reader.close()
        try writer.close()
    }
}

/// Signals a semaphore when released: shows that whoever held it has let go.
private final class ReleaseSignal: Sendable {
    let semaphore: DispatchSemaphore
    init(_ semaphore: DispatchSemaphore) { self.semaphore = semaphore }
    deinit { semaphore.signal() }
}

extension StreamBroadcastTests {
    @Test func aSubscriberJoiningBehindAFasterProducerCatchesUpBeforeTheStreamEnds() throws {
        let journal = try Journal(path: TestDirectory().file("fast.sj"), options: JournalOptions(durability: .none))
        let id = try journal.createStream(StreamID("s"))
        let broadcast = try journal.broadcast(id)
        // A handler slower than the appends: the shared read never catches up, so it never
        // stops to wait, which is where it used to take in new subscribers.
        let slow = BroadcastRecorder()
        try broadcast.subscribe { event in
            usleep(20)
            slow.handler(event)
        }
        let joined = BroadcastRecorder()
        let subscribed = Locked(false)
        let limit = 20_000
        let appended = Locked(0)
        let errors = onThreadsCollectingErrors(2) { role in
            if role == 0 {
                var count = 0
                // Until the late subscriber has caught up with the live one (the slow one's
                // handler runs first, so one call apart), or the limit that says it never
                // did. Always a few hundred chunks ahead of the slow subscriber, so that the
                // shared read never catches up and waits.
                while count < limit
                    && (!subscribed.withLock({ $0 }) || joined.indices.count + 1 < slow.indices.count)
                {
                    if count > slow.indices.count + 300 {
                        sched_yield()
                        continue
                    }
                    try journal.append("c\(count)", to: id)
                    count += 1
                }
                appended.withLock { $0 = count }
                try journal.complete(id)
            } else {
                // From the start, a thousand chunks behind: its backlog is read from the file
                // in batches, between batches of the slow subscriber's chunks.
                _ = spinUntil { slow.indices.count >= 1000 }
                try broadcast.subscribe(from: 0, joined.handler)
                subscribed.withLock { $0 = true }
            }
        }
        #expect(errors.isEmpty)
        let total = appended.withLock { $0 }
        #expect(total < limit, "the late subscriber caught up only after \(total) appends")
        #expect(slow.waitForEnd() && joined.waitForEnd())
        let (slowInOrder, joinedInOrder) = (slow.indices == Array(0..<total), joined.indices == Array(0..<total))
        #expect(slowInOrder && joinedInOrder)
        #expect(joined.endStatus == .completed)
    }
}

extension StreamBroadcastTests {
    @Test func aSubscriberJoiningFarBehindDoesNotHoldUpTheLiveOnes() throws {
        let journal = try Journal(path: TestDirectory().file("behind.sj"), options: JournalOptions(durability: .none))
        let id = try journal.createStream(StreamID("s"))
        let backlog = 5000
        for i in 0..<backlog { try journal.append("c\(i)", to: id) }
        let broadcast = try journal.broadcast(id)
        let live = BroadcastRecorder()
        try broadcast.subscribe(from: backlog, live.handler)
        // A subscriber from the start, slow to take each chunk: its replay lasts a while.
        let behind = BroadcastRecorder()
        try broadcast.subscribe(from: 0) { event in
            usleep(20)
            behind.handler(event)
        }
        #expect(spinUntil { !behind.indices.isEmpty })
        try journal.append("new", to: id)
        #expect(spinUntil { live.indices == [backlog] })
        // The live one had it between two batches of the other's backlog, not after all of it.
        let replayed = behind.indices.count
        #expect(replayed < backlog, "the live subscriber waited for \(replayed) chunks of another's backlog")
        try journal.complete(id)
        #expect(live.waitForEnd() && behind.waitForEnd())
        let inOrder = behind.indices == Array(0...backlog)
        #expect(inOrder && behind.endStatus == .completed && live.endStatus == .completed)
        try journal.close()
    }
}

extension StreamBroadcastTests {
    @Test func aPausedSubscriberHoldsUpNobodyAndMissesNothingOnceResumed() throws {
        let journal = try Journal(path: TestDirectory().file("pause.sj"), options: JournalOptions(durability: .none))
        let id = try journal.createStream(StreamID("s"))
        let broadcast = try journal.broadcast(id)
        // Subscribed first, so that any call it wrongly got would come before the other's.
        let paused = BroadcastRecorder()
        let subscription = Locked<BroadcastSubscription?>(nil)
        try subscription.withLock { stored in
            stored = try broadcast.subscribe { event in
                paused.handler(event)
                // Its output is full after chunk 2: it pauses itself, from the handler.
                if case .success(.chunk(let chunk)) = event, chunk.index == 2 {
                    subscription.withLock { $0 }?.pause()
                }
            }
        }
        let other = BroadcastRecorder()
        try broadcast.subscribe(other.handler)
        for i in 0..<10 { try journal.append("c\(i)", to: id) }
        try journal.complete(id)
        #expect(other.waitForEnd())
        #expect(other.indices == Array(0..<10) && other.endStatus == .completed)
        // Not a chunk, and not the end, while paused.
        #expect(paused.indices == [0, 1, 2])
        #expect(paused.end == nil)
        #expect(broadcast.subscriberCount == 1)
        // And it costs no work meanwhile: the queue goes idle, not round after round for a
        // subscriber that takes nothing.
        #expect(spinUntil { broadcast.isIdle })
        subscription.withLock { $0 }?.resume()
        #expect(paused.waitForEnd())
        #expect(paused.indices == Array(0..<10))
        #expect(paused.texts == (0..<10).map { "c\($0)" })
        #expect(paused.endStatus == .completed)
        // Resuming an ended subscription calls nothing.
        subscription.withLock { $0 }?.resume()
        let witness = BroadcastRecorder()
        try broadcast.subscribe(from: 10, witness.handler)
        #expect(witness.waitForEnd())
        #expect(paused.callsAfterTheEnd == 0 && other.callsAfterTheEnd == 0)
        #expect(broadcast.subscriberCount == 0)
        try journal.close()
    }
}

extension StreamBroadcastTests {
    @Test func aPausedSubscriberMeetsAFailureOnlyWhenItResumes() throws {
        let journal = try Journal(path: TestDirectory().file("fail.sj"), options: JournalOptions(durability: .none))
        let id = try journal.createStream(StreamID("s"))
        try journal.append("c0", to: id)
        let broadcast = try journal.broadcast(id)
        let paused = BroadcastRecorder()
        let subscription = try broadcast.subscribe(from: 1, paused.handler)
        subscription.pause()
        let other = BroadcastRecorder()
        try broadcast.subscribe(from: 1, other.handler)
        try journal.deleteStream(id)
        #expect(other.waitForEnd())
        guard case .failure(.unknownStream) = other.end else {
            Issue.record("expected unknownStream, got \(String(describing: other.end))")
            return
        }
        // Paused: not called, not even with the failure. The queue goes idle meanwhile.
        #expect(spinUntil { broadcast.isIdle })
        #expect(paused.end == nil && broadcast.subscriberCount == 1)
        subscription.resume()
        #expect(paused.waitForEnd())
        guard case .failure(.unknownStream(let gone)) = paused.end else {
            Issue.record("expected unknownStream, got \(String(describing: paused.end))")
            return
        }
        #expect(gone == id && paused.indices.isEmpty && broadcast.subscriberCount == 0)
        try journal.close()
    }
}

extension StreamBroadcastTests {
    @Test func aBatchCutShortForOneBehindGoesOnWhenThatOnePausesMeanwhile() throws {
        let journal = try Journal(path: TestDirectory().file("cut.sj"), options: JournalOptions(durability: .none))
        let id = try journal.createStream(StreamID("s"))
        let broadcast = try journal.broadcast(id)
        let behind = BroadcastRecorder()
        let behindSubscription = Locked<BroadcastSubscription?>(nil)
        let (reached, gate) = (DispatchSemaphore(value: 0), DispatchSemaphore(value: 0))
        let live = BroadcastRecorder()
        try broadcast.subscribe { event in
            live.handler(event)
            guard case .success(.chunk(let chunk)) = event else { return }
            if chunk.index == 999 {
                // Holds the queue while the test stores more chunks and a subscriber joins.
                reached.signal()
                gate.wait()
            }
            // The one behind pauses (its socket filled) during the round's shared read.
            if chunk.index == 1050 { behindSubscription.withLock { $0 }?.pause() }
        }
        for i in 0..<1000 { try journal.append("c\(i)", to: id) }
        #expect(reached.wait(timeout: .now() + 10) == .success)
        for i in 1000..<1300 { try journal.append("c\(i)", to: id) }
        try behindSubscription.withLock { $0 = try broadcast.subscribe(from: 0, behind.handler) }
        gate.signal()
        // The next round gives the one behind a batch of its backlog and cuts the shared read
        // short after 128 chunks for it; it is paused by then, and the read must go on anyway:
        // the watch that rang for these chunks is spent, and no append comes to ring another.
        #expect(spinUntil { live.indices.count == 1300 })
        #expect(live.indices == Array(0..<1300))
        behindSubscription.withLock { $0 }?.resume()
        try journal.complete(id)
        #expect(live.waitForEnd() && behind.waitForEnd())
        #expect(behind.indices == Array(0..<1300) && behind.endStatus == .completed)
        try journal.close()
    }

    @Test func withEverySubscriberPausedAppendsDoNotWakeTheBroadcast() throws {
        let journal = try Journal(path: TestDirectory().file("idle.sj"), options: JournalOptions(durability: .none))
        let id = try journal.createStream(StreamID("s"))
        let broadcast = try journal.broadcast(id)
        let recorder = BroadcastRecorder()
        let subscription = try broadcast.subscribe(recorder.handler)
        try journal.append("c0", to: id)
        #expect(spinUntil { recorder.indices == [0] && journal.engine.waiterCount == 1 && broadcast.isIdle })
        subscription.pause()
        // This append rings the armed watch; the round finds nobody to serve and arms none.
        try journal.append("c1", to: id)
        #expect(spinUntil { journal.engine.waiterCount == 0 && broadcast.isIdle })
        try journal.append("c2", to: id)
        #expect(journal.engine.waiterCount == 0 && recorder.indices == [0])
        subscription.resume()
        #expect(spinUntil { recorder.indices == [0, 1, 2] && journal.engine.waiterCount == 1 })
        try journal.complete(id)
        #expect(recorder.waitForEnd() && recorder.endStatus == .completed)
        try journal.close()
    }
}
