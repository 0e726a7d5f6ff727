import Testing

@testable import Journal

/// What a workload attempted and what the journal acknowledged, to hold a reopened journal
/// to account after a fault or a simulated power cut.
///
/// Shared between threads (the power-cut recorder reads it while the workload runs), hence
/// the mutex.
final class Ledger: Sendable {
    struct State: Sendable {
        /// Chunks acknowledged per stream (a prefix: appends are in index order).
        var acknowledged: [String: Int] = [:]
        /// Chunks attempted per stream, acknowledged or not.
        var attempted: [String: Int] = [:]
        /// Streams whose creation was acknowledged.
        var created: Set<String> = []
        /// Terminal states acknowledged.
        var finished: [String: StreamStatus] = [:]
        /// A terminal state attempted but not (yet) acknowledged.
        var finishing: [String: StreamStatus] = [:]
        /// Deletions acknowledged / attempted.
        var deleted: Set<String> = []
        var deleting: Set<String> = []
    }

    private let state = Locked(State())

    var snapshot: State { state.withLock { $0 } }

    func update(_ body: (inout State) -> Void) { state.withLock { body(&$0) } }
}

/// The bytes of chunk `index` of `stream`: distinct per (stream, index) and of varying
/// length, so a chunk from the wrong place or a torn one never compares equal.
func ledgerPayload(_ stream: String, _ index: Int) -> [UInt8] {
    Array("\(stream)#\(index)|".utf8)
        + [UInt8](repeating: UInt8(truncatingIfNeeded: index &* 7 &+ 1), count: index % 29)
}

/// A deterministic single-threaded workload touching every kind of write: create, append
/// (single, batch, at an expected index), complete, fail, cancel, delete, snapshot, compact,
/// close and reopen (recovery). It stops at the first error and leaves the ledger as it was.
struct LedgerWorkload {
    let path: String
    let options: JournalOptions
    var ledger = Ledger()
    /// Whether to run compaction (which adds a second file and a rename).
    var compacts = true
    /// Rounds of interleaved appends in the first session (12 by default: small enough to
    /// try every cut point).
    var rounds = 12

    /// Runs the workload; returns the first error with the handle it came from (nil when
    /// the error came from opening).
    func run() -> (error: JournalError, journal: Journal?, step: String)? {
        var journal: Journal?
        var step = "open"
        do throws(JournalError) {
            let first = try Journal(path: path, options: options)
            journal = first
            step = "first session"
            try firstSession(first, step: &step)
            step = "close"
            try first.close()
            journal = nil
            step = "reopen"
            let second = try Journal(path: path, options: options)
            journal = second
            try secondSession(second, step: &step)
            step = "final close"
            try second.close()
            return nil
        } catch {
            return (error, journal, step)
        }
    }

    private func firstSession(_ journal: Journal, step: inout String) throws(JournalError) {
        for name in ["a", "b", "c"] {
            step = "create \(name)"
            try create(name, in: journal)
        }
        for i in 0..<rounds {
            step = "append round \(i)"
            for name in ["a", "b", "c"] where !(name == "c" && i >= rounds / 2) {
                try append(name, count: 1, in: journal)
            }
        }
        step = "batch append b"
        try append("b", count: 5, in: journal)
        step = "complete a"
        try finish("a", .completed, in: journal)
        step = "snapshot"
        try journal.writeSnapshot()
        step = "fail c"
        try finish("c", .failed, in: journal)
        step = "delete c"
        ledger.update { $0.deleting.insert("c") }
        try journal.deleteStream(StreamID(trusted: "c"))
        ledger.update { $0.deleted.insert("c") }
        if compacts {
            step = "compact"
            try journal.compact(policy: RetentionPolicy())
        }
        step = "append after compaction"
        try append("b", count: 3, in: journal)
        step = "create d"
        try create("d", in: journal)
        try append("d", count: 4, in: journal)
    }

    private func secondSession(_ journal: Journal, step: inout String) throws(JournalError) {
        // Recovery of a clean close leaves "b" and "d" open (they were not finished).
        step = "idempotent retry d"
        let count = ledger.snapshot.acknowledged["d"] ?? 0
        if count > 0 {
            let outcome = try journal.append(ledgerPayload("d", count - 1), to: StreamID(trusted: "d"), at: count - 1)
            #expect(outcome == .duplicate, "a retry of the last acknowledged chunk must be a no-op")
        }
        step = "append at expected index d"
        ledger.update { $0.attempted["d"] = count + 1 }
        _ = try journal.append(ledgerPayload("d", count), to: StreamID(trusted: "d"), at: count)
        ledger.update { $0.acknowledged["d"] = count + 1 }
        step = "cancel d"
        try finish("d", .cancelled, in: journal)
        step = "append b again"
        try append("b", count: 2, in: journal)
        step = "create e"
        try create("e", in: journal)
        try append("e", count: 3, in: journal)
        step = "complete b"
        try finish("b", .completed, in: journal)
    }

    /// Appends to "b" after a failure the handle survived, so the check sees whether those
    /// acknowledged writes went where a reopen looks.
    func continueAfterSurvivedFailure(_ journal: Journal) throws(JournalError) {
        try append("b", count: 3, in: journal)
    }

    private func create(_ name: String, in journal: Journal) throws(JournalError) {
        _ = try journal.createStream(StreamID(trusted: name), metadata: ["workload": "ledger"])
        ledger.update { $0.created.insert(name) }
    }

    private func append(_ name: String, count: Int, in journal: Journal) throws(JournalError) {
        let start = ledger.snapshot.attempted[name] ?? 0
        ledger.update { $0.attempted[name] = start + count }
        if count == 1 {
            _ = try journal.append(ledgerPayload(name, start), to: StreamID(trusted: name))
        } else {
            _ = try journal.append(
                contentsOf: (start..<start + count).map { ledgerPayload(name, $0) }, to: StreamID(trusted: name))
        }
        ledger.update { $0.acknowledged[name] = start + count }
    }

    private func finish(_ name: String, _ status: StreamStatus, in journal: Journal) throws(JournalError) {
        ledger.update { $0.finishing[name] = status }
        let id = StreamID(trusted: name)
        switch status {
        case .completed: try journal.complete(id)
        case .failed: try journal.fail(id, reason: "workload failure")
        default: try journal.cancel(id, reason: "workload cancel")
        }
        ledger.update {
            $0.finished[name] = status
            $0.finishing[name] = nil
        }
    }
}

/// Reopens `path` for writing (running recovery) and checks it against `ledger`: every
/// acknowledged chunk and state present with the right bytes, nothing that was never
/// attempted, no gap, streams in flight interrupted, and `verify` clean afterwards.
/// Returns a description of each violation (empty when the journal is accountable).
func ledgerViolations(path: String, ledger: Ledger.State, context: String) -> [String] {
    var problems: [String] = []
    func problem(_ text: String) { problems.append("\(context): \(text)") }
    let journal: Journal
    do throws(JournalError) {
        journal = try Journal(path: path, options: JournalOptions(durability: .none))
    } catch {
        return ["\(context): reopen failed: \(error)"]
    }
    for name in ledger.attempted.keys.sorted() {
        let id = StreamID(trusted: name)
        let info: StreamInfo
        do throws(JournalError) {
            info = try journal.info(id)
        } catch {
            let mayBeGone =
                ledger.deleted.contains(name) || ledger.deleting.contains(name) || !ledger.created.contains(name)
            if !mayBeGone { problem("stream \(name): \(error)") }
            continue
        }
        if ledger.deleted.contains(name) {
            problem("stream \(name) was deleted (acknowledged) but is still listed")
        }
        let acknowledged = ledger.acknowledged[name] ?? 0
        let attempted = ledger.attempted[name] ?? 0
        if info.chunkCount < acknowledged {
            problem("stream \(name) lost chunks: \(info.chunkCount) stored, \(acknowledged) acknowledged")
        }
        if info.chunkCount > attempted {
            problem("stream \(name) invented chunks: \(info.chunkCount) stored, \(attempted) attempted")
        }
        do throws(JournalError) {
            var cursor = try journal.chunks(of: id)
            var index = 0
            while let chunk = try cursor.next() {
                if chunk.index != index { problem("stream \(name): chunk \(chunk.index) where \(index) was due") }
                if chunk.bytes != ledgerPayload(name, index) {
                    problem("stream \(name): chunk \(index) has wrong bytes")
                }
                index += 1
            }
            if index != info.chunkCount {
                problem("stream \(name): read \(index) chunks, info says \(info.chunkCount)")
            }
        } catch {
            problem("stream \(name): reading failed: \(error)")
        }
        if let status = ledger.finished[name] {
            if info.status != status { problem("stream \(name) is \(info.status), acknowledged \(status)") }
        } else if let status = ledger.finishing[name] {
            if info.status != status && info.status != .interrupted {
                problem("stream \(name) is \(info.status), expected \(status) or interrupted")
            }
        } else if info.status != .interrupted {
            problem("stream \(name) is \(info.status) after recovery, expected interrupted")
        }
    }
    do throws(JournalError) {
        try journal.close()
        let report = try Journal.verify(path: path)
        if !report.isClean { problem("verify: \(report.problems)") }
    } catch {
        problem("close/verify failed: \(error)")
    }
    return problems
}
