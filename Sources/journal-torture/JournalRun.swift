import Journal

#if canImport(Glibc)
    import Glibc
#endif

/// One journal file and the lives run against it: its directory (journal, ledger, producer
/// memory, the children's stderr), the expectations, and the last word on it: a recovery
/// by the loop itself, a second one that must find nothing to do, and a full re-read.
final class JournalRun {
    /// The directory holding this run's files.
    let directory: String
    /// The journal file.
    var journalPath: String { directory + "/journal.sj" }
    /// The ledger the children append to.
    var ledgerPath: String { directory + "/ledger" }
    /// The producer memory handed to the next child.
    var memoryPath: String { directory + "/producer-memory" }
    /// The children's stderr, appended.
    var stderrPath: String { directory + "/writer-stderr" }
    /// Lives run so far.
    private(set) var lives = 0

    private var model = LedgerModel()
    private var memory = ProducerMemory()
    private var ledger: LedgerReader

    /// A run in `directory`, which is created and must not hold an earlier run.
    init(directory: String) throws(Violation) {
        self.directory = directory
        guard mkdir(directory, 0o755) == 0 else { throw Violation("cannot create \(directory): errno \(errno)") }
        ledger = LedgerReader(path: directory + "/ledger")
    }

    /// The journal file's size in bytes (0 before it exists).
    var journalSize: Int {
        var status = stat()
        return stat(journalPath, &status) == 0 ? Int(status.st_size) : 0
    }

    /// Runs one life: hands the child its memory, starts it, kills it at `moment`, applies
    /// its ledger and checks the journal.
    func live(_ plan: LifePlan, killAt moment: KillMoment, executable: String, statistics: inout LoopStatistics)
        throws(Violation)
    {
        lives += 1
        try memory.save(to: memoryPath)
        model.beginLife(staleAfter: plan.staleMicroseconds)
        let child = try WriterProcess(
            executable: executable, arguments: ["child"] + plan.arguments, stderrPath: stderrPath)
        var reachedOpen = true
        switch moment {
        case .atSpawn:
            statistics.killedAtSpawn += 1
        case .inRecovery(let nanoseconds):
            reachedOpen = child.waitForLine("opening", timeoutNanoseconds: 30_000_000_000)
            if reachedOpen { Time.sleep(nanoseconds: nanoseconds) }
        case .running(let nanoseconds):
            reachedOpen = child.waitForLine("opened", timeoutNanoseconds: 30_000_000_000)
            if reachedOpen { Time.sleep(nanoseconds: nanoseconds) }
        }
        child.kill()
        let termination = child.wait()
        var compacting = false
        var closing = false
        var createdNow = Set<String>()
        var continued = Set<String>()
        for entry in try ledger.readNewEntries() {
            try model.apply(entry)
            memory.apply(entry)
            statistics.count(entry)
            switch entry {
            case .compactTry, .compactOK: compacting = entry == .compactTry
            case .closeTry, .closeOK: closing = entry == .closeTry
            case .createTry(let id): createdNow.insert(id)
            // A stream an earlier life left open, continued past what was stored before.
            case .retryOK(let id, _, false) where !createdNow.contains(id): continued.insert(id)
            default: break
            }
        }
        if compacting { statistics.killedInCompaction += 1 }
        if closing { statistics.killedInClose += 1 }
        statistics.streamsContinued += continued.count
        statistics.tornLedgerLines = ledger.tornLines
        guard termination == .signalled(SIGKILL) else {
            throw Violation("the writer ended with \(termination) before the kill; its stderr: \(stderrTail())")
        }
        if !reachedOpen { throw Violation("the writer did not reach its first open (or finish it) within 30 s") }
        statistics.kills += 1
        if model.openInFlight { statistics.killedInRecovery += 1 }
        statistics.add(try JournalAudit.check(path: journalPath, model: &model))
        statistics.largestJournal = max(statistics.largestJournal, journalSize)
    }

    /// The loop's own last recovery (interrupt policy): it must interrupt exactly the streams
    /// the last check found open; a second open must find nothing to do; then every chunk of
    /// every stream is read back and compared again.
    func finish(statistics: inout LoopStatistics) throws(Violation) {
        guard access(journalPath, F_OK) == 0 else { return }
        model.beginLife(staleAfter: nil)
        for session in 1...2 {
            try model.apply(.openTry(session: session))
            let started = Time.wallMicroseconds()
            let report: RecoveryReport
            do {
                let journal = try Journal(
                    path: journalPath,
                    options: JournalOptions(durability: .everyAcknowledgement, openStreams: .interrupt))
                report = journal.recoveryReport
                try journal.close()
            } catch {
                throw Violation("the loop's own open of the journal failed: \(error)")
            }
            let entry = LedgerEntry.openOK(
                session: session, started: started, finished: Time.wallMicroseconds(),
                recoveryNanoseconds: report.durationNanoseconds,
                interrupted: report.interruptedStreams.map(\.rawValue), kept: report.streamsKeptOpen.map(\.rawValue))
            try model.apply(entry)
            statistics.count(entry)
            if session == 2 && !report.interruptedStreams.isEmpty {
                throw Violation("a second recovery interrupted \(report.interruptedStreams) again")
            }
        }
        statistics.add(try JournalAudit.check(path: journalPath, model: &model, everything: true))
    }

    /// Deletes the run's directory (called when every check passed).
    func remove() {
        guard let handle = opendir(directory) else { return }
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { unlink(directory + "/" + name) }
        }
        closedir(handle)
        rmdir(directory)
    }

    /// The last lines of the children's stderr, for a message.
    private func stderrTail() -> String {
        guard let file = fopen(stderrPath, "r") else { return "(none)" }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes.append(contentsOf: buffer[..<count])
        }
        let text = String(decoding: bytes.suffix(2000), as: UTF8.self)
        return text.isEmpty ? "(empty)" : text
    }
}
