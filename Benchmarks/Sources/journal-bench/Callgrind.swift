// Runs this executable as a child under valgrind's callgrind and reads back how many
// instructions it counted inside `callgrindMeasuredPhase`.

import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// callgrind, set up to count only the measured part of a child of this executable.
struct Callgrind {
    /// valgrind's path.
    let valgrind: String
    /// `valgrind --version`, e.g. "valgrind-3.19.0".
    let version: String
    /// The copy of this executable that runs under valgrind (see `init`).
    let executable: String
    /// Where callgrind's output and log files go.
    let directory: String

    /// Finds valgrind and objcopy on `PATH` and puts a copy of this executable without debug
    /// info in `directory`. The copy is needed because valgrind 3.19 gives up on the whole
    /// process ("debuginfo reader: Possibly corrupted debuginfo file") when it meets the
    /// DWARF 5 that Swift 6 emits; `objcopy --strip-debug` keeps the symbol table, which is
    /// all that `--toggle-collect` and callgrind's per-function output need.
    init(directory: String) throws {
        guard let valgrind = findInPath("valgrind") else {
            throw BenchError("--instructions needs valgrind (Debian: apt-get install -y valgrind)")
        }
        guard let objcopy = findInPath("objcopy") else {
            throw BenchError("--instructions needs objcopy to strip debug info (Debian: apt-get install -y binutils)")
        }
        self.valgrind = valgrind
        self.directory = directory
        version = try runCommand(valgrind, ["--version"]).trimmingCharacters(in: .whitespacesAndNewlines)
        executable = "\(directory)/journal-bench-nodebug"
        _ = try runCommand(objcopy, ["--strip-debug", ownExecutablePath(), executable])
    }

    /// The valgrind command line that runs `arguments` (a hidden subcommand of this
    /// executable), writing its counts to `<directory>/<label>.callgrind`.
    ///
    /// `--collect-atstart=no` starts with counting off; `--toggle-collect` turns it on when
    /// the thread enters `callgrindMeasuredPhase` and off when it leaves, so process start,
    /// setup and teardown are not counted.
    func commandLine(_ arguments: [String], label: String) -> [String] {
        [
            "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=\(callgrindMeasuredPhasePattern)",
            "--callgrind-out-file=\(directory)/\(label).callgrind", "--log-file=\(directory)/\(label).log",
            executable,
        ] + arguments
    }

    /// Runs `arguments` under callgrind (see `commandLine`); returns the instructions counted
    /// and the child's standard output. `SWIFT_DETERMINISTIC_HASHING=1` makes Swift's hash
    /// tables use a fixed seed, so that the same work costs the same instructions every run.
    func count(_ arguments: [String], label: String) throws -> (instructions: Int, output: String) {
        let output: String
        do {
            output = try runCommand(
                valgrind, commandLine(arguments, label: label), environment: ["SWIFT_DETERMINISTIC_HASHING": "1"])
        } catch {
            throw BenchError("\(error)\nvalgrind's log:\n\(logTail(label))")
        }
        let outFile = "\(directory)/\(label).callgrind"
        guard let text = try? String(contentsOfFile: outFile, encoding: .utf8) else {
            throw BenchError("callgrind wrote no \(outFile); valgrind's log:\n\(logTail(label))")
        }
        // "totals:" is what was collected; older callgrinds write only "summary:".
        let lines = text.split(separator: "\n")
        guard
            let line = lines.first(where: { $0.hasPrefix("totals:") })
                ?? lines.first(where: { $0.hasPrefix("summary:") }),
            let instructions = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { throw BenchError("no totals in \(outFile)") }
        // Zero means the toggle never fired: the measured function was inlined or renamed.
        guard instructions > 0 else {
            throw BenchError(
                "callgrind counted nothing in \(outFile): is \(callgrindMeasuredPhasePattern) still a symbol?")
        }
        return (instructions, output)
    }

    /// The last lines of valgrind's log for `label`, for error messages.
    private func logTail(_ label: String) -> String {
        let text = (try? String(contentsOfFile: "\(directory)/\(label).log", encoding: .utf8)) ?? "(no log)"
        return text.split(separator: "\n").suffix(20).joined(separator: "\n")
    }
}
