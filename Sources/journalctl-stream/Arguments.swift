import Journal

/// One option a command accepts.
struct OptionSpec {
    /// Every spelling, e.g. `["-n", "--lines"]`; the last one is the canonical name.
    let names: [String]
    /// The value's placeholder (`"N"`, `"PATH"`), or nil for a flag.
    let value: String?
    /// One line for `--help`.
    let help: String

    var canonical: String { names.last! }
}

/// A usage error: exit status 64, the message, the command's usage line and a hint.
struct UsageError: Error {
    let message: String
    /// The command whose usage to print; nil for the tool's.
    let command: (any Command.Type)?
}

/// A stream id typed on the command line: an invalid one is a usage error (exit 64), like any
/// other malformed argument, with the library's explanation of what an id may hold.
func streamIDArgument(_ text: String, command: any Command.Type) throws(UsageError) -> StreamID {
    do {
        return try StreamID(text)
    } catch {
        throw UsageError(message: error.description, command: command)
    }
}

/// A failure: exit status 1 and one sentence on stderr.
struct Failure: Error {
    let message: String
}

/// The options shared by every command. `--file` and `-o` may come before or after the
/// command name, like journalctl's.
enum GlobalOptions {
    static let file = OptionSpec(
        names: ["--file"], value: "PATH", help: "the journal (default: $JOURNAL_FILE, else ./journal.sj)")
    static let output = OptionSpec(
        names: ["-o", "--output"], value: "FORMAT", help: "output format (text by default; see the command's help)")
    static let help = OptionSpec(names: ["-h", "--help"], value: nil, help: "show help for the tool or the command")
    static let version = OptionSpec(names: ["--version"], value: nil, help: "print the version")
    static let all = [file, output, help, version]
}

/// The command line after parsing: which command, its options and its operands.
struct ParsedArguments {
    var command: (any Command.Type)?
    /// Values by canonical option name, in the order given (flags have empty strings).
    var values: [String: [String]] = [:]
    var operands: [String] = []

    func has(_ spec: OptionSpec) -> Bool { values[spec.canonical] != nil }

    /// The last value given for the option (later ones win, as in most tools).
    func value(_ spec: OptionSpec) -> String? { values[spec.canonical]?.last }

    /// Every value given for a repeatable option.
    func all(_ spec: OptionSpec) -> [String] { values[spec.canonical] ?? [] }

    /// A non-negative integer option, or nil when absent.
    func count(_ spec: OptionSpec) throws(UsageError) -> Int? {
        guard let text = value(spec) else { return nil }
        guard let number = Int(text), number >= 0 else {
            throw UsageError(
                message: "\(spec.canonical) needs a non-negative integer, not '\(text)'", command: command)
        }
        return number
    }

    /// Parses `arguments` (without the program name) against the global options and, once
    /// the command name is seen, that command's options.
    static func parse(_ given: [String], commands: [any Command.Type]) throws(UsageError) -> ParsedArguments {
        var arguments = given
        var parsed = ParsedArguments()
        var specs = GlobalOptions.all
        var index = 0
        var onlyOperands = false
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if onlyOperands || argument == "-" || !argument.hasPrefix("-") {
                // The command word may follow `--` too (`--file j.sj -- list`).
                if parsed.command == nil {
                    guard let command = commands.first(where: { $0.name == argument }) else {
                        throw UsageError(message: "unknown command '\(argument)'", command: nil)
                    }
                    parsed.command = command
                    specs += command.options
                } else {
                    parsed.operands.append(argument)
                }
                continue
            }
            if argument == "--" {
                onlyOperands = true
                continue
            }
            // `--name=value`, `--name value`, `-x value` and `-xVALUE`.
            var name = argument
            var attached: String?
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                attached = String(argument[argument.index(after: equals)...])
            } else if !argument.hasPrefix("--"), argument.count > 2 {
                name = String(argument.prefix(2))
                attached = String(argument.dropFirst(2))
            }
            guard let spec = specs.first(where: { $0.names.contains(name) }) else {
                guard parsed.command == nil else {
                    throw UsageError(
                        message: "unknown option '\(name)' for '\(parsed.command!.name)'", command: parsed.command)
                }
                let owners = commands.filter { $0.options.contains { $0.names.contains(name) } }.map { "'\($0.name)'" }
                throw UsageError(
                    message: owners.isEmpty
                        ? "unknown option '\(name)'"
                        : "option '\(name)' belongs to \(owners.dropLast().joined(separator: ", "))"
                            + "\(owners.count > 1 ? " and " : "")\(owners.last!); put it after the command",
                    command: nil)
            }
            if spec.value == nil {
                if let attached {
                    // Flags bundled as getopt does (`-rf`, `-fn5`): the rest is the next option.
                    guard !argument.hasPrefix("--") else {
                        throw UsageError(message: "option '\(name)' takes no value", command: parsed.command)
                    }
                    // `-f-` is no option '-': re-inserted, the rest became `--`, the end of options.
                    guard !attached.hasPrefix("-") else {
                        throw UsageError(message: "invalid option '-' in '\(argument)'", command: parsed.command)
                    }
                    arguments.insert("-" + attached, at: index)
                }
                parsed.values[spec.canonical, default: []].append("")
                continue
            }
            if let attached {
                parsed.values[spec.canonical, default: []].append(attached)
            } else if index < arguments.count {
                parsed.values[spec.canonical, default: []].append(arguments[index])
                index += 1
            } else {
                throw UsageError(message: "option '\(name)' needs a value (\(spec.value!))", command: parsed.command)
            }
        }
        return parsed
    }
}

extension OpenStreamPolicy {
    /// For the commands that open the journal writable but own none of its streams (compact,
    /// import): keep every open stream open, as their help promises. The library has no
    /// policy that never interrupts, so this is keep-open with the longest stale time it can
    /// count (Int64.max microseconds, about 292,000 years): only a stream whose last record is
    /// dated that far before now, which no clock writes, is still ended as stale.
    static let neverInterrupt = OpenStreamPolicy.keepOpen(staleAfter: .seconds(Int64.max))
}
