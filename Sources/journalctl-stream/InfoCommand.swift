import Journal

/// `info`: the header, sizes, streams per status, snapshots and what opening found.
enum InfoCommand: Command {
    static let name = "info"
    static let summary = "Show header fields, format version, sizes, streams per status and snapshots."
    static let usage = "info [--disk-usage] [-o text|json]"
    static let details = """
        The header fields come from the slot in use (the valid one with the highest sequence);
        both slots are listed. A journal too damaged to open still shows its header slots, with
        the reason the open failed (exit status 1; see verify and repair). "Open" describes what this read-only open found: the snapshot it
        loaded, the records it scanned after it, and any torn tail (a write in progress, or left by
        a writer that died; the next writable open drops it). The file does not record what the
        last writable open recovered; interrupted streams carry their reason (see list -o json).

        --disk-usage scans the whole log and sorts its bytes: live are the records of every stream
        in the table (open and finished) plus the current snapshot, what a compaction would copy;
        dead are superseded snapshots, padding and records of streams no longer in the table; free
        is the preallocated space after the log end.

        """

    static let diskUsage = OptionSpec(
        names: ["--disk-usage"], value: nil, help: "scan the log for live, dead and free bytes")
    static let options = [diskUsage]
    static let formats = ["text", "json"]

    @MainActor static func run(_ context: Context) async throws -> Int32 {
        _ = try context.operands([])
        // A damaged journal does not open, but its header slots still say what it is: shown
        // with the reason, rather than the reason alone (exit 1, as verify's for damage).
        let opened: Journal?
        let openError: JournalError?
        do {
            opened = try context.openReadOnly()
            openError = nil
        } catch let error as JournalError {
            switch error {
            case .corruption, .unsupportedVersion:
                opened = nil
                openError = error
            default:
                throw error
            }
        }
        let file = try Journal.fileInfo(path: context.path)
        let streams = try opened?.streams() ?? []
        let report = opened?.recoveryReport
        // The disk-usage scan reads up to the last valid record, so it works on a journal
        // that does not open too.
        let usage = context.arguments.has(diskUsage) ? try Journal.diskUsage(path: context.path) : nil
        if let openError {
            // As every failure: one line on standard error too, for scripts that read only it.
            Console.error(JournalCtl.describe(openError))
        }
        let status: Int32 = openError == nil ? 0 : 1
        var counts: [StreamStatus: Int] = [:]
        for info in streams { counts[info.status, default: 0] += 1 }
        if context.json {
            let summary = opened.map { _ in (streams.count, counts) }
            context.console.line(json(context.path, file, summary, report, openError, usage).text)
            return status
        }
        let terminal = context.terminal
        var rows: [[String]] = []
        func row(_ label: String, _ value: String) { rows.append([terminal.paint(label, .bold), value]) }
        row("File", context.path)
        if let header = file.current, let slot = file.currentSlot {
            row("Format", "version \(header.formatVersion) (this build reads up to \(Journal.supportedFormatVersion))")
            row("Journal ID", header.journalID)
            row("Created", Show.timestamp(header.createdAt))
            row(
                "Header",
                "slot \(file.slots[slot].name), sequence \(header.sequence), written \(Show.timestamp(header.updatedAt))"
            )
            row("Writer", "generation \(header.generation), last opened by process \(header.writerPID)")
            row("Checkpoint", "offset \(header.checkpointEnd) (synced up to here when the header was written)")
            row(
                "Snapshot", header.snapshotOffset.map { "offset \($0), \(Show.bytes(header.snapshotLength))" } ?? "none"
            )
        }
        for slot in file.slots {
            if let fields = slot.fields {
                let snapshot = fields.snapshotOffset.map { "snapshot at \($0)" } ?? "no snapshot"
                row(
                    "Slot \(slot.name)",
                    "valid, sequence \(fields.sequence), generation \(fields.generation), \(snapshot)")
            } else {
                row("Slot \(slot.name)", terminal.paint("damaged: \(slot.problem ?? "")", .red))
            }
        }
        row(
            "File size",
            "\(Show.bytes(file.fileSize)) (\(file.fileSize) bytes), \(Show.bytes(file.allocatedBytes)) on disk")
        if let report {
            row("Log end", "offset \(report.logEnd) (\(Show.bytes(report.logEnd)) incl. headers)")
            let parts = StreamStatus.allCases.map { "\(counts[$0] ?? 0) \($0)" }
            row("Streams", "\(streams.count): \(parts.joined(separator: ", "))")
            row("Open", openSummary(report))
        }
        if let openError {
            row("Open", terminal.paint("failed: \(JournalCtl.describe(openError))", .red))
        }
        for line in Show.table(rows, widthOf: Show.visibleWidth) { context.console.line(line) }
        if let usage {
            context.console.line()
            context.console.line(terminal.paint("Disk usage", .bold))
            let lines: [[String]] = [
                [
                    "file size", "\(usage.fileSize)", Show.bytes(usage.fileSize),
                    "\(Show.bytes(usage.allocatedBytes)) allocated on disk",
                ],
                ["headers", "\(usage.headerBytes)", Show.bytes(usage.headerBytes), "two header slots"],
                [
                    "live", "\(usage.liveBytes)", Show.bytes(usage.liveBytes),
                    "\(usage.liveStreamRecords) stream records (\(Show.bytes(usage.payloadBytes)) of payload) "
                        + "and the current snapshot (\(Show.bytes(usage.currentSnapshotBytes)))",
                ],
                [
                    "dead", "\(usage.deadBytes)", Show.bytes(usage.deadBytes),
                    "\(usage.supersededSnapshots) superseded snapshots, padding, removed streams",
                ],
                [
                    "free", "\(usage.freeBytes)", Show.bytes(usage.freeBytes),
                    "preallocated after the log end at \(usage.logEnd)",
                ],
            ]
            for line in Show.table(lines, rightAligned: [1, 2], widthOf: \.count) { context.console.line("  " + line) }
            if let note = usage.stopNote { context.console.line("  the scan stopped at \(note)") }
        }
        return status
    }

    static func openSummary(_ report: RecoveryReport) -> String {
        var parts: [String] = []
        if let offset = report.snapshotOffset {
            parts.append(
                "loaded the snapshot at \(offset), then scanned \(Show.plural(report.recordsScanned, "record"))")
        } else {
            parts.append("no usable snapshot, scanned \(Show.plural(report.recordsScanned, "record")) from the start")
        }
        if let offset = report.tornTailOffset {
            parts.append("torn tail at \(offset) (\(report.tornTailReason ?? "invalid record"))")
        } else {
            parts.append("clean end")
        }
        parts += report.snapshotProblems
        parts += report.damagedHeaderSlots
        return parts.joined(separator: "; ")
    }

    /// `streams` (the count and the count per status) and `report` are nil when the open
    /// failed with `openError`.
    static func json(
        _ path: String, _ file: JournalFileInfo, _ streams: (Int, [StreamStatus: Int])?, _ report: RecoveryReport?,
        _ openError: JournalError?, _ usage: DiskUsage?
    ) -> JSON {
        func header(_ fields: JournalHeaderFields) -> JSON {
            .object([
                ("formatVersion", .int(fields.formatVersion)),
                ("requiredFeatures", .int(fields.requiredFeatures)),
                ("optionalFeatures", .int(fields.optionalFeatures)),
                ("journalID", .string(fields.journalID)),
                ("sequence", .int(fields.sequence)),
                ("generation", .int(fields.generation)),
                ("writerPID", .int(fields.writerPID)),
                ("createdAt", .int(fields.createdAt)),
                ("updatedAt", .int(fields.updatedAt)),
                ("checkpointEnd", .int(fields.checkpointEnd)),
                ("snapshotOffset", .optional(fields.snapshotOffset)),
                ("snapshotLength", .int(fields.snapshotLength)),
            ])
        }
        var pairs: [(String, JSON)] = [
            ("path", .string(path)),
            ("supportedFormatVersion", .int(Journal.supportedFormatVersion)),
            ("header", file.current.map(header) ?? .null),
            ("headerSlot", file.currentSlot.map { .string(file.slots[$0].name) } ?? .null),
            (
                "slots",
                .array(
                    file.slots.map { slot in
                        .object([
                            ("slot", .string(slot.name)),
                            ("valid", .bool(slot.fields != nil)),
                            ("sequence", .optional(slot.fields?.sequence)),
                            ("snapshotOffset", .optional(slot.fields?.snapshotOffset)),
                            ("problem", .optional(slot.problem)),
                        ])
                    })
            ),
            ("fileSize", .int(file.fileSize)),
            ("allocatedBytes", .int(file.allocatedBytes)),
            ("logEnd", .optional(report?.logEnd)),
            ("streams", .optional(streams?.0)),
            (
                "streamsByStatus",
                streams.map { (_, counts) in
                    .object(StreamStatus.allCases.map { ($0.rawValue, .int(counts[$0] ?? 0)) })
                } ?? .null
            ),
            (
                "open",
                report.map { report in
                    .object([
                        ("snapshotOffset", .optional(report.snapshotOffset)),
                        ("recordsScanned", .int(report.recordsScanned)),
                        ("tornTailOffset", .optional(report.tornTailOffset)),
                        ("tornTailReason", .optional(report.tornTailReason)),
                        ("snapshotProblems", .array(report.snapshotProblems.map { .string($0) })),
                        ("damagedHeaderSlots", .array(report.damagedHeaderSlots.map { .string($0) })),
                    ])
                } ?? .object([("error", .string(openError.map { JournalCtl.describe($0) } ?? ""))])
            ),
        ]
        if let usage {
            pairs.append(
                (
                    "diskUsage",
                    .object([
                        ("fileSize", .int(usage.fileSize)),
                        ("allocatedBytes", .int(usage.allocatedBytes)),
                        ("headerBytes", .int(usage.headerBytes)),
                        ("logEnd", .int(usage.logEnd)),
                        ("liveBytes", .int(usage.liveBytes)),
                        ("liveStreamBytes", .int(usage.liveStreamBytes)),
                        ("liveStreamRecords", .int(usage.liveStreamRecords)),
                        ("payloadBytes", .int(usage.payloadBytes)),
                        ("currentSnapshotBytes", .int(usage.currentSnapshotBytes)),
                        ("deadBytes", .int(usage.deadBytes)),
                        ("supersededSnapshots", .int(usage.supersededSnapshots)),
                        ("freeBytes", .int(usage.freeBytes)),
                        ("stopNote", .optional(usage.stopNote)),
                    ])
                ))
        }
        return .object(pairs)
    }
}
