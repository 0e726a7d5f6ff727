import Journal

/// `show ID`: a stream's chunks, optionally followed live.
enum ShowCommand: Command {
    static let name = "show"
    static let summary = "Print a stream's chunks; -f follows it live until it ends."
    static let usage = "show ID [--from K] [-n N] [-f] [-o text|json|sse|raw]"
    static let details = """
        Output formats:
          text  the payloads concatenated, as a person reads an LLM answer, then a line with how
                the stream ended (or that it is still open); bytes that are not UTF-8 show as U+FFFD,
                and on a terminal control characters are neutralised; in the end line the reason's
                control characters and backslashes are escaped (\\n, \\u{1b}, \\\\), so it is one line
          json  one object per chunk: {"stream","index","timestamp","text"} for UTF-8 payloads,
                "base64" instead of "text" otherwise; then {"event":"end",...} when the stream has ended
          sse   text/event-stream as journal-server sends it: id: <index> per chunk, then event: end
          raw   the payload bytes exactly, nothing else

        With -f the command keeps running, printing chunks as the writer commits them (from another
        process too), and exits 0 when the stream ends or on Ctrl-C. An id that starts with '-'
        goes after '--'.

        """

    static let from = OptionSpec(names: ["--from"], value: "K", help: "start at chunk index K")
    static let lines = OptionSpec(
        names: ["-n", "--lines"], value: "N", help: "only the last N chunks (with -f: then follow)")
    static let follow = OptionSpec(
        names: ["-f", "--follow"], value: nil, help: "keep printing new chunks until the stream ends")
    static let options = [from, lines, follow]
    static let formats = ["text", "json", "sse", "raw"]

    @MainActor static func run(_ context: Context) async throws -> Int32 {
        let id = try streamIDArgument(try context.operands(["the stream ID"])[0], command: self)
        let start = try context.arguments.count(from)
        let last = try context.arguments.count(lines)
        let journal = try context.openReadOnly()
        let info = try journal.info(id)
        var index = start ?? 0
        if let last { index = max(index, info.chunkCount - last) }
        var printer = Printer(context: context, stream: id)

        if context.arguments.has(follow) {
            Interrupt.endsCommand()
            let follower = try journal.follow(id, from: index)
            do {
                for try await event in follower {
                    switch event {
                    case .chunk(let chunk): printer.chunk(chunk)
                    case .finished(let info): printer.end(info)
                    }
                    context.console.flush()
                }
            } catch is CancellationError {}
            printer.interrupted()
            return 0
        }
        var cursor = try journal.chunks(of: id, from: index)
        while let chunk = try cursor.next() { printer.chunk(chunk) }
        // The info was read before the chunks: reread it so the trailer matches what was printed.
        let now = try journal.info(id)
        if now.status.isFinished && now.chunkCount == cursor.endIndex {
            printer.end(now)
        } else {
            printer.open(chunkCount: cursor.endIndex)
        }
        return 0
    }

    /// Writes chunks and the end in the chosen format.
    @MainActor
    struct Printer {
        let context: Context
        let stream: StreamID
        var ended = false
        /// Text output: the bytes of a UTF-8 sequence that the next chunk completes.
        private var pending: [UInt8] = []

        init(context: Context, stream: StreamID) {
            self.context = context
            self.stream = stream
        }

        private var console: Console { context.console }

        mutating func chunk(_ chunk: Chunk) {
            switch context.format {
            case "json":
                var line: [UInt8] = []
                ExportRecord.encode(chunk, of: stream, into: &line)
                console.write(line)
            case "sse":
                var event: [UInt8] = []
                chunk.withUnsafeBytes { _ = SSEEncoder.chunk(index: chunk.index, payload: $0, into: &event) }
                console.write(event)
            case "raw":
                chunk.withUnsafeBytes { console.write($0) }
            default:
                chunk.withUnsafeBytes { text($0) }
            }
        }

        /// Text output: the concatenation decoded as UTF-8, so a character split between two
        /// chunks (LLM tokens do that) comes out whole; an incomplete sequence waits for the
        /// next chunk.
        private mutating func text(_ bytes: UnsafeRawBufferPointer) {
            pending.append(contentsOf: bytes)
            var cut = pending.count
            var position = pending.count - 1
            while position >= 0, pending.count - position <= 4 {
                let byte = pending[position]
                if byte & 0xC0 == 0x80 {
                    position -= 1
                    continue
                }
                let needed = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1
                if pending.count - position < needed { cut = position }
                break
            }
            emit(String(decoding: pending[..<cut], as: UTF8.self))
            pending.removeFirst(cut)
        }

        private mutating func flushText() {
            if !pending.isEmpty {
                emit(String(decoding: pending, as: UTF8.self))
                pending.removeAll()
            }
        }

        private func emit(_ text: String) {
            console.write(context.terminal.isInteractive ? Printer.neutralised(text) : text)
        }

        mutating func end(_ info: StreamInfo) {
            ended = true
            switch context.format {
            case "json":
                var line: [UInt8] = []
                ExportRecord(ending: info)?.encode(into: &line)
                console.write(line)
            case "sse":
                var event: [UInt8] = []
                SSEEncoder.end(status: info.status.rawValue, reason: info.reason, into: &event)
                console.write(event)
            case "raw":
                break
            default:
                flushText()
                // Escaped even off a terminal: the trailer is one line a script may read.
                let reason = info.reason.map { ": \(Show.escaped($0))" } ?? ""
                let count = "\(info.chunkCount) chunk\(info.chunkCount == 1 ? "" : "s")"
                trailer(status: info.status.rawValue, "\(reason) (\(count)) --")
            }
        }

        /// Without -f, a stream still open: say so in text output (the other formats simply
        /// have no end event, which is what a reader of them expects).
        mutating func open(chunkCount: Int) {
            guard context.format == "text" else { return }
            flushText()
            let count = "\(chunkCount) chunk\(chunkCount == 1 ? "" : "s") so far"
            trailer(status: "open", " (\(count); -f follows it) --")
        }

        /// After Ctrl-C: end the text line so the shell prompt starts on its own line.
        mutating func interrupted() {
            flushText()
            if !ended, context.format == "text", context.terminal.isInteractive, console.lastByte != 10 {
                console.line()
            }
        }

        /// `-- <status><rest>` on its own line: the status in its colour, the rest dim.
        private func trailer(status: String, _ rest: String) {
            if let last = console.lastByte, last != 10 { console.line() }
            let terminal = context.terminal
            console.line(terminal.paint("-- ", .dim) + terminal.paint(status: status) + terminal.paint(rest, .dim))
        }

        /// Control characters other than newline and tab would drive the terminal (colours,
        /// cursor moves, titles): shown as U+FFFD instead.
        static func neutralised(_ text: String) -> String {
            var out = ""
            out.unicodeScalars.append(
                contentsOf: text.unicodeScalars.map { scalar in
                    switch scalar {
                    case "\n", "\t": return scalar
                    case "\u{0}"..."\u{1F}", "\u{7F}"..."\u{9F}": return "\u{FFFD}"
                    default: return scalar
                    }
                })
            return out
        }
    }
}
