import Journal

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `compact`: rewrite the journal without dead records and streams the retention drops.
enum CompactCommand: Command {
    static let name = "compact"
    static let summary = "Rewrite the journal without deleted streams and expired ones (needs the writer lock)."
    static let usage = "compact [--older-than DUR] [--before TIME] [--max-size SIZE] [--dry-run] [-o text|json]"
    static let details = """
        Copies the live records into a new file and swaps it in: records of deleted streams and
        superseded snapshots are dropped, and so are finished streams the retention options
        select. Stream ids and chunk indices never change. Open streams are always kept, and are
        left open for their producers (nothing is interrupted).

        Without options only deleted streams and dead snapshots are reclaimed. --older-than DUR
        (30s, 5m, 2h, 7d, 1w) drops every stream that finished longer ago than DUR, whatever its
        status; --before TIME does the same for a fixed cutoff, written as for list --since
        (@1763800000, 2026-11-22T10:00Z, 2026-11-22 local time) that does not move with the
        moment the command happens to run. --max-size SIZE (bytes, or with K/KiB, M/MiB, G/GiB,
        T/TiB; KB, MB, GB, TB are powers of 1000) drops the oldest finished streams until the
        records fit in SIZE. Given together, each drops what it selects.

        Needs the writer lock, --dry-run included: a running writer (journal-server) compacts
        by itself, so stop it first or let it. With --dry-run nothing is written and the
        journal file stays byte for byte as it was (the report is computed on a temporary
        copy, made under the lock so no writer changes the file meanwhile); the report says
        what would go. The copy, PATH.dry-run-PID beside the journal, is removed when the dry
        run ends, on Ctrl-C, SIGTERM or SIGHUP too; one a killed dry run left is removed by the
        next command that opens the journal for writing.

        """

    static let olderThan = OptionSpec(
        names: ["--older-than"], value: "DUR", help: "drop streams that finished longer ago (30s, 5m, 2h, 7d)")
    static let before = OptionSpec(
        names: ["--before"], value: "TIME", help: "drop streams that finished before TIME (@UNIX, a date)")
    static let maxSize = OptionSpec(
        names: ["--max-size"], value: "SIZE",
        help: "drop the oldest finished streams above this size, e.g. 512MiB (no cap by default)")
    static let dryRun = OptionSpec(
        names: ["--dry-run"], value: nil, help: "report what would be dropped; change nothing")
    static let options = [olderThan, before, maxSize, dryRun]
    static let formats = ["text", "json"]

    @MainActor static func run(_ context: Context) async throws -> Int32 {
        _ = try context.operands([])
        var policy = RetentionPolicy.keepEverything
        if let text = context.arguments.value(olderThan) {
            guard let seconds = parseDuration(text) else {
                throw UsageError(
                    message: "--older-than needs a duration such as 30s, 5m, 2h or 7d, not '\(text)'", command: self)
            }
            policy.completedMaxAge = .seconds(seconds)
            policy.unsuccessfulMaxAge = .seconds(seconds)
        }
        if let text = context.arguments.value(before) {
            guard let time = Show.parseTime(text, now: Show.now()) else {
                throw UsageError(
                    message: "cannot read '\(text)' as a time for --before; use \(Show.timeForms)",
                    command: self)
            }
            policy.finishedBefore = time
        }
        if let text = context.arguments.value(maxSize) {
            guard let bytes = parseSize(text) else {
                throw UsageError(
                    message: "--max-size needs a size such as 1048576, 512MiB or 1GiB, not '\(text)'", command: self)
            }
            policy.maxTotalBytes = bytes
        }
        let dry = context.arguments.has(dryRun)
        let progress = isatty(2) != 0 ? ProgressBar() : nil
        let report =
            dry
            ? try dryRunReport(context.path, policy: policy)
            : try compact(context.path, policy: policy, progress: progress)
        progress?.clear()
        if context.json {
            context.console.line(json(context.path, report).text)
        } else {
            text(context, report)
        }
        return 0
    }

    /// The options every open uses: never interrupt other producers' open streams, never
    /// compact by itself.
    private static var journalOptions: JournalOptions {
        var options = JournalOptions(durability: .none, openStreams: .neverInterrupt)
        options.autoCompaction = nil
        return options
    }

    private static func lockedFailure(_ path: String, _ pid: Int32?) -> Failure {
        let holder = pid.map { "process \($0)" } ?? "another process"
        return Failure(
            message:
                "compaction needs the writer lock, but \(holder) holds it on \(path); "
                + "the running writer (e.g. journal-server) compacts the journal automatically")
    }

    private static func compact(_ path: String, policy: RetentionPolicy, progress: ProgressBar?) throws
        -> CompactionReport
    {
        let opened = Result { () throws(JournalError) in
            try Journal(path: path, options: journalOptions.withoutCreating)
        }
        if case .failure(.locked(_, let pid)) = opened { throw lockedFailure(path, pid) }
        let journal = try opened.get()
        do {
            let report = try journal.compact(policy: policy, dryRun: false, progress: progress.map { $0.callback })
            try journal.close()
            return report
        } catch {
            try? journal.close()
            throw error
        }
    }

    /// A writable open changes the header, so a dry run holds the writer lock on the file
    /// (flock, as a writer would) and asks the library about a temporary copy.
    private static func dryRunReport(_ path: String, policy: RetentionPolicy) throws -> CompactionReport {
        let source = open(path, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else {
            if errno == ENOENT { throw Failure(message: "no journal at \(path); pass --file PATH or set JOURNAL_FILE") }
            throw Failure(message: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(source) }
        // open(2) succeeds on a directory; reading it would fail with a bare "Is a directory".
        var status = stat()
        if fstat(source, &status) == 0, status.st_mode & S_IFMT != S_IFREG {
            throw JournalCtl.notARegularFile(path, directory: status.st_mode & S_IFMT == S_IFDIR)
        }
        if flock(source, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK else {
                throw Failure(message: "cannot lock \(path): \(String(cString: strerror(errno)))")
            }
            let pid = (try? Journal.fileInfo(path: path))?.current.map { Int32($0.writerPID) }
            throw lockedFailure(path, pid)
        }
        defer { flock(source, LOCK_UN) }
        // Beside the file itself, where the next writable open looks for a copy a killed dry
        // run left (the library resolves links the same way).
        let copy = "\(resolvingLinks(path)).dry-run-\(getpid())"
        // Only a dead process with this PID can have left this name.
        unlink(copy)
        DryRunCopy.removeOnSignal(copy)
        defer { DryRunCopy.remove() }
        try copyFile(source, named: path, to: copy)
        failpoint("dry-run-after-copy")
        // The copy is the user's file byte for byte: errors name theirs, which is what to fix.
        let compacted = Result { () throws(JournalError) in try dryRunCompaction(of: copy, policy: policy) }
        var report = try compacted.mapError { $0.naming(path, insteadOf: copy) }.get()
        // Sizes of the real file, not of the copy (which the open may have trimmed).
        if fstat(source, &status) == 0 { report.fileBytesBefore = UInt64(status.st_size) }
        return report
    }

    private static func dryRunCompaction(of copy: String, policy: RetentionPolicy) throws(JournalError)
        -> CompactionReport
    {
        let journal = try Journal(path: copy, options: journalOptions.withoutCreating)
        defer { try? journal.close() }
        return try journal.compact(policy: policy, dryRun: true)
    }

    /// `path` with its symbolic links resolved, or `path` when that fails.
    private static func resolvingLinks(_ path: String) -> String {
        guard let real = realpath(path, nil) else { return path }
        defer { free(real) }
        return String(cString: real)
    }

    /// Where the CLI tests stop a dry run to interrupt it: with `JOURNAL_FAILPOINT=name` set,
    /// a debug build says so on standard error and waits for a signal. Release builds
    /// compile it away.
    private static func failpoint(_ name: String) {
        #if DEBUG
            guard let wanted = getenv("JOURNAL_FAILPOINT"), String(cString: wanted) == name else { return }
            let line = Array("failpoint \(name)\n".utf8)
            _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            while true { pause() }
        #endif
    }

    /// Copies the open file `name` (for messages) to a new file at `path`.
    private static func copyFile(_ source: Int32, named name: String, to path: String) throws {
        let target = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard target >= 0 else { throw Failure(message: "cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(target) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: off_t = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { pread(source, $0.baseAddress, $0.count, offset) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else {
                throw Failure(message: "cannot read \(name): \(String(cString: strerror(errno)))")
            }
            if count == 0 { return }
            var done = 0
            while done < count {
                let written = buffer.withUnsafeBytes {
                    pwrite(target, $0.baseAddress! + done, count - done, offset + off_t(done))
                }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else {
                    throw Failure(message: "cannot write \(path): \(String(cString: strerror(errno)))")
                }
                done += written
            }
            offset += off_t(count)
        }
    }

    /// `30s`, `5m`, `2h`, `7d`, `1w` in seconds.
    static func parseDuration(_ text: String) -> Int64? {
        guard let unit = text.last, let amount = Int64(text.dropLast()), amount >= 0 else { return nil }
        let scale: Int64
        switch unit {
        case "s": scale = 1
        case "m": scale = 60
        case "h": scale = 3600
        case "d": scale = 86_400
        case "w": scale = 604_800
        default: return nil
        }
        let (seconds, overflow) = amount.multipliedReportingOverflow(by: scale)
        return overflow ? nil : seconds
    }

    /// `1048576`, `512MiB`, `1G`, `10MB` in bytes.
    static func parseSize(_ text: String) -> UInt64? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard let amount = UInt64(digits) else { return nil }
        let scales: [String: UInt64] = [
            "": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gib": 1 << 30,
            "t": 1 << 40, "tib": 1 << 40, "kb": 1_000, "mb": 1_000_000, "gb": 1_000_000_000,
            "tb": 1_000_000_000_000,
        ]
        guard let scale = scales[text.dropFirst(digits.count).lowercased()] else { return nil }
        let (bytes, overflow) = amount.multipliedReportingOverflow(by: scale)
        return overflow ? nil : bytes
    }

    @MainActor private static func text(_ context: Context, _ report: CompactionReport) {
        let console = context.console
        let terminal = context.terminal
        if report.dryRun {
            console.line("dry run: nothing was compacted; this is what compaction of \(context.path) would do")
        }
        let dropped = report.streamsDropped.map(\.rawValue).joined(separator: ", ")
        var rows: [[String]] = [
            ["log bytes", "\(report.logBytesBefore) -> \(report.logBytesAfter)"],
            ["file bytes", "\(report.fileBytesBefore) -> \(report.fileBytesAfter)\(report.dryRun ? " (about)" : "")"],
            ["bytes copied", "\(report.bytesCopied)"],
            [
                report.dryRun ? "would drop" : "streams dropped",
                "\(report.streamsDropped.count)\(dropped.isEmpty ? "" : ": \(dropped)")",
            ],
            ["deleted streams", "\(report.deletedStreamsReclaimed) \(report.dryRun ? "to reclaim" : "reclaimed")"],
            ["streams kept", "\(report.streamsKept)"],
            ["duration", "\(milliseconds(report.durationNanoseconds)) ms"],
            ["pause", "\(milliseconds(report.pauseNanoseconds)) ms (appends held back)"],
        ]
        rows = rows.map { [terminal.paint($0[0], .bold), $0[1]] }
        for line in Show.table(rows, widthOf: Show.visibleWidth) { console.line(line) }
        if !report.dryRun {
            let saved =
                report.fileBytesBefore > report.fileBytesAfter ? report.fileBytesBefore - report.fileBytesAfter : 0
            console.line("\(terminal.paint("compacted", .green)): \(context.path) (\(Show.bytes(saved)) freed)")
        }
    }

    /// Milliseconds with three decimals.
    private static func milliseconds(_ nanoseconds: UInt64) -> String {
        let micros = (nanoseconds + 500) / 1000
        let fraction = String(micros % 1000)
        return "\(micros / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    static func json(_ path: String, _ report: CompactionReport) -> JSON {
        .object([
            ("path", .string(path)),
            ("dryRun", .bool(report.dryRun)),
            ("logBytesBefore", .int(report.logBytesBefore)),
            ("logBytesAfter", .int(report.logBytesAfter)),
            ("fileBytesBefore", .int(report.fileBytesBefore)),
            ("fileBytesAfter", report.dryRun ? .null : .int(report.fileBytesAfter)),
            ("bytesCopied", .int(report.bytesCopied)),
            ("streamsDropped", .array(report.streamsDropped.map { .string($0.rawValue) })),
            ("deletedStreamsReclaimed", .int(report.deletedStreamsReclaimed)),
            ("streamsKept", .int(report.streamsKept)),
            ("durationMs", .int((report.durationNanoseconds + 500_000) / 1_000_000)),
            ("pauseMs", .int((report.pauseNanoseconds + 500_000) / 1_000_000)),
            ("durationNanoseconds", .int(report.durationNanoseconds)),
            ("pauseNanoseconds", .int(report.pauseNanoseconds)),
        ])
    }
}

extension JournalError {
    /// The same error about `path` where it was about `other`.
    fileprivate func naming(_ path: String, insteadOf other: String) -> JournalError {
        func swap(_ named: String) -> String { named == other ? path : named }
        switch self {
        case .locked(let named, let pid): return .locked(path: swap(named), pid: pid)
        case .notAJournal(let named, let reason): return .notAJournal(path: swap(named), reason: reason)
        case .unsupportedVersion(let named, let found, let supported):
            return .unsupportedVersion(path: swap(named), found: found, supported: supported)
        case .corruption(let named, let offset, let detail):
            return .corruption(path: swap(named), offset: offset, detail: detail)
        case .io(let operation, let named, let errno): return .io(operation: operation, path: swap(named), errno: errno)
        case .poisoned(let named, let cause): return .poisoned(path: swap(named), cause: cause)
        case .readOnly(let named): return .readOnly(path: swap(named))
        case .closed(let named): return .closed(path: swap(named))
        case .busy(let named, let what): return .busy(path: swap(named), what: what)
        default: return self
        }
    }
}

extension JournalOptions {
    fileprivate var withoutCreating: JournalOptions {
        var options = self
        options.createIfMissing = false
        return options
    }
}

/// The dry run's copy of the journal, removed when a signal ends the process: it was
/// removed only as the dry run returned, so Ctrl-C or a kill left a whole copy of the
/// journal beside it.
private enum DryRunCopy {
    /// The copy's name, for the handler. Never freed: a handler on another thread may be
    /// reading it as the dry run ends, and the process exits soon after.
    nonisolated(unsafe) private static var path: UnsafeMutablePointer<CChar>?
    /// Puts back the handlers `removeOnSignal` replaced.
    nonisolated(unsafe) private static var restore: [() -> Void] = []

    /// Until `remove`, SIGINT, SIGTERM and SIGHUP remove `copy` and then end the process as
    /// they would have (the status says which signal). One the process was started with
    /// ignored (`nohup`, a background job of a script) stays ignored: the dry run goes on.
    static func removeOnSignal(_ copy: String) {
        path = strdup(copy)
        for number in [SIGINT, SIGTERM, SIGHUP] {
            // Read the disposition by ignoring the signal for an instant: a handler installed
            // over an inherited SIG_IGN made `nohup journalctl-stream compact --dry-run` die
            // on the hangup it was told to ignore.
            let inherited = signal(number, SIG_IGN)
            if unsafeBitCast(inherited, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { continue }
            // unlink, signal and raise are async-signal-safe. The signal is blocked while its
            // handler runs, so the raised one is delivered, to the default action, on return.
            let previous = signal(number) { number in
                if let path = DryRunCopy.path { unlink(path) }
                signal(number, SIG_DFL)
                raise(number)
            }
            restore.append { signal(number, previous) }
        }
    }

    /// Removes the copy, then puts the handlers back (in this order, so a signal in between
    /// still finds the copy removed).
    static func remove() {
        if let path { unlink(path) }
        for undo in restore { undo() }
        restore = []
        // `path` keeps its pointer (never freed, see above): nil, the allocation was
        // unreachable, and the Address Sanitizer's leak check failed the CLI with exit 1.
    }
}

/// A one-line progress bar on standard error, redrawn with `\r` (only used on a terminal).
/// The library calls it from the compacting thread, one call at a time.
private final class ProgressBar: @unchecked Sendable {
    private var lastDrawn = ""
    private var drawn = false

    var callback: @Sendable (CompactionProgress) -> Void { { [self] in draw($0) } }

    private func draw(_ progress: CompactionProgress) {
        let total = max(progress.bytesTotal, 1)
        let fraction = min(Double(progress.bytesRead) / Double(total), 1)
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let line =
            "\rcompacting [\(bar)] \(Int(fraction * 100))% \(Show.bytes(progress.bytesRead))/"
            + "\(Show.bytes(progress.bytesTotal)) \(progress.phase.rawValue)\u{1B}[K"
        guard line != lastDrawn else { return }
        lastDrawn = line
        drawn = true
        Console.standardError(line)
    }

    func clear() {
        if drawn { Console.standardError("\r\u{1B}[K") }
    }
}
