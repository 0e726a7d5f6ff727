import Journal

/// `verify`: every byte that carries meaning, checked.
enum VerifyCommand: Command {
    static let name = "verify"
    static let summary = "Check every record, checksum, sequence and stream lifecycle; exit 1 on any problem."
    static let usage = "verify [-o text|json]"
    static let details = """
        Checks both header slots, every record (bounds, CRC-32C, type, padding, generation order),
        each stream's lifecycle (one open, chunks in index order, at most one end, back-pointers),
        every snapshot against the state rebuilt from the log, and the headers' pointers. Each
        problem is printed with its byte offset, then a summary. The log's validity ends at the
        first damaged record; after one, the rest of the file is scanned for further damaged
        regions the same way `repair` does, so every one of them is listed. Exit status 0 when
        the file is valid, 1 when any problem is found. Works beside a running writer: a record
        being written is a torn tail, which is a note, not a problem.

        """

    static let options: [OptionSpec] = []
    static let formats = ["text", "json"]

    /// The slot's name when the only problem is one damaged header slot (the other one
    /// valid, or nothing else could have been checked).
    static func onlyAHeaderSlot(_ problems: [(offset: UInt64, detail: String)]) -> String? {
        guard problems.count == 1, let problem = problems.first, problem.detail.hasPrefix("header slot "),
            !problem.detail.contains(" is version ")
        else { return nil }
        switch problem.offset {
        case 0..<4096: return "A"
        case 4096..<8192: return "B"
        default: return nil
        }
    }

    @MainActor static func run(_ context: Context) async throws -> Int32 {
        _ = try context.operands([])
        let report = try Journal.verify(path: context.path)
        var problems = report.problems.map { (offset: $0.offset, detail: $0.detail) }
        if !report.isClean {
            // The log ends at the first damage; the salvage scan finds the damage beyond it.
            let salvage = try? Journal.repair(path: context.path, dryRun: true)
            for region in salvage?.damagedRegions ?? []
            where region.offset > report.logEnd && !problems.contains(where: { $0.offset == region.offset }) {
                problems.append((region.offset, "\(region.reason) (\(region.length) damaged bytes)"))
            }
            problems.sort { $0.offset < $1.offset }
        }
        let console = context.console
        let counts = StreamStatus.allCases.map { "\(report.streamsByStatus[$0] ?? 0) \($0)" }
        if context.json {
            let json = JSON.object([
                ("path", .string(context.path)),
                ("clean", .bool(problems.isEmpty)),
                (
                    "problems",
                    .array(problems.map { .object([("offset", .int($0.offset)), ("detail", .string($0.detail))]) })
                ),
                ("records", .int(report.records)),
                ("streams", .int(report.streams)),
                (
                    "streamsByStatus",
                    .object(StreamStatus.allCases.map { ($0.rawValue, .int(report.streamsByStatus[$0] ?? 0)) })
                ),
                ("snapshots", .int(report.snapshots)),
                ("logEnd", .int(report.logEnd)),
                ("checkpointEnd", .int(report.checkpointEnd)),
                ("fileSize", .int(report.fileSize)),
                ("tailNote", .optional(report.tailNote)),
            ])
            console.line(json.text)
            return problems.isEmpty ? 0 : 1
        }
        let terminal = context.terminal
        for problem in problems {
            console.line("\(terminal.paint("offset \(problem.offset)", .red)): \(problem.detail)")
        }
        if let note = report.tailNote { console.line("note: \(note) (dropped by the next writable open)") }
        if problems.isEmpty {
            let facts =
                "\(Show.plural(report.records, "record")), \(Show.plural(report.streams, "stream")) "
                + "(\(counts.joined(separator: ", "))), "
                + "\(Show.plural(report.snapshots, "snapshot")), log end \(report.logEnd) of \(report.fileSize) bytes"
            console.line("\(terminal.paint("ok", .green)): \(context.path) is valid: \(facts)")
            return 0
        }
        // Without a valid header slot nothing else could be checked, and a file shorter than
        // the header area has no log at all (logEnd is then still 8192): no "valid up to".
        let extent =
            report.logEnd >= 8192 && report.logEnd <= report.fileSize
            ? "; the log is valid up to offset \(report.logEnd) (\(Show.plural(report.records, "record")))" : ""
        console.line(
            "\(terminal.paint("damaged", .red)): \(Show.plural(problems.count, "problem")) in \(context.path)\(extent)")
        if let slot = onlyAHeaderSlot(problems) {
            // Two slots alternate (FORMAT.md §3): the writer's next header writes replace the
            // damaged one, and the log is intact, so a repair (a rewrite of the whole file)
            // would change nothing that matters.
            console.line(
                "Only header slot \(slot) is damaged and the log is intact: the next writer to open the journal "
                    + "(journal-server, an application, or `journalctl-stream compact`) writes over it; "
                    + "no repair is needed.")
        } else {
            console.line("`journalctl-stream repair --dry-run` shows what a repair would keep.")
        }
        return 1
    }
}
