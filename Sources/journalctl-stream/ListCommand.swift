import Journal

/// `list`: one line per stream.
enum ListCommand: Command {
    static let name = "list"
    static let summary = "List streams with id, status, chunk count, bytes and age."
    static let usage = "list [--status STATUS] [--since TIME] [--sort KEY] [-r] [-o text|json]"
    static let details = """
        Streams are listed in creation order unless --sort says otherwise. AGE is the time since
        the stream was opened, LAST the time since its latest record ('-' for a time too far back
        to count, which only a damaged or hand-made file holds). With -o json, one object per
        line: id, status, chunks, bytes, createdAt, updatedAt, finishedAt (microseconds since the
        Unix epoch), reason and metadata.

        TIME is a duration ago (90s, 15m, 2h, 3d, 1w), @UNIXSECONDS, or a date and time such as
        2026-11-22, 2026-11-22T10:00 or "2026-11-22 10:00:05" followed by an optional Z or +HH:MM
        (local time without one).

        """

    static let status = OptionSpec(
        names: ["--status"], value: "STATUS",
        help: "only streams with this status: open, completed, failed, cancelled, interrupted")
    static let since = OptionSpec(names: ["--since"], value: "TIME", help: "only streams opened at or after TIME")
    static let sort = OptionSpec(
        names: ["--sort"], value: "KEY", help: "created (default), updated, id, status, chunks or bytes")
    static let reverse = OptionSpec(names: ["-r", "--reverse"], value: nil, help: "reverse the order")
    static let options = [status, since, sort, reverse]
    static let formats = ["text", "json"]

    @MainActor static func run(_ context: Context) async throws -> Int32 {
        _ = try context.operands([])
        let arguments = context.arguments
        var filter: StreamStatus?
        if let name = arguments.value(status) {
            guard let parsed = StreamStatus(rawValue: name) else {
                throw UsageError(
                    message:
                        "unknown status '\(name)'; use one of \(StreamStatus.allCases.map(\.rawValue).joined(separator: ", "))",
                    command: self)
            }
            filter = parsed
        }
        let now = Show.now()
        var cutoff: Int64?
        if let text = arguments.value(since) {
            guard let time = Show.parseTime(text, now: now) else {
                throw UsageError(
                    message: "cannot read '\(text)' as a time for --since; use \(Show.timeForms)", command: self)
            }
            cutoff = time
        }
        let key = arguments.value(sort) ?? "created"
        let order: (StreamInfo, StreamInfo) -> Bool
        switch key {
        case "created": order = { $0.createdAt < $1.createdAt }
        case "updated": order = { $0.updatedAt < $1.updatedAt }
        case "id": order = { $0.id < $1.id }
        case "status": order = { $0.status.rawValue < $1.status.rawValue }
        case "chunks": order = { $0.chunkCount < $1.chunkCount }
        case "bytes": order = { $0.byteCount < $1.byteCount }
        default:
            throw UsageError(
                message: "cannot sort by '\(key)'; use created, updated, id, status, chunks or bytes", command: self)
        }

        let journal = try context.openReadOnly()
        var streams = try journal.streams(status: filter)
        if let cutoff { streams = streams.filter { $0.createdAt >= cutoff } }
        // A stable sort, so equal keys keep creation order.
        streams = streams.enumerated().sorted { a, b in
            order(a.element, b.element) || (!order(b.element, a.element) && a.offset < b.offset)
        }.map(\.element)
        if arguments.has(reverse) { streams.reverse() }

        let console = context.console
        if context.json {
            for info in streams { console.line(json(info).text) }
            return 0
        }
        if streams.isEmpty {
            console.line("no streams" + (filter == nil && cutoff == nil ? "" : " match"))
            return 0
        }
        let terminal = context.terminal
        var rows = [["ID", "STATUS", "CHUNKS", "BYTES", "AGE", "LAST"].map { terminal.paint($0, .bold) }]
        for info in streams {
            rows.append([
                info.id.rawValue, terminal.paint(status: info.status.rawValue), "\(info.chunkCount)",
                Show.bytes(info.byteCount), Show.age(since: info.createdAt, now: now),
                Show.age(since: info.updatedAt, now: now),
            ])
        }
        for line in Show.table(rows, rightAligned: [2, 3, 4, 5], widthOf: Show.visibleWidth) { console.line(line) }
        var counts: [StreamStatus: Int] = [:]
        for info in streams { counts[info.status, default: 0] += 1 }
        let parts = StreamStatus.allCases.compactMap { status in counts[status].map { "\($0) \(status)" } }
        console.line("\(streams.count) stream\(streams.count == 1 ? "" : "s") (\(parts.joined(separator: ", ")))")
        return 0
    }

    static func json(_ info: StreamInfo) -> JSON {
        .object([
            ("id", .string(info.id.rawValue)),
            ("status", .string(info.status.rawValue)),
            ("chunks", .int(info.chunkCount)),
            ("bytes", .int(info.byteCount)),
            ("createdAt", .int(info.createdAt)),
            ("updatedAt", .int(info.updatedAt)),
            ("finishedAt", .optional(info.finishedAt)),
            ("reason", .optional(info.reason)),
            ("metadata", .object(info.metadata.keys.sorted().map { ($0, .string(info.metadata[$0]!)) })),
        ])
    }
}
