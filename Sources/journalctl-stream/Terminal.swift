import Dispatch

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the tool knows about where its output goes.
struct Terminal {
    /// Whether standard output is a terminal.
    let isInteractive: Bool
    /// Whether to use colours: only on a terminal, never with `NO_COLOR` set to anything
    /// non-empty (no-color.org), never on a dumb terminal.
    let colors: Bool

    static func current() -> Terminal {
        let interactive = isatty(1) != 0
        let noColor = getenv("NO_COLOR").map { String(cString: $0).isEmpty == false } ?? false
        let dumb = getenv("TERM").map { String(cString: $0) == "dumb" } ?? false
        return Terminal(isInteractive: interactive, colors: interactive && !noColor && !dumb)
    }

    /// A terminal colour or attribute.
    enum Style: String {
        case bold = "1"
        case dim = "2"
        case red = "31"
        case green = "32"
        case yellow = "33"
        case blue = "34"
        case cyan = "36"
    }

    /// `text` in `style` when colours are on, else `text` unchanged.
    func paint(_ text: String, _ style: Style) -> String {
        colors ? "\u{1B}[\(style.rawValue)m\(text)\u{1B}[0m" : text
    }

    /// The colour a stream status is shown in.
    func paint(status: String) -> String {
        switch status {
        case "open": return paint(status, .cyan)
        case "completed": return paint(status, .green)
        case "failed": return paint(status, .red)
        case "cancelled", "interrupted": return paint(status, .yellow)
        default: return status
        }
    }
}

/// Ctrl-C during a live command (`show -f`, `follow`): cancel the command's task, so it stops
/// at its next await, flushes what it printed and exits 0. A second Ctrl-C, or a task that
/// has not stopped a second later, exits at once. Other commands keep the default: Ctrl-C
/// kills them (status 130 from the shell), which is right for an interrupted import.
enum Interrupt {
    /// The task running the command; set by `main` before the task can run.
    nonisolated(unsafe) static var task: Task<Int32, Never>?
    /// Write end of the pipe the signal handler writes one byte to per Ctrl-C.
    nonisolated(unsafe) private static var writeEnd: Int32 = -1

    /// Makes Ctrl-C end the command normally.
    ///
    /// A real handler, not `SIG_IGN` plus a Dispatch signal source: with the signal ignored,
    /// a source that reads a signalfd sees it only when every thread blocks it, and threads
    /// started elsewhere (the journal's poller) do not; once in CI under load `show -f` never
    /// stopped on Ctrl-C. A handler runs on whichever thread receives the signal; it only
    /// writes to a pipe (async-signal-safe), and a dedicated queue reads it and acts.
    static func endsCommand() {
        guard writeEnd < 0, let task else { return }
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return }
        writeEnd = ends[1]
        let readEnd = ends[0]
        signal(SIGINT) { _ in
            var byte: UInt8 = 1
            _ = write(Interrupt.writeEnd, &byte, 1)
        }
        DispatchQueue(label: "journalctl-stream.interrupt").async {
            var byte: UInt8 = 0
            var presses = 0
            while true {
                let count = read(readEnd, &byte, 1)
                if count < 0 && errno == EINTR { continue }
                if count != 1 { return }
                presses += 1
                if presses > 1 { exit(0) }
                task.cancel()
                DispatchQueue.global().asyncAfter(deadline: .now() + 1) { exit(0) }
            }
        }
    }
}
