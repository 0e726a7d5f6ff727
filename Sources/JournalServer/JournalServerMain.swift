import Glibc
import Journal

/// `journal-server`: parses the command line, opens the journal, binds, prints the
/// `listening on` line, runs the event loop until SIGINT/SIGTERM, then syncs, writes a
/// snapshot and closes the journal. Exit status 0 after a clean shutdown, 1 when the
/// journal or the address cannot be opened, 64 for a usage error.
@main
enum JournalServerMain {
    static func main() {
        let command: ServerCommand
        do {
            command = try ServerConfiguration.parse(
                arguments: Array(CommandLine.arguments.dropFirst()), environment: environmentVariables())
        } catch {
            log("\(error.message)")
            exit(64)
        }
        guard case .run(let configuration) = command else {
            print(ServerConfiguration.usage, terminator: "")
            exit(0)
        }
        exit(serve(configuration))
    }

    /// Runs the server; returns the exit status.
    static func serve(_ configuration: ServerConfiguration) -> Int32 {
        // Signals must be blocked before the journal starts its maintenance thread.
        let signals: SignalFD
        do {
            signals = try SignalFD()
        } catch {
            log("cannot set up signal handling: \(error)")
            return 1
        }
        raiseDescriptorLimit()
        // The address first: a port in use must not leave a new, empty journal file behind.
        // Connections made while recovery runs wait in the backlog.
        let address = SocketAddress(host: configuration.host, port: configuration.port)!
        let listener: ListeningSocket
        do {
            listener = try ListeningSocket(address: address, backlog: configuration.backlog)
        } catch {
            log("cannot listen on \(address): \(error)")
            return 1
        }
        let journal: Journal
        do {
            journal = try Journal(path: configuration.file, options: configuration.journalOptions)
        } catch {
            log("cannot open \(configuration.file): \(error.description)")
            listener.close()
            return 1
        }
        reportRecovery(journal.recoveryReport, path: configuration.file)
        let bound = listener.address
        let api = ServerAPI(journal: journal, configuration: configuration, metrics: ServerMetrics())
        let loop: EventLoop
        do {
            loop = try EventLoop(api: api, listener: listener, signals: signals)
        } catch {
            log("cannot start the event loop: \(error)")
            listener.close()
            try? journal.close()
            return 1
        }
        // Written straight to the descriptor: scripts wait for this line, so it must not sit
        // in a stdio buffer when stdout is a pipe.
        var line = Array(
            ("journal-server: listening on http://\(bound.hostText):\(bound.port) (file \(configuration.file), "
                + "durability \(configuration.durabilityText), on-restart \(configuration.onRestart.rawValue), "
                + "stale-after \(DurationText.format(configuration.staleAfter)))\n").utf8)
        _ = line.withUnsafeMutableBytes { write(1, $0.baseAddress, $0.count) }
        loop.run()
        return closeJournal(journal, metrics: api.metrics)
    }

    /// Sync, then close, which writes a snapshot: after this every acknowledged append is on
    /// disk and the next open reads one snapshot (or, on a full disk, scans the log after
    /// the last one).
    private static func closeJournal(_ journal: Journal, metrics: ServerMetrics) -> Int32 {
        do {
            let start = MonotonicClock.now()
            try journal.sync()
            metrics.syncDuration.observe(since: start)
            try journal.close()
            log("stopped cleanly")
            return 0
        } catch {
            log("closing the journal failed: \(error.description)")
            return 1
        }
    }

    private static func reportRecovery(_ report: RecoveryReport, path: String) {
        if let torn = report.tornTailOffset {
            log("\(path): dropped a torn tail at byte \(torn) (\(report.tornTailReason ?? "invalid record"))")
        }
        if !report.interruptedStreams.isEmpty {
            log("\(path): ended \(report.interruptedStreams.count) open stream(s) as interrupted")
        }
        if !report.streamsKeptOpen.isEmpty {
            log("\(path): kept \(report.streamsKeptOpen.count) open stream(s) open for their producers")
        }
    }

    /// Soft descriptor limit up to the hard one: each subscriber is a descriptor.
    private static func raiseDescriptorLimit() {
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
    }

    /// The process environment as a dictionary.
    private static func environmentVariables() -> [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        return result
    }
}
