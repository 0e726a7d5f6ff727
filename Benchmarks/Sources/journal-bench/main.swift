// journal-bench: StreamJournal against SQLite (the ResumableStream schema), side by side in
// one run. See Benchmarks/README.md.
//
//   swift run -c release journal-bench [--quick] [--only NAME[,NAME]] [--reps N] [--write-results]
//   swift run -c release journal-bench --instructions [--quick] [--reps N] [--write-results]
//   swift run -c release journal-bench --chart

import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The command line of a benchmark run.
struct Options {
    /// Sizes and repetitions.
    var config = BenchConfig.full
    /// Workloads to run (all by default).
    var selected: [WorkloadName] = WorkloadName.allCases
    /// Whether RESULTS.md is written. By default only a full run of every workload writes it
    /// (or, with `--instructions`, its instruction-count section), so that a smoke test never
    /// overwrites real figures.
    var writeResults: Bool?
    /// `--instructions`: count instructions under callgrind instead of timing the workloads.
    var instructions = false
    /// `--chart`: only redraw ratios.svg from RESULTS.md.
    var chartOnly = false

    /// Parses `arguments` (without the program name).
    static func parse(_ arguments: [String]) throws -> Options {
        var options = Options()
        var reps: Int?
        var only = false
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--quick":
                options.config = .quickRun
            case "--only":
                only = true
                guard let names = rest.popFirst() else { throw BenchError("--only needs a workload name") }
                options.selected = try names.split(separator: ",").map { name in
                    guard let workload = WorkloadName(rawValue: String(name)) else {
                        throw BenchError(
                            "unknown workload \(name); choose from \(WorkloadName.allCases.map(\.rawValue).joined(separator: ", "))"
                        )
                    }
                    return workload
                }
            case "--reps":
                guard let text = rest.popFirst(), let value = Int(text), value > 0 else {
                    throw BenchError("--reps needs a positive number")
                }
                reps = value
            case "--write-results":
                options.writeResults = true
            case "--instructions":
                options.instructions = true
            case "--chart":
                options.chartOnly = true
            case "--help", "-h":
                print(usage)
                exit(0)
            default:
                throw BenchError("unknown argument \(argument)\n\(usage)")
            }
        }
        if let reps {
            options.config.reps = reps
            options.config.instructionReps = reps
        }
        if options.instructions && only { throw BenchError("--instructions runs its own workloads; drop --only") }
        return options
    }

    /// Whether this run writes RESULTS.md.
    var writesResults: Bool {
        writeResults ?? (!config.quick && (instructions || selected.count == WorkloadName.allCases.count))
    }
}

/// `--help` text.
let usage = """
    usage: journal-bench [--quick] [--only NAME[,NAME...]] [--reps N] [--write-results]
           journal-bench --instructions [--quick] [--reps N] [--write-results]
           journal-bench --chart
      --quick          small sizes, one repetition: checks that everything works
      --only NAMES     run only these workloads
      --reps N         repetitions per measurement (default 3; the table shows medians;
                       with --instructions default 2)
      --write-results  write RESULTS.md even for a quick or partial run
      --instructions   instructions per appended and per replayed chunk, both stores,
                       counted by valgrind's callgrind; writes its own section of RESULTS.md
      --chart          only redraw ratios.svg from the tables of RESULTS.md
    workloads:
    \(WorkloadName.allCases.map { "  \($0.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)) \($0.summary)" }.joined(separator: "\n"))
    """

/// Runs one workload, turning a failure into an anomaly so that the others still run.
func run(_ workload: WorkloadName, _ ctx: BenchContext) {
    print("\n== \(workload.rawValue): \(workload.summary)")
    flushOutput()
    let loadBefore = loadAverage()
    let watch = Stopwatch()
    do {
        switch workload {
        case .append: try runAppend(ctx)
        case .appendLarge: try runAppendLarge(ctx)
        case .singleCore: try runSingleCore(ctx)
        case .concurrent: try runConcurrent(ctx)
        case .replay: try runReplay(ctx)
        case .open: try runOpen(ctx)
        case .recovery: try runRecovery(ctx)
        case .size: try runSize(ctx)
        case .follow: try runFollow(ctx)
        case .compaction: try runCompaction(ctx)
        }
    } catch {
        ctx.report.anomaly("workload \(workload.rawValue) stopped: \(error)")
    }
    print(String(format: "   (%.1f s)", watch.seconds))
    ctx.report.note(
        String(
            format:
                "%@ took %.0f s; 1-minute load average %@ before, %@ after (the benchmark itself is one busy thread, except in concurrent, whose threads waiting on fdatasync count too; more means other work shared the machine)",
            workload.rawValue, watch.seconds, loadBefore, loadAverage()))
}

/// The Benchmarks directory (where RESULTS.md goes), found from this source file's path.
func benchmarksDirectory() -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
}

/// Where RESULTS.md and the chart drawn from it go.
let resultsFile = ResultsFile(path: benchmarksDirectory() + "/RESULTS.md")
let chartPath = benchmarksDirectory() + "/ratios.svg"

/// Redraws ratios.svg from RESULTS.md and says so; a failure is printed, not fatal, as the
/// figures are written already.
func redrawChart() {
    do {
        let bars = try RatioChart.write(from: resultsFile.path, to: chartPath)
        print("wrote \(chartPath) (\(bars) rows)")
    } catch {
        print("could not draw \(chartPath): \(error)")
    }
}

/// The Markdown that embeds the chart, after the table of the full run.
let chartMarkdown = """
    Every ratio of this file (the table above and the instruction counts below) as a chart, log scale,
    drawn from this file's tables whenever it is written (`journal-bench --chart` redraws it):

    ![StreamJournal vs SQLite, ratio per row, log scale](ratios.svg)
    """

/// RESULTS.md: the machine, the table, notes, anomalies and the spread of the samples. The
/// instruction-count section of the current file, if any, is carried over: another mode
/// writes it.
func resultsMarkdown(_ report: Report, machine: MachineDescription, options: Options, seconds: Double) -> String {
    let date = ISO8601DateFormatter().string(from: Date())
    let notAhead = report.rowsNotAhead
    var lines = [
        "# StreamJournal vs SQLite: results",
        "",
        "Produced by `cd Benchmarks && swift run -c release journal-bench\(options.config.quick ? " --quick" : "")`"
            + " on \(date) in \(String(format: "%.0f", seconds)) s."
            + " Each row is the median of its runs: \(options.config.reps) unless the spread table's runs column"
            + " says otherwise (open and compaction run more, size once);"
            + " StreamJournal and SQLite run alternately in the same process. See README.md for what each row measures.",
        "",
        "Machine: \(machine.cores) cores (`nproc`), \(machine.cpuModel), \(machine.memory) RAM, kernel"
            + " \(machine.kernel); file system of the working directory (`stat -f -c %T`): \(machine.workingDirFileSystem);"
            + " data files in /tmp (\(machine.dataDirFileSystem)). SQLite \(sqliteVersion) (system libsqlite3)."
            + " StreamJournal: \(machine.libraryRevision).",
        "",
        "How to read: `A | B` in a workload name is StreamJournal's durability | SQLite's `synchronous`"
            + " (and layout). The ratio is how far StreamJournal is ahead: above 1 it is ahead (higher"
            + " throughput, or less time, or fewer bytes), below 1 SQLite is ahead.",
        "",
        "## Results",
        "",
        report.markdownTable(),
        "",
        chartMarkdown,
        "",
    ]
    if let kept = resultsFile.section(ResultsFile.instructionSection) {
        lines.append(kept)
        lines.append("")
    }
    lines.append("## Rows where StreamJournal is not ahead")
    lines.append("")
    if notAhead.isEmpty {
        lines.append("None.")
    } else {
        for row in notAhead { lines.append("- \(row.workload): ratio \(row.ratioText)") }
    }
    lines.append("")
    lines.append("## Anomalies")
    lines.append("")
    lines.append(report.anomalies.isEmpty ? "None." : report.anomalies.map { "- \($0)" }.joined(separator: "\n"))
    lines.append("")
    lines.append("## Notes")
    lines.append("")
    lines += report.notes.map { "- \($0)" }
    lines.append("")
    lines.append("## Spread (min - max over the runs)")
    lines.append("")
    lines.append(report.markdownSpread())
    lines.append("")
    return lines.joined(separator: "\n")
}

// MARK: Entry point

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    // Hidden subcommands: this executable started as a child of itself.
    if arguments.first == "__open" { try childOpen(Array(arguments.dropFirst())) }
    if arguments.first == "__writer" { try childWriter(Array(arguments.dropFirst())) }
    if arguments.first == "__follow" { try childFollow(Array(arguments.dropFirst())) }
    if arguments.first == "__instructions" { try InstructionCounts.child(Array(arguments.dropFirst())) }
} catch {
    FileHandle.standardError.write(Data("\(arguments.first ?? ""): \(error)\n".utf8))
    exit(1)
}

let options: Options
do {
    options = try Options.parse(arguments)
} catch {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(2)
}

if options.chartOnly {
    redrawChart()
    exit(0)
}

let scratch: ScratchDirectory
do {
    scratch = try ScratchDirectory()
} catch {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(1)
}
let report = Report()
let machine = MachineDescription.current(
    dataDir: scratch.path, packageRoot: URL(fileURLWithPath: benchmarksDirectory()).deletingLastPathComponent().path)
let context = BenchContext(config: options.config, scratch: scratch, report: report)
let reps = options.instructions ? options.config.instructionReps : options.config.reps
print("journal-bench\(options.config.quick ? " --quick" : ""): \(reps) rep(s), data in \(scratch.path)")
print(
    "machine: \(machine.cores) cores, \(machine.cpuModel), kernel \(machine.kernel), fs \(machine.workingDirFileSystem) (data: \(machine.dataDirFileSystem)), SQLite \(sqliteVersion), StreamJournal \(machine.libraryRevision)"
)
print("rows: workload | StreamJournal | SQLite | ratio (above 1: StreamJournal ahead)")

let total = Stopwatch()
if options.instructions {
    print("\n== instructions: callgrind, user-space instructions per appended and per replayed chunk")
    do {
        try InstructionCounts.run(config: options.config, scratch: scratch, report: report)
    } catch {
        report.anomaly("instruction counts stopped: \(error)")
    }
    scratch.remove()
    print("\n== Instruction counts (\(String(format: "%.0f", total.seconds)) s)\n")
    print(report.plainTable())
    if !report.anomalies.isEmpty {
        print("\nAnomalies:")
        for anomaly in report.anomalies { print("  \(anomaly)") }
    } else if options.writesResults {
        do {
            let section = InstructionCounts.markdownSection(
                report, config: options.config, machine: machine, seconds: total.seconds)
            try resultsFile.replaceSection(ResultsFile.instructionSection, with: section)
            print("\nwrote the instruction-count section of \(resultsFile.path)")
            redrawChart()
        } catch {
            print("\ncould not write \(resultsFile.path): \(error)")
        }
    } else {
        print("\n(RESULTS.md not written: quick run; add --write-results to write it)")
    }
    exit(report.anomalies.isEmpty ? 0 : 1)
}

for workload in options.selected { run(workload, context) }
scratch.remove()

print("\n== Results (medians of \(options.config.reps) run\(options.config.reps == 1 ? "" : "s"))\n")
print(report.plainTable())
if !report.rowsNotAhead.isEmpty {
    print("\nRows where StreamJournal is not ahead:")
    for row in report.rowsNotAhead { print("  \(row.workload): \(row.ratioText)") }
}
if !report.anomalies.isEmpty {
    print("\nAnomalies:")
    for anomaly in report.anomalies { print("  \(anomaly)") }
}
if options.writesResults {
    let path = resultsFile.path
    do {
        try resultsMarkdown(report, machine: machine, options: options, seconds: total.seconds)
            .write(toFile: path, atomically: true, encoding: .utf8)
        print("\nwrote \(path)")
        redrawChart()
    } catch {
        print("\ncould not write \(path): \(error)")
    }
} else {
    print("\n(RESULTS.md not written: quick or partial run; add --write-results to write it)")
}
exit(report.anomalies.isEmpty ? 0 : 1)
