import Journal

#if canImport(Glibc)
    import Glibc
#endif

/// One producer thread of the writer child: it owns some streams and, until its session's
/// budget runs out (or the loop kills the process), picks an operation at random: appends
/// (single, batch, idempotent), creates, completes, fails, cancels, snapshots. Every call is
/// bracketed in the ledger: a `…Try` line before, the outcome after, before anything else
/// happens to that stream.
///
/// After a restart a producer knows only its memory (acknowledged state), so it resumes each
/// stream with idempotent `append(_:to:at:)` retries from its last acknowledged index, and
/// retries creates and finishes whose outcome it never heard.
final class Producer: @unchecked Sendable {
    /// A stream this producer writes.
    private struct Owned {
        var id: StreamID
        /// The next index this producer will send.
        var next: Int
        var state: State
    }

    /// Where an owned stream stands from the producer's side.
    private enum State: Equatable {
        /// A create must be (re)tried.
        case creating
        /// Open, but the journal may hold chunks from `next` on that were never
        /// acknowledged: send with `append(_:to:at:)` until one is stored, not a duplicate.
        case resuming
        /// Open and in step: `next` is exactly the journal's chunk count.
        case open
        /// A finish must be retried.
        case finishing(StreamStatus)
    }

    private let number: Int
    private let plan: LifePlan
    private let ledger: LedgerWriter
    private var generator: SeededGenerator
    private var streams: [Owned] = []
    private var created = 0

    /// Producer `number` of the life `plan`, taking over `remembered` streams.
    init(
        number: Int, plan: LifePlan, ledger: LedgerWriter, seed: UInt64, remembered: [ProducerMemory.Stream]
    ) throws(JournalError) {
        self.number = number
        self.plan = plan
        self.ledger = ledger
        generator = SeededGenerator(seed: seed)
        for stream in remembered {
            let state: State
            switch stream.state {
            case .creating: state = .creating
            case .open: state = .resuming
            case .finishing(let status): state = .finishing(status)
            }
            streams.append(Owned(id: try StreamID(stream.id), next: stream.next, state: state))
        }
    }

    /// Runs `operations` operations (forever when 0) against `journal`.
    func run(_ journal: Journal, operations: Int) {
        var done = 0
        while operations == 0 || done < operations {
            step(journal)
            done += 1
            if plan.paceMicroseconds > 0 {
                usleep(UInt32(generator.next() % UInt64(2 * plan.paceMicroseconds + 1)))
            }
        }
    }

    private func step(_ journal: Journal) {
        if streams.count < plan.streamsPerProducer && (streams.isEmpty || generator.chance(30)) {
            created += 1
            // Letters, digits and "-" only: always a valid id.
            let id = try! StreamID("L\(plan.life)-\(number)-\(created)")
            streams.append(Owned(id: id, next: 0, state: .creating))
            create(streams.count - 1, journal)
            return
        }
        // Skewed towards the first streams, so the last ones sit idle long enough to go
        // stale under keep-open while the others are busy.
        let unit = Double(generator.next() % 1_000_000) / 1_000_000
        let position = Int(Double(streams.count) * unit * unit)
        switch streams[position].state {
        case .creating: create(position, journal)
        case .resuming: appendAt(position, index: streams[position].next, expect: nil, journal)
        case .finishing(let status): finish(position, status, journal)
        case .open: operate(position, journal)
        }
    }

    /// An open stream in step: mostly appends, sometimes an ending.
    private func operate(_ position: Int, _ journal: Journal) {
        let next = streams[position].next
        switch generator.next() % 1000 {
        case 0..<600: appendOne(position, journal)
        case 600..<760: appendBatch(position, count: 2 + Int(generator.next() % 15), journal)
        case 760..<820: appendAt(position, index: next, expect: .appended, journal)
        case 820..<850 where next > 0:
            // A producer resending a chunk it already had acknowledged (a lost response).
            appendAt(
                position, index: next - 1 - Int(generator.next() % UInt64(min(next, 3))), expect: .duplicate, journal)
        case 850..<862: finish(position, .completed, journal)
        case 862..<866: finish(position, .failed, journal)
        case 866..<870: finish(position, .cancelled, journal)
        case 870..<872: snapshot(journal)
        default: appendOne(position, journal)
        }
    }

    private func create(_ position: Int, _ journal: Journal) {
        let id = streams[position].id
        ledger.record(.createTry(id.rawValue))
        do {
            try journal.createStream(id, metadata: ["life": "\(plan.life)", "producer": "\(number)"])
            ledger.record(.createOK(id.rawValue))
            streams[position].state = .open
        } catch .duplicateStream {
            // An earlier life's create landed without its acknowledgement.
            ledger.record(.createDuplicate(id.rawValue))
            streams[position].state = .resuming
        } catch {
            handle(error, position, "createStream")
        }
    }

    private func appendOne(_ position: Int, _ journal: Journal) {
        let id = streams[position].id
        let index = streams[position].next
        let payload = Payload.bytes(stream: id.rawValue, index: index)
        ledger.record(.appendTry(id.rawValue, first: index, count: 1))
        do {
            let stored = try journal.append(payload, to: id)
            if stored != index { violate("append to \(id) was acknowledged as chunk \(stored), expected \(index)") }
            ledger.record(.appendOK(id.rawValue, first: index, count: 1))
            streams[position].next += 1
        } catch {
            handle(error, position, "append")
        }
    }

    private func appendBatch(_ position: Int, count: Int, _ journal: Journal) {
        let id = streams[position].id
        let first = streams[position].next
        let payloads = (first..<first + count).map { Payload.bytes(stream: id.rawValue, index: $0) }
        ledger.record(.appendTry(id.rawValue, first: first, count: count))
        do {
            let stored = try journal.append(contentsOf: payloads, to: id)
            if stored != first..<first + count {
                violate("batch append to \(id) was acknowledged as chunks \(stored), expected \(first..<first + count)")
            }
            ledger.record(.appendOK(id.rawValue, first: first, count: count))
            streams[position].next += count
        } catch {
            handle(error, position, "append(contentsOf:)")
        }
    }

    /// The idempotent append of chunk `index`. `expect` is what an in-step producer knows the
    /// answer must be; nil while resuming, where either answer is right.
    private func appendAt(_ position: Int, index: Int, expect: AppendOutcome?, _ journal: Journal) {
        let id = streams[position].id
        let payload = Payload.bytes(stream: id.rawValue, index: index)
        ledger.record(.retryTry(id.rawValue, index: index))
        do {
            let outcome = try journal.append(payload, to: id, at: index)
            if let expect, outcome != expect {
                violate("append(at: \(index)) to \(id) answered \(outcome), expected \(expect)")
            }
            ledger.record(.retryOK(id.rawValue, index: index, duplicate: outcome == .duplicate))
            if index == streams[position].next {
                streams[position].next += 1
                // Stored, not found: the journal held exactly `index` chunks, so it is in step.
                if outcome == .appended { streams[position].state = .open }
            }
        } catch .chunkConflict(_, let conflicting) {
            violate("append(at: \(index)) to \(id): chunk \(conflicting) holds different bytes than its payload")
        } catch .indexGap(_, _, let next) {
            violate("append(at: \(index)) to \(id): the journal's next index is \(next), below acknowledged chunks")
        } catch {
            handle(error, position, "append(at:)")
        }
    }

    private func finish(_ position: Int, _ status: StreamStatus, _ journal: Journal) {
        let id = streams[position].id
        ledger.record(.finishTry(id.rawValue, status))
        streams[position].state = .finishing(status)
        do {
            switch status {
            case .completed: try journal.complete(id)
            case .failed: try journal.fail(id, reason: "torture: producer \(number) failed it")
            default: try journal.cancel(id, reason: "torture: producer \(number) cancelled it")
            }
            ledger.record(.finishOK(id.rawValue, status))
            streams.remove(at: position)
        } catch {
            handle(error, position, "finish")
        }
    }

    private func snapshot(_ journal: Journal) {
        ledger.record(.snapshotTry)
        do {
            try journal.writeSnapshot()
            ledger.record(.snapshotOK)
        } catch {
            fail("writeSnapshot: \(error)")
        }
    }

    /// The errors the workload expects (the stream ended, by a finish that landed unheard or
    /// by the journal's interruption; a create that never landed) end the producer's interest
    /// in the stream. Anything else ends the child.
    private func handle(_ error: JournalError, _ position: Int, _ operation: String) {
        let id = streams[position].id
        switch error {
        case .streamFinished(_, let status):
            ledger.record(.ended(id.rawValue, status))
            streams.remove(at: position)
        case .unknownStream:
            // The parent decides whether that is allowed (a create that never landed) or a loss.
            ledger.record(.missing(id.rawValue))
            streams.remove(at: position)
        default:
            fail("\(operation) on \(id): \(error)")
        }
    }

    private func violate(_ text: String) -> Never {
        ledger.record(.violation(text))
        _exit(3)
    }

    private func fail(_ text: String) -> Never {
        ledger.record(.failure(text))
        _exit(2)
    }
}
