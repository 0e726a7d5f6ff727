import Journal

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `import`: the inverse of `export`.
enum ImportCommand: Command {
    static let name = "import"
    static let summary = "Read `export` JSON Lines into a journal (needs the writer lock)."
    static let usage = "import [FILE | -] [-o text|json]"
    static let details = """
        Reads export lines from FILE, or standard input when FILE is '-' or absent, and writes
        them into the journal (created if missing): streams get the same ids and metadata, chunks
        the same indices and bytes, ended streams the same status and reason. Timestamps are not
        preserved: the journal stamps each record when it is imported.

        Importing is idempotent: records the journal already holds identically are skipped, so an
        import that stopped half-way can simply be run again. A line that contradicts the journal
        (other bytes at an index, a missing chunk, another status) stops the import with its line
        number; everything before it stays imported.

        The journal is opened once the first line has been read, so input that is not export
        lines (or a directory) creates no journal. Needs the writer lock: it fails if another
        process (journal-server) has the journal open for writing.

        """

    static let options: [OptionSpec] = []
    static let formats = ["text", "json"]

    @MainActor static func run(_ context: Context) async throws -> Int32 {
        let operands = context.arguments.operands
        if operands.count > 1 {
            throw UsageError(message: "unexpected argument '\(operands[1])'", command: self)
        }
        let source = operands.first ?? "-"
        let inputName = source == "-" ? "standard input" : source
        let input: Int32
        if source == "-" {
            input = 0
        } else {
            input = open(source, O_RDONLY | O_CLOEXEC)
            if input < 0 {
                throw Failure(message: "cannot read \(source): \(String(cString: strerror(errno)))")
            }
        }
        defer { if input != 0 { close(input) } }
        // open(2) succeeds on a directory, and only the first read would fail, after the
        // journal had been created.
        var status = stat()
        if fstat(input, &status) == 0, status.st_mode & S_IFMT == S_IFDIR {
            throw Failure(
                message:
                    "cannot read \(inputName): it is a directory; name a file of export lines, or - for standard input")
        }

        var reader = LineReader(descriptor: input, name: inputName)
        var lineNumber = 0
        var records = 0
        func nextRecord() throws -> ExportRecord? {
            while let line = try reader.next() {
                lineNumber += 1
                if line.isEmpty { continue }
                do {
                    let record = try ExportRecord(jsonLine: line)
                    records += 1
                    return record
                } catch {
                    // The records before it have been applied (each is, before the next line is
                    // read): say so, as a conflict does. Blank lines are not records.
                    let before = records > 0 ? "; the lines before it were imported" : ""
                    throw Failure(message: "line \(lineNumber) of \(inputName): \(error)\(before)")
                }
            }
            return nil
        }
        // The first record is read before the journal is opened, so unreadable input leaves
        // no new, empty journal behind (empty input still opens it: the lock is checked).
        var next = try nextRecord()
        let journal = try openForWriting(context.path)
        var applied = 0
        var present = 0
        var streams = 0
        var chunks = 0
        var bytes = 0
        do {
            while let record = next {
                let outcome: ImportOutcome
                do { outcome = try journal.importRecord(record) } catch {
                    // `records` counts this one, which was not applied.
                    let before = records > 1 ? "; the lines before it were imported" : ""
                    throw Failure(message: "line \(lineNumber) of \(inputName): \(error)\(before)")
                }
                next = try nextRecord()
                guard outcome == .applied else {
                    present += 1
                    continue
                }
                applied += 1
                switch record {
                case .open: streams += 1
                case .chunk(_, _, _, let payload):
                    chunks += 1
                    bytes += payload.count
                case .end: break
                }
            }
            try journal.sync()
            try journal.close()
        } catch {
            try? journal.sync()
            try? journal.close()
            throw error
        }
        if context.json {
            let summary = JSON.object([
                ("path", .string(context.path)),
                ("streams", .int(streams)),
                ("chunks", .int(chunks)),
                ("bytes", .int(bytes)),
                ("recordsApplied", .int(applied)),
                ("recordsAlreadyPresent", .int(present)),
            ])
            context.console.line(summary.text)
        } else {
            let skipped =
                present == 1
                ? "; 1 record was already there" : present > 0 ? "; \(present) records were already there" : ""
            context.console.line(
                "imported \(Show.plural(streams, "stream")), \(Show.plural(chunks, "chunk")) (\(Show.bytes(bytes))) "
                    + "into \(context.path)\(skipped)")
        }
        return 0
    }

    /// Opens the journal for writing; a held lock becomes a sentence saying what to do.
    private static func openForWriting(_ path: String) throws -> Journal {
        // Streams left open in the target (by an earlier import, say) stay open: an import
        // must not end other streams as a writable open with the default policy would.
        var options = JournalOptions(durability: .none, openStreams: .neverInterrupt)
        // Chunks of any size the exporting journal accepted.
        options.maxChunkSize = 1 << 30
        options.autoCompaction = nil
        let result = Result { () throws(JournalError) in try Journal(path: path, options: options) }
        if case .failure(.locked(_, let pid)) = result {
            let holder = pid.map { "process \($0)" } ?? "another process"
            throw Failure(
                message:
                    "import needs the writer lock, but \(holder) holds it on \(path); "
                    + "stop that writer or import into another file"
            )
        }
        return try result.get()
    }
}

/// Lines from a file descriptor, without their line feed (and without a CR before it).
struct LineReader {
    let descriptor: Int32
    /// What the descriptor reads, for error messages: a path or "standard input".
    let name: String
    private var buffer: [UInt8] = []
    private var start = 0
    /// Where to look for the next line feed: bytes before it have none.
    private var searched = 0
    private var atEnd = false

    init(descriptor: Int32, name: String) {
        self.descriptor = descriptor
        self.name = name
    }

    mutating func next() throws -> [UInt8]? {
        while true {
            if let newline = buffer[max(start, searched)...].firstIndex(of: 10) {
                var end = newline
                if end > start, buffer[end - 1] == 13 { end -= 1 }
                let line = Array(buffer[start..<end])
                start = newline + 1
                searched = start
                return line
            }
            searched = buffer.count
            if atEnd {
                guard start < buffer.count else { return nil }
                let line = Array(buffer[start...])
                start = buffer.count
                return line
            }
            if start > 0 {
                buffer.removeFirst(start)
                searched -= start
                start = 0
            }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(message: "cannot read \(name): \(String(cString: strerror(errno)))")
            }
            if count == 0 {
                atEnd = true
            } else {
                buffer.append(contentsOf: chunk[..<count])
            }
        }
    }
}
