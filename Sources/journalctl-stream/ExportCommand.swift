import Journal

/// `export`: streams as JSON Lines on standard output.
enum ExportCommand: Command {
    static let name = "export"
    static let summary = "Write streams as JSON Lines, one chunk per line, exact bytes preserved."
    static let usage = "export [--stream ID]... [--status STATUS] [> FILE]"
    static let details = """
        For each stream, in creation order: {"event":"open","stream","timestamp","metadata"}, one
        line per chunk {"stream","index","timestamp","text"} ("base64" instead of "text" when the
        payload is not UTF-8), then {"event":"end","stream","timestamp","status","reason","chunks"}
        once the stream has ended. `import` reads this back into a journal with the same ids,
        chunk indices, bytes, statuses and reasons. A stream still being written is exported as
        far as it is committed, without an end line. Timestamps are microseconds since the Unix
        epoch; `import` does not preserve them (the importing journal stamps its own). Deleted
        streams are not exported. Reads without a lock, beside a running writer.

        """

    static let stream = OptionSpec(
        names: ["--stream"], value: "ID", help: "only this stream (repeatable; in the order given)")
    static let status = OptionSpec(names: ["--status"], value: "STATUS", help: "only streams with this status")
    static let options = [stream, status]
    static let formats = ["json"]

    @MainActor static func run(_ context: Context) async throws -> Int32 {
        _ = try context.operands([])
        var ids: [StreamID]?
        for text in context.arguments.all(stream) {
            let id = try streamIDArgument(text, command: self)
            // A stream named twice is exported once: one line per chunk, as the help says.
            if ids?.contains(id) != true { ids = (ids ?? []) + [id] }
        }
        var filter: StreamStatus?
        if let name = context.arguments.value(status) {
            guard let parsed = StreamStatus(rawValue: name) else {
                throw UsageError(
                    message:
                        "unknown status '\(name)'; use one of \(StreamStatus.allCases.map(\.rawValue).joined(separator: ", "))",
                    command: self)
            }
            filter = parsed
        }
        let journal = try context.openReadOnly()
        let console = context.console
        var line: [UInt8] = []
        try journal.export(streams: ids, status: filter) { record in
            line.removeAll(keepingCapacity: true)
            record.encode(into: &line)
            console.write(line)
        }
        return 0
    }
}
