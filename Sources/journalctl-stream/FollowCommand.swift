import Journal

/// `follow`: every stream opened, chunk appended and stream finished, live.
enum FollowCommand: Command {
    static let name = "follow"
    static let summary = "Print everything happening in the journal, live: streams opened, chunks, ends, deletions."
    static let usage = "follow [--beginning] [--stream ID]... [-o text|json]"
    static let details = """
        Runs until Ctrl-C (exit 0), showing what writers commit, from other processes too. Text
        lines are: time, event (open, chunk, end, del), stream id, then the metadata, the chunk's
        index, size and a preview, or the status and reason. Control characters and backslashes in
        these are escaped (\\n, \\u{1b}, \\\\), on a terminal or not, so every event is one line.
        With -o json, one object per line in the shapes of `export` ({"event":"open",...}, chunk lines,
        {"event":"end",...}), plus {"event":"deleted","stream","timestamp"} when a stream is
        deleted. Times are the records' own, so a replay (--beginning) shows when things happened.

        """

    static let beginning = OptionSpec(
        names: ["--beginning"], value: nil, help: "first replay everything already in the journal")
    static let stream = OptionSpec(names: ["--stream"], value: "ID", help: "only this stream (repeatable)")
    static let options = [beginning, stream]
    static let formats = ["text", "json"]

    @MainActor static func run(_ context: Context) async throws -> Int32 {
        _ = try context.operands([])
        var only: Set<StreamID>?
        for text in context.arguments.all(stream) {
            only = (only ?? []).union([try streamIDArgument(text, command: self)])
        }
        let journal = try context.openReadOnly()
        Interrupt.endsCommand()
        for id in (only ?? []).sorted(by: { $0.rawValue < $1.rawValue }) where (try? journal.info(id)) == nil {
            // Not an error (it may be created any moment), but silence would look like a hang.
            Console.error("no stream \"\(id)\" yet; waiting for it (Ctrl-C to stop)")
        }
        // The iterator alone: a sequence kept for the whole follow would keep the mapping it
        // was made from, and a compacted file's blocks with it, as long as the follow runs.
        var events = try journal.events(from: context.arguments.has(beginning) ? .beginning : .now)
            .makeAsyncIterator()
        let console = context.console
        let terminal = context.terminal
        do {
            while let event = try await events.next() {
                if let only, !only.contains(event.stream) { continue }
                if context.json {
                    var line: [UInt8] = []
                    switch event {
                    case .streamOpened(let id, let metadata, let timestamp):
                        ExportRecord.open(id, metadata: metadata, timestamp: timestamp).encode(into: &line)
                    case .chunkAppended(let id, let chunk):
                        ExportRecord.encode(chunk, of: id, into: &line)
                    case .streamFinished(let id, let status, let reason, let chunkCount, let timestamp):
                        ExportRecord.end(
                            id, status: status, reason: reason, chunkCount: chunkCount, timestamp: timestamp
                        ).encode(into: &line)
                    case .streamDeleted(let id, let timestamp):
                        // Not an export record: a deleted stream is simply absent from an export.
                        let object = JSON.object([
                            ("event", .string("deleted")), ("stream", .string(id.rawValue)),
                            ("timestamp", .int(timestamp)),
                        ])
                        line = Array((object.text + "\n").utf8)
                    }
                    console.write(line)
                } else {
                    console.line(text(event, terminal: terminal))
                }
                console.flush()
            }
        } catch is CancellationError {}
        return 0
    }

    static func text(_ event: JournalEvent, terminal: Terminal) -> String {
        let time = terminal.paint(Show.timestamp(event.timestamp), .dim)
        switch event {
        case .streamOpened(let id, let metadata, _):
            let pairs = metadata.keys.sorted().map { "\(Show.escaped($0))=\(Show.escaped(metadata[$0]!))" }
                .joined(separator: " ")
            return "\(time) \(terminal.paint("open ", .cyan)) \(id)" + (pairs.isEmpty ? "" : " \(pairs)")
        case .chunkAppended(let id, let chunk):
            let preview = chunk.withUnsafeBytes { Show.preview($0) }
            return "\(time) chunk \(id) #\(chunk.index) \(Show.bytes(chunk.count)) \(preview)"
        case .streamDeleted(let id, _):
            return "\(time) \(terminal.paint("del  ", .red)) \(id) deleted"
        case .streamFinished(let id, let status, let reason, _, _):
            return "\(time) \(terminal.paint("end  ", .bold)) \(id) "
                + terminal.paint(status: status.rawValue) + (reason.map { ": \(Show.escaped($0))" } ?? "")
        }
    }
}
