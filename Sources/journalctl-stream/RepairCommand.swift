import Journal

/// `repair`: salvage what is valid of a damaged journal into a new file.
enum RepairCommand: Command {
    static let name = "repair"
    static let summary =
        "Salvage each stream's chunks up to the first lost one into a new file (needs the writer lock)."
    static let usage = "repair [--dry-run] [-o text|json]"
    static let details = """
        Reads the damaged file record by record; after a damaged record it tries each following
        8-byte-aligned offset for a valid one and goes on from there. Every stream keeps its
        chunks from index 0 up to the first missing one, so chunk indices never change; a stream
        that lost chunks or its end is ended as interrupted, with a reason naming the loss. The
        result is written to PATH.repaired and verified; then the damaged file is kept as
        PATH.damaged-<UTC time> and the repaired one takes its name. Streams keep their ids,
        metadata, chunk bytes, statuses and reasons; record timestamps become the time of the
        repair, and the journal gets a new journal ID.

        Needs the writer lock: stop the writer (journal-server) first. With --dry-run nothing is
        written and no lock is taken; the report says what a repair would keep and lose. A file
        that verifies clean is left alone. Exit status 0 when repaired (or nothing was needed).

        """

    static let dryRun = OptionSpec(
        names: ["--dry-run"], value: nil, help: "report what would be kept and lost; write nothing")
    static let options = [dryRun]
    static let formats = ["text", "json"]

    @MainActor static func run(_ context: Context) async throws -> Int32 {
        _ = try context.operands([])
        let dry = context.arguments.has(dryRun)
        let result = Result { () throws(JournalError) in try Journal.repair(path: context.path, dryRun: dry) }
        if case .failure(.locked(let path, let pid)) = result {
            let holder = pid.map { "process \($0)" } ?? "another process"
            throw Failure(
                message:
                    "repair needs the writer lock, but \(holder) holds it on \(path); stop that writer and run repair again"
            )
        }
        let report = try result.get()
        if context.json {
            context.console.line(json(report).text)
            return 0
        }
        let console = context.console
        let terminal = context.terminal
        guard report.needed else {
            console.line("\(context.path) verifies clean; nothing to repair")
            return 0
        }
        let problemCount = Show.plural(report.problems.count, "problem")
        console.line("\(terminal.paint("damaged", .red)): verify found \(problemCount) in \(context.path)")
        for problem in report.problems { console.line("  offset \(problem.offset): \(problem.detail)") }
        if !report.damagedRegions.isEmpty {
            let count = report.damagedRegions.count
            console.line("damaged regions: \(count), \(report.damagedBytes) bytes that may have held stream records")
            for region in report.damagedRegions { console.line("  \(region)") }
        }
        let verb = report.dryRun ? "would keep" : "kept"
        console.line(
            "\(verb): \(Show.plural(report.streamsKept, "stream")), \(Show.plural(report.chunksKept, "chunk")), "
                + "\(Show.bytes(report.bytesKept)) of payload"
        )
        let lostVerb = report.dryRun ? "would lose" : "lost"
        if report.nothingLost {
            console.line("\(lostVerb): nothing; every record of every stream was readable")
        } else {
            console.line(
                "\(lostVerb): at least \(Show.plural(report.chunksLost, "chunk")) "
                    + "(\(report.droppedPayloadBytes) payload bytes readable but unusable), "
                    + "\(report.damagedBytes) bytes unreadable")
        }
        for loss in report.streamLosses {
            let ended = loss.originalStatus.map { ", had ended \($0)" } ?? ""
            console.line(
                "  \(loss.id): kept chunks 0..<\(loss.chunksKept), lost \(loss.chunksLost)\(ended); "
                    + "interrupted: \(loss.reason)")
        }
        if !report.orphanStreamNumbers.isEmpty {
            let numbers = report.orphanStreamNumbers.map(String.init).joined(separator: ", ")
            console.line("  streams whose open record was lost (ids unknown, not kept): numbers \(numbers)")
        }
        for id in report.streamsDeletedByReopening {
            console.line(
                "  \(id): an earlier stream of that id was left out as deleted (opened again after the damage)")
        }
        if report.recordsSkipped > 0 {
            console.line(
                "  \(Show.plural(report.recordsSkipped, "valid record")) broke a stream's lifecycle and "
                    + "\(report.recordsSkipped == 1 ? "was" : "were") left out")
        }
        if report.dryRun {
            console.line("dry run: nothing was written; run without --dry-run to repair")
        } else {
            console.line(
                "\(terminal.paint("repaired", .green)): \(context.path) "
                    + "(the damaged file is kept as \(report.damagedCopyPath ?? "?"))"
            )
            console.line("note: record timestamps are not kept; the rewritten records carry the time of the repair")
        }
        return 0
    }

    static func json(_ report: RepairReport) -> JSON {
        .object([
            ("path", .string(report.path)),
            ("dryRun", .bool(report.dryRun)),
            ("needed", .bool(report.needed)),
            (
                "problems",
                .array(report.problems.map { .object([("offset", .int($0.offset)), ("detail", .string($0.detail))]) })
            ),
            (
                "damagedRegions",
                .array(
                    report.damagedRegions.map {
                        .object([
                            ("offset", .int($0.offset)), ("length", .int($0.length)), ("reason", .string($0.reason)),
                            ("isSnapshot", .bool($0.isSnapshot)),
                        ])
                    })
            ),
            ("damagedBytes", .int(report.damagedBytes)),
            ("nothingLost", .bool(report.nothingLost)),
            ("streamsKept", .int(report.streamsKept)),
            ("chunksKept", .int(report.chunksKept)),
            ("bytesKept", .int(report.bytesKept)),
            ("chunksLost", .int(report.chunksLost)),
            ("droppedPayloadBytes", .int(report.droppedPayloadBytes)),
            (
                "streamLosses",
                .array(
                    report.streamLosses.map {
                        .object([
                            ("id", .string($0.id.rawValue)),
                            ("chunksKept", .int($0.chunksKept)),
                            ("chunksLost", .int($0.chunksLost)),
                            ("droppedPayloadBytes", .int($0.droppedPayloadBytes)),
                            ("originalStatus", .optional($0.originalStatus?.rawValue)),
                            ("reason", .string($0.reason)),
                        ])
                    })
            ),
            ("orphanStreamNumbers", .array(report.orphanStreamNumbers.map { .int($0) })),
            ("recordsSkipped", .int(report.recordsSkipped)),
            ("streamsDeletedByReopening", .array(report.streamsDeletedByReopening.map { .string($0.rawValue) })),
            ("damagedCopyPath", .optional(report.damagedCopyPath)),
        ])
    }
}
