import Journal

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One subcommand: its name, help and behaviour. Its metatype is passed around (parsing,
/// usage errors), hence `SendableMetatype`.
protocol Command: SendableMetatype {
    /// The word on the command line.
    static var name: String { get }
    /// One line for the tool's command list.
    static var summary: String { get }
    /// The usage line after `journalctl-stream `.
    static var usage: String { get }
    /// What the command does, in more detail (wrapped at 100 columns, ends with a newline).
    static var details: String { get }
    /// The command's own options (the global ones are added).
    static var options: [OptionSpec] { get }
    /// The `-o` values it accepts; the first is the default.
    static var formats: [String] { get }
    /// Runs it; returns the exit status. Throws `UsageError`, `Failure` or library errors.
    @MainActor static func run(_ context: Context) async throws -> Int32
}

/// What a command runs with.
@MainActor
final class Context {
    let arguments: ParsedArguments
    /// The journal: `--file`, else `$JOURNAL_FILE`, else `./journal.sj`.
    let path: String
    /// The `-o` value (validated against the command's formats).
    let format: String
    let terminal: Terminal
    let console: Console

    init(arguments: ParsedArguments, path: String, format: String, terminal: Terminal, console: Console) {
        self.arguments = arguments
        self.path = path
        self.format = format
        self.terminal = terminal
        self.console = console
    }

    var json: Bool { format == "json" }

    /// Opens the journal read-only (no lock: a running writer is not disturbed). A missing
    /// file is reported by `JournalCtl.describe`.
    func openReadOnly() throws -> Journal {
        try Journal.openReadOnly(path: path)
    }

    /// Exactly `count` operands, or a usage error naming what is missing or extra.
    func operands(_ names: [String]) throws(UsageError) -> [String] {
        let given = arguments.operands
        if given.count < names.count {
            throw UsageError(message: "missing \(names[given.count])", command: arguments.command)
        }
        if given.count > names.count {
            throw UsageError(message: "unexpected argument '\(given[names.count])'", command: arguments.command)
        }
        return given
    }
}

@main
@MainActor
enum JournalCtl {
    static let version = "0.1.0"

    static let commands: [any Command.Type] = [
        ListCommand.self, ShowCommand.self, FollowCommand.self, InfoCommand.self, VerifyCommand.self,
        RepairCommand.self, CompactCommand.self, DumpCommand.self, ExportCommand.self, ImportCommand.self,
    ]

    static let defaultPath = "./journal.sj"

    static func main() async {
        // The task is created and stored before `main` suspends, so a live command that asks
        // for Ctrl-C handling always finds it.
        let task = Task { @MainActor in await runCommandLine() }
        Interrupt.task = task
        let status = await task.value
        exit(status)
    }

    static func runCommandLine() async -> Int32 {
        let console = Console()
        var command: (any Command.Type)?
        do {
            let parsed = try ParsedArguments.parse(Array(CommandLine.arguments.dropFirst()), commands: commands)
            command = parsed.command
            if parsed.has(GlobalOptions.version) {
                console.line(
                    "journalctl-stream \(version) (StreamJournal file format \(Journal.supportedFormatVersion))")
                console.flush()
                return 0
            }
            if parsed.has(GlobalOptions.help) {
                console.write(command.map { help(for: $0) } ?? toolHelp)
                console.flush()
                return 0
            }
            guard let command else { throw UsageError(message: "no command given", command: nil) }
            let format = parsed.value(GlobalOptions.output) ?? command.formats[0]
            guard command.formats.contains(format) else {
                throw UsageError(
                    message:
                        "'\(command.name)' has no output format '\(format)' "
                        + "(it takes \(command.formats.joined(separator: ", ")))",
                    command: command)
            }
            if parsed.value(GlobalOptions.file) == "" {
                // An empty path resolved to the working directory ("... is a directory").
                throw UsageError(message: "--file needs a path", command: command)
            }
            let environment = getenv("JOURNAL_FILE").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
            let path = parsed.value(GlobalOptions.file) ?? environment ?? defaultPath
            let context = Context(
                arguments: parsed, path: path, format: format, terminal: .current(), console: console)
            let status = try await command.run(context)
            console.flush()
            return status
        } catch {
            console.flush()
            return report(error)
        }
    }

    /// Prints `error` on standard error; returns the exit status it calls for.
    static func report(_ error: any Error) -> Int32 {
        if let usageError = error as? UsageError {
            Console.error(usageError.message)
            var usage = "[--file PATH] COMMAND [options]"
            var helpCommand = "journalctl-stream --help"
            if let command = usageError.command {
                usage = command.usage
                helpCommand = "journalctl-stream \(command.name) --help"
            }
            Console.standardError("usage: journalctl-stream \(usage)\nRun '\(helpCommand)' for more.\n")
            return 64
        }
        if let failure = error as? Failure {
            Console.error(failure.message)
        } else if let journalError = error as? JournalError {
            Console.error(describe(journalError))
        } else {
            Console.error(String(describing: error))
        }
        return 1
    }

    /// The library's sentence, with what to do next for the failed system calls a user can
    /// fix: a missing file (a flag), a missing directory, a path through a file, permissions,
    /// and a directory, which some library paths (repair) report as a bare failed call.
    nonisolated static func describe(_ error: JournalError) -> String {
        switch error {
        case .io(let operation, let path, let errno) where operation == "open" && errno.rawValue == ENOENT:
            return "no journal at \(path); pass --file PATH or set JOURNAL_FILE"
        case .io(let operation, _, let errno) where operation == "create" && errno.rawValue == ENOENT:
            return "\(error.description); a directory on the path does not exist: create it, or pass another --file"
        case .io(_, _, let errno) where errno.rawValue == ENOTDIR:
            return "\(error.description); a part of the path before the file name is not a directory: check --file"
        case .io(_, _, let errno) where errno.rawValue == EACCES || errno.rawValue == EPERM:
            return "\(error.description); check the permissions of the file and of its directories "
                + "(list, show, follow, info, verify, dump and export only read the file)"
        case .io(_, let path, let errno) where errno.rawValue == EISDIR:
            return notARegularFile(path, directory: true).description
        default:
            return error.description
        }
    }

    /// The error the library gives the commands that open a directory or a device as the
    /// journal, for the commands that find out by themselves.
    nonisolated static func notARegularFile(_ path: String, directory: Bool) -> JournalError {
        .notAJournal(
            path: path,
            reason: directory
                ? "it is a directory; name the journal file itself (for example \(path)/journal.sj)"
                : "it is not a regular file")
    }

    static var toolHelp: String {
        let width = commands.map { $0.name.count }.max()!
        let list = commands.map {
            "  \($0.name)" + String(repeating: " ", count: width - $0.name.count + 2) + $0.summary
        }
        return """
            journalctl-stream: inspect, follow, verify, repair, compact, export and import StreamJournal files.

            usage: journalctl-stream [--file PATH] COMMAND [options]

            Commands:
            \(list.joined(separator: "\n"))

            Global options (before or after the command):
            \(optionLines(GlobalOptions.all))

            The journal is --file PATH, else $JOURNAL_FILE, else ./journal.sj. Every command except
            repair, compact and import opens it read-only and takes no lock, so it works beside a
            running writer such as journal-server; repair, compact (--dry-run included) and import
            need the writer lock and say so when another process holds it (repair --dry-run does
            not). Exit status: 0 success, 1 failure (or problems found by verify), 64 usage error.
            Colours are used only on a terminal, and never when NO_COLOR is set.

            Run 'journalctl-stream COMMAND --help' for a command's options.

            """
    }

    static func help(for command: any Command.Type) -> String {
        """
        usage: journalctl-stream \(command.usage)

        \(command.summary)

        \(command.details)
        Options:
        \(optionLines(command.options + [GlobalOptions.file, GlobalOptions.help]))
          -o, --output FORMAT  \(command.formats.joined(separator: " | ")) (default \(command.formats[0]))

        """
    }

    static func optionLines(_ options: [OptionSpec]) -> String {
        let labels = options.map { spec in
            spec.names.joined(separator: ", ") + (spec.value.map { " \($0)" } ?? "")
        }
        let width = max(labels.map(\.count).max() ?? 0, 19)
        return zip(labels, options).map { label, spec in
            "  " + label + String(repeating: " ", count: width - label.count + 2) + spec.help
        }.joined(separator: "\n")
    }
}
