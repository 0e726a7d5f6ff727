import Journal

/// `follow`: every stream opened, chunk appended and stream finished, live.
enum FollowCommand: Command {
    static let name = "follow"
    static let summary = "Print everything happening in the journal, live: streams opened, chunks, ends, deletions."
    static let usage = "follow [--beginning] [--stream ID]... [-o text|json]"
    static let details = """
        Runs until Ctrl-C (exit 0), showing what writers commit, from other processes too. Text
        lines are: time, event (open, chunk, end), stream id, then the metadata, the chunk's index,
        size and a preview, or the status and reason. With -o json, one object per line in the
        shapes of `export` ({"event":"open",...}, chunk lines, {"event":"end",...}), plus
        {"event":"deleted","stream"} when a stream is deleted.

        """

    static let beginning = OptionSpec(
        names: ["--beginning"], value: nil, help: "first replay everything already in the journal")
    static let stream = OptionSpec(names: ["--stream"], value: "ID", help: "only this stream (repeatable)")
    static let options = [beginning, stream]
    static let formats = ["text", "json"]

    @MainActor static func run(_ context: Context) async throws -> Int32 {
        _ = try context.operands([])
        var only: Set<StreamID>?
        for text in context.arguments.all(stream) { only = (only ?? []).union([try StreamID(text)]) }
        let journal = try context.openReadOnly()
        Interrupt.endsCommand()
        let events = try journal.events(from: context.arguments.has(beginning) ? .beginning : .now)
        let console = context.console
        let terminal = context.terminal
        do {
            for try await event in events {
                let id: StreamID
                switch event {
                case .streamOpened(let stream, _), .chunkAppended(let stream, _), .streamFinished(let stream, _, _),
                    .streamDeleted(let stream):
                    id = stream
                }
                if let only, !only.contains(id) { continue }
                if context.json {
                    var line: [UInt8] = []
                    switch event {
                    case .streamOpened(let id, let metadata):
                        let created = (try? journal.info(id).createdAt) ?? 0
                        ExportRecord.open(id, metadata: metadata, timestamp: created).encode(into: &line)
                    case .chunkAppended(let id, let chunk):
                        ExportRecord.encode(chunk, of: id, into: &line)
                    case .streamFinished(let id, let status, let reason):
                        let info = try? journal.info(id)
                        ExportRecord.end(
                            id, status: status, reason: reason, chunkCount: info?.chunkCount ?? 0,
                            timestamp: info?.finishedAt ?? 0
                        ).encode(into: &line)
                    case .streamDeleted(let id):
                        // Not an export record: a deleted stream is simply absent from an export.
                        line = Array(
                            (JSON.object([("event", .string("deleted")), ("stream", .string(id.rawValue))]).text + "\n")
                                .utf8)
                    }
                    console.write(line)
                } else {
                    console.line(text(event, journal: journal, terminal: terminal))
                }
                console.flush()
            }
        } catch is CancellationError {}
        return 0
    }

    static func text(_ event: JournalEvent, journal: Journal, terminal: Terminal) -> String {
        switch event {
        case .streamOpened(let id, let metadata):
            let time = (try? journal.info(id).createdAt).map(Show.timestamp) ?? "-"
            let pairs = metadata.keys.sorted().map { "\($0)=\(metadata[$0]!)" }.joined(separator: " ")
            return "\(terminal.paint(time, .dim)) \(terminal.paint("open ", .cyan)) \(id)"
                + (pairs.isEmpty ? "" : " \(pairs)")
        case .chunkAppended(let id, let chunk):
            let preview = chunk.withUnsafeBytes { Show.preview($0) }
            return "\(terminal.paint(Show.timestamp(chunk.timestamp), .dim)) chunk \(id) #\(chunk.index) "
                + "\(Show.bytes(chunk.count)) \(preview)"
        case .streamDeleted(let id):
            return "\(terminal.paint(Show.timestamp(Show.now()), .dim)) \(terminal.paint("del  ", .red)) \(id) deleted"
        case .streamFinished(let id, let status, let reason):
            let time = (try? journal.info(id).finishedAt).flatMap { $0 }.map(Show.timestamp) ?? "-"
            return "\(terminal.paint(time, .dim)) \(terminal.paint("end  ", .bold)) \(id) "
                + terminal.paint(status: status.rawValue) + (reason.map { ": \($0)" } ?? "")
        }
    }
}
