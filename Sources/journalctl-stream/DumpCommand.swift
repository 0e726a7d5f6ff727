import Journal

/// `dump`: the records as bytes on disk, for debugging the format.
enum DumpCommand: Command {
    static let name = "dump"
    static let summary = "List records at the byte level: offset, type, stream, index, length, checksum."
    static let usage = "dump [--offset N] [-n N] [-o text|json]"
    static let details = """
        One line per record: its byte offset, type, stream (id and number), chunk index (the chunk
        count for end records), body length, generation, and whether its CRC-32C matches. A record
        that breaks a rule (FORMAT.md section 5) gets the rule in a last column; the dump then tries
        each following 8-byte-aligned offset for a valid record and goes on, showing the skipped
        bytes as "unreadable". Lifecycle rules are checked only when the dump starts at the first
        record. With -o json, one object per line.

        """

    static let offset = OptionSpec(
        names: ["--offset"], value: "N", help: "start at byte offset N (a multiple of 8, at least 8192)")
    static let limit = OptionSpec(names: ["-n", "--lines"], value: "N", help: "stop after N entries")
    static let options = [offset, limit]
    static let formats = ["text", "json"]

    @MainActor static func run(_ context: Context) async throws -> Int32 {
        _ = try context.operands([])
        let start = try context.arguments.count(offset)
        if let start, start < 8192 || start % 8 != 0 {
            throw UsageError(message: "--offset must be a multiple of 8 and at least 8192, not \(start)", command: self)
        }
        let maximum = try context.arguments.count(limit)
        let console = context.console
        let terminal = context.terminal
        var printed = 0
        do {
            try Journal.dump(path: context.path, from: start.map(UInt64.init)) { entry in
                if let maximum, printed >= maximum { return false }
                // The column titles only once there is a row: an error alone reads better.
                if printed == 0 && !context.json {
                    console.line(
                        terminal.paint(
                            pad(["OFFSET", "TYPE", "STREAM", "INDEX", "LENGTH", "GEN", "CHECKSUM"]) + "  PROBLEM",
                            .bold))
                }
                printed += 1
                if context.json {
                    console.line(json(entry).text)
                } else {
                    console.line(text(entry, terminal))
                }
                return true
            }
        } catch JournalError.corruption(_, let offset, let detail) where start.map(UInt64.init) == offset {
            // The library refuses a start it cannot dump from at that very offset; damage it
            // reports where the damage is (a file too short for records at its length, below
            // 8192), and that is exit 1 naming the file, as without --offset.
            throw UsageError(message: detail, command: self)
        }
        return 0
    }

    private static let widths = [10, 11, 28, 6, 8, 4, 8]

    private static func pad(_ cells: [String]) -> String {
        zip(cells, widths).enumerated().map { column, pair in
            let (cell, width) = pair
            let padding = String(repeating: " ", count: max(0, width - cell.count))
            return [0, 3, 4, 5].contains(column) ? padding + cell : cell + padding
        }.joined(separator: "  ")
    }

    private static func streamName(_ record: DumpedRecord) -> String {
        if record.streamNumber == 0 { return "-" }
        return "\(record.streamID?.rawValue ?? "?") (#\(record.streamNumber))"
    }

    private static func checksum(_ record: DumpedRecord) -> String {
        switch record.checksum {
        case .valid: return "ok"
        case .mismatch: return "BAD"
        case .unavailable: return "n/a"
        }
    }

    static func text(_ entry: DumpEntry, _ terminal: Terminal) -> String {
        switch entry {
        case .record(let record):
            let line = pad([
                "\(record.offset)", record.typeName, streamName(record), "\(record.chunkIndex)", "\(record.bodyLength)",
                "\(record.generation)", checksum(record),
            ])
            guard let problem = record.problem else { return line.trimmingTrailingSpaces() }
            return terminal.paint(line + "  " + problem, .red)
        case .unreadable(let offset, let length):
            return terminal.paint(pad(["\(offset)", "unreadable"]) + "  \(length) bytes without a valid record", .red)
        case .end(let offset, let fileSize):
            return pad(["\(offset)", "end"]) + "  zero bytes up to the file size \(fileSize)"
        }
    }

    static func json(_ entry: DumpEntry) -> JSON {
        switch entry {
        case .record(let record):
            let checksum: String
            switch record.checksum {
            case .valid: checksum = "ok"
            case .mismatch: checksum = "mismatch"
            case .unavailable: checksum = "unavailable"
            }
            return .object([
                ("offset", .int(record.offset)),
                ("type", .string(record.typeName)),
                ("stream", .optional(record.streamID?.rawValue)),
                ("streamNumber", .int(record.streamNumber)),
                ("index", .int(record.chunkIndex)),
                ("length", .int(record.bodyLength)),
                ("size", .int(record.size)),
                ("generation", .int(record.generation)),
                ("timestamp", .int(record.timestamp)),
                ("previous", .int(record.previous)),
                ("checksum", .string(checksum)),
                ("problem", .optional(record.problem)),
            ])
        case .unreadable(let offset, let length):
            return .object([("offset", .int(offset)), ("type", .string("unreadable")), ("size", .int(length))])
        case .end(let offset, let fileSize):
            return .object([("offset", .int(offset)), ("type", .string("end")), ("fileSize", .int(fileSize))])
        }
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}
