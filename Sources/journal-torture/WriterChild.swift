import Journal

#if canImport(Glibc)
    import Glibc
#endif

/// The `child` mode: one life of the writer, from open (which recovers whatever the previous
/// life left) until the loop's SIGKILL. A life is a series of sessions: open, run the
/// producers, and, when the plan gives sessions a budget, snapshot or not, close, and open
/// again; so kills also land in clean closes and in recoveries of cleanly closed files.
enum WriterChild {
    /// Runs the life `plan` describes; never returns (the loop kills it).
    static func run(_ plan: LifePlan) throws -> Never {
        let ledger = try LedgerWriter(path: plan.ledger)
        let remembered = try ProducerMemory.load(from: plan.memory)
        var generator = SeededGenerator(seed: plan.seed)
        var producers: [Producer] = []
        for number in 0..<plan.threads {
            let mine = remembered.enumerated().filter { $0.offset % plan.threads == number }.map(\.element)
            producers.append(
                try Producer(number: number, plan: plan, ledger: ledger, seed: generator.next(), remembered: mine))
        }
        var session = 0
        while true {
            session += 1
            ledger.record(.openTry(session: session))
            // The loop times kills that must land inside recovery from this line.
            if session == 1 { announce("opening") }
            let started = Time.wallMicroseconds()
            let journal: Journal
            do {
                journal = try Journal(path: plan.journal, options: plan.options)
            } catch {
                fail(ledger, "open (session \(session)): \(error)")
            }
            let finished = Time.wallMicroseconds()
            let report = journal.recoveryReport
            ledger.record(
                .openOK(
                    session: session, started: started, finished: finished,
                    recoveryNanoseconds: report.durationNanoseconds,
                    interrupted: report.interruptedStreams.map(\.rawValue),
                    kept: report.streamsKeptOpen.map(\.rawValue)))
            // ...and kills meant for the running writer from this one.
            if session == 1 { announce("opened") }

            let budget = plan.operationsPerSession
            let threads = producers.map { producer in
                let operations = budget == 0 ? 0 : budget / 2 + Int(generator.next() % UInt64(budget + 1))
                return NativeThread { producer.run(journal, operations: operations) }
            }
            if plan.compacts {
                // Online compaction racing the producers' appends.
                Time.sleep(nanoseconds: generator.next() % 20_000_000)
                ledger.record(.compactTry)
                do {
                    try journal.compact(policy: .keepEverything)
                } catch {
                    fail(ledger, "compact: \(error)")
                }
                ledger.record(.compactOK)
            }
            for thread in threads { thread.join() }
            if generator.chance(300) {
                ledger.record(.snapshotTry)
                do { try journal.writeSnapshot() } catch { fail(ledger, "writeSnapshot: \(error)") }
                ledger.record(.snapshotOK)
            }
            ledger.record(.closeTry)
            do { try journal.close() } catch { fail(ledger, "close: \(error)") }
            ledger.record(.closeOK)
        }
    }

    /// Writes `line` to stdout (a pipe the loop reads) at once.
    private static func announce(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
    }

    private static func fail(_ ledger: LedgerWriter, _ text: String) -> Never {
        ledger.record(.failure(text))
        _exit(2)
    }
}
