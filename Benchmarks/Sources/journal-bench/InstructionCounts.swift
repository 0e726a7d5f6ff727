// `--instructions`: user-space instructions per appended and per replayed chunk for both
// stores, counted by callgrind. Wall-clock figures on a shared 2-core machine move by tens of
// percent from run to run; instruction counts of the same work do not, so they show small
// differences and regressions that the timed rows cannot.

import Foundation

/// The instruction-count mode: the parent, which starts one child per measurement under
/// callgrind and turns the counts into rows, and the child (`__instructions`), which runs
/// one measured part of the `append` or `replay` workload's own code.
enum InstructionCounts {
    /// What a child measures.
    enum Phase: String {
        /// The append workload's timed part: create every stream, the round-robin appends,
        /// complete every stream.
        case append
        /// The replay workload's timed part: read every stream in order from a fresh handle.
        case replay
        /// Nothing: what the measuring wrapper itself costs.
        case empty
    }

    /// Which store a child drives, and how.
    enum Store: String {
        /// StreamJournal, durability `none`, one `append(bytes:to:)` per chunk.
        case journal
        /// SQLite, ResumableStream's schema, `synchronous=NORMAL`, one row per chunk.
        case sqlite
        /// The same, one row per 10 chunks (a JSON array).
        case sqlitePacked = "sqlite-packed"
    }

    /// Counts in instructions for each measurement, one entry per repetition.
    private struct Counts {
        var values: [String: [Int]] = [:]

        mutating func add(_ key: String, _ value: Int) { values[key, default: []].append(value) }

        /// The samples of `key` divided by `chunks`.
        func perChunk(_ key: String, chunks: Int) -> Samples {
            Samples(values: (values[key] ?? []).map { Double($0) / Double(chunks) })
        }
    }

    /// How the parent starts children, for the section's method paragraph.
    static let methodCommand =
        "valgrind --tool=callgrind --collect-atstart=no --toggle-collect='\(callgrindMeasuredPhasePattern)'"
        + " journal-bench __instructions PHASE STORE PATH STREAMS CHUNKS"

    // MARK: Parent

    /// Runs every measurement `config.instructionReps` times, each in its own child process
    /// under callgrind, and adds one row per workload to `report` (instructions per chunk,
    /// lower is better) and the raw counts as notes.
    static func run(config: BenchConfig, scratch: ScratchDirectory, report: Report) throws {
        let callgrind = try Callgrind(directory: scratch.path)
        let (streams, chunksPerStream) = config.instructionShape
        let shape = AppendShape(streams: streams, chunksPerStream: chunksPerStream, bodies: BodySource(.textDelta))
        let chunks = shape.totalChunks
        print(
            "   \(callgrind.version); every child: valgrind \(callgrind.commandLine(["…"], label: "LABEL").joined(separator: " "))"
        )
        flushOutput()

        var counts = Counts()
        /// Runs one child; `path` is its data file, `fresh` removes what a previous run left.
        func measure(_ phase: Phase, _ store: Store, path: String, fresh: Bool, rep: Int) throws {
            let file = fresh ? scratch.file(path) : "\(scratch.path)/\(path)"
            let label = "\(phase.rawValue)-\(store.rawValue)-\(rep)"
            let (instructions, output) = try callgrind.count(
                ["__instructions", phase.rawValue, store.rawValue, file, String(streams), String(chunksPerStream)],
                label: label)
            let reported = Int(try childNumber(try parseChildLine(output), "chunks"))
            let expected = phase == .empty ? 0 : chunks
            guard reported == expected else {
                throw BenchError("\(label): the child handled \(reported) chunks, expected \(expected)")
            }
            counts.add("\(phase.rawValue) \(store.rawValue)", instructions)
            let perChunk =
                phase == .empty ? "" : String(format: " (%.1f per chunk)", Double(instructions) / Double(chunks))
            print("   \(label): \(grouped(instructions)) instructions\(perChunk)")
            flushOutput()
        }

        for rep in 1...config.instructionReps {
            try measure(.empty, .journal, path: "i-empty", fresh: true, rep: rep)
            // The append children leave their (closed) files for the replay children: the
            // same content the replay workload builds, written by the same code.
            try measure(.append, .journal, path: "i.journal", fresh: true, rep: rep)
            try measure(.append, .sqlite, path: "i.db", fresh: true, rep: rep)
            try measure(.append, .sqlitePacked, path: "i-packed.db", fresh: true, rep: rep)
            try measure(.replay, .journal, path: "i.journal", fresh: false, rep: rep)
            try measure(.replay, .sqlite, path: "i.db", fresh: false, rep: rep)
        }

        let name = "\(shape.label)"
        let appendJournal = counts.perChunk("append journal", chunks: chunks)
        report.add(
            ResultRow(
                group: "instructions", workload: "append \(name), none | NORMAL: instructions per appended chunk",
                metric: .instructions, journal: appendJournal, sqlite: counts.perChunk("append sqlite", chunks: chunks))
        )
        report.add(
            ResultRow(
                group: "instructions",
                workload: "append \(name), none | NORMAL packed: instructions per appended chunk",
                metric: .instructions, journal: appendJournal,
                sqlite: counts.perChunk("append sqlite-packed", chunks: chunks)))
        report.add(
            ResultRow(
                group: "instructions", workload: "replay every stream, \(name): instructions per replayed chunk",
                metric: .instructions, journal: counts.perChunk("replay journal", chunks: chunks),
                sqlite: counts.perChunk("replay sqlite", chunks: chunks)))

        report.note(
            "the measuring wrapper alone (an empty measured part): \(grouped(counts.values["empty journal"]?.max() ?? 0)) instructions per run, not subtracted"
        )
        for (key, values) in counts.values.sorted(by: { $0.key < $1.key }) where !key.hasPrefix("empty") {
            report.note(
                "\(key): \(values.map(grouped).joined(separator: ", ")) instructions in total (\(values.count) run\(values.count == 1 ? "" : "s"), \(grouped(chunks)) chunks)"
            )
        }
        let spreads = counts.values.values.compactMap { values -> Double? in
            guard let low = values.min(), let high = values.max(), low > 0 else { return nil }
            return Double(high - low) / Double(low)
        }
        if config.instructionReps > 1 {
            let spread = spreads.max() ?? 0
            report.note(
                spread == 0
                    ? "repeatability: the \(config.instructionReps) runs of each measurement gave identical counts"
                    : String(
                        format: "repeatability: the %d runs of each measurement differ by at most %.4f%%",
                        config.instructionReps, spread * 100))
        }
        report.note(
            "\(callgrind.version); children run with SWIFT_DETERMINISTIC_HASHING=1, from a copy of the executable without debug info"
        )
    }

    /// The RESULTS.md section: what was run, the table, how it was measured, its limits and
    /// the raw counts. `ResultsFile` puts it between its markers.
    static func markdownSection(
        _ report: Report, config: BenchConfig, machine: MachineDescription, seconds: Double
    ) -> String {
        let date = ISO8601DateFormatter().string(from: Date())
        let (streams, chunksPerStream) = config.instructionShape
        let chunks = grouped(streams * chunksPerStream)
        let reps = config.instructionReps
        let command =
            "cd Benchmarks && swift run -c release journal-bench --instructions\(config.quick ? " --quick" : "")"
        let repeated = reps > 1 ? " Every count was taken \(reps) times; see the repeatability note below." : ""
        let notes = report.notes.map { "- \($0)" }.joined(separator: "\n")
        return """
            ## Instruction counts (callgrind)

            Produced by `\(command)` on \(date) in \(String(format: "%.0f", seconds)) s, separately from the timed \
            rows above (SQLite \(sqliteVersion); StreamJournal: \(machine.libraryRevision)). \(grouped(streams)) \
            streams x \(grouped(chunksPerStream)) chunks of 40 B (\(chunks) chunks), driven by the code of the `append` \
            and `replay` rows: StreamJournal with durability `none` and one `append(bytes:to:)` per chunk, SQLite with \
            `synchronous=NORMAL` and 10 chunks per transaction, rows and packed layout. Each figure is the number of \
            user-space instructions (callgrind's `Ir`) that the measuring thread executed in the measured part, \
            divided by the \(chunks) chunks appended or read. Lower is better; the ratio is SQLite / StreamJournal \
            (above 1: StreamJournal executes fewer instructions).\(repeated)

            \(report.markdownTable())

            How it is measured:

            - The harness starts itself once per store and phase as `\(methodCommand)`. The workload's timed \
            part (the same closure the wall-clock rows time) runs inside `callgrindMeasuredPhase`, a function kept \
            out of line (`@inline(never)`); callgrind counts only between entering and leaving it. Process start, \
            opening the store, making stream ids and bodies, and closing (the journal's final snapshot, SQLite's WAL \
            checkpoint) are not counted, and every phase runs in a fresh process.
            - Append: creating the \(grouped(streams)) streams (SQLite: `start()`, an autocommit insert), the \
            round-robin appends (10 chunks per stream per turn) and completing every stream, divided by the chunks. \
            Replay: a read-only handle opened outside the count (journal `openReadOnly`, a new SQLite connection) \
            reads every stream in order (`select * ... order by chunk_index`); every chunk is checked against a \
            digest.
            - Both sides include the driver's own loop (picking the stream, finding the body, folding each chunk read \
            into the digest): the same code on both sides, a few dozen instructions per chunk.
            - The children run with `SWIFT_DETERMINISTIC_HASHING=1`, so that hash tables behave the same in every \
            run, from a copy of the executable without debug info (valgrind 3.19 cannot read the DWARF 5 that \
            Swift 6 emits; the symbol table stays).

            Limits:

            - User space only: callgrind does not see the kernel. SQLite's `write()` of WAL frames at every commit \
            (even at NORMAL), the journal's page faults on its shared mapping and its file growth (fallocate), and \
            any `fdatasync` are not in these figures. That is why both stores run without a sync per commit \
            (durability `none` / `NORMAL`); the durable rows above are dominated by the kernel and the disk and \
            have no counterpart here.
            - Only the thread that appends or reads. SQLite's automatic WAL checkpoints run on the committing thread \
            and are counted; the journal's maintenance thread (interval syncs, a snapshot every 64 MiB of log, \
            automatic compaction checks) is not. In this workload it has nothing to do (no sync, under 1 MB of \
            log), but over a long run the snapshots' cost, amortized per chunk, is missing from the journal's \
            figure.
            - One-time costs of a fresh process are inside the count, amortized over the chunks: Swift's first-use \
            type-metadata and protocol-conformance lookups (about 3% of the journal's append figure here) and \
            SQLite's first runs of its statements. Which thread pays a Swift lookup depends on scheduling (the \
            journal's maintenance thread may get there first), so the journal's append count can move by about \
            0.05% between runs; the other counts repeat to within a few dozen instructions.
            - Instructions are not time: cache misses, branch mispredictions and the memory bandwidth of copying \
            into the mapping are not weighted. The counts compare work and catch regressions; the timed rows give \
            throughput.
            - Packed replay is not counted: the harness has no reader for the packed layout (it would have to parse \
            the JSON arrays, work that would be the harness's rather than SQLite's).

            Raw counts and checks:

            \(notes)
            """
    }

    // MARK: Child

    /// `__instructions PHASE STORE PATH STREAMS CHUNKS`: runs one measured part on the data
    /// file `PATH` (append: a new file; replay: the file an append child left) and prints
    /// `CHILD chunks=…`, the chunks appended or read.
    static func child(_ arguments: [String]) throws -> Never {
        guard arguments.count == 5, let phase = Phase(rawValue: arguments[0]),
            let store = Store(rawValue: arguments[1]), let streams = Int(arguments[3]),
            let chunksPerStream = Int(arguments[4])
        else {
            throw BenchError(
                "usage: __instructions append|replay|empty journal|sqlite|sqlite-packed PATH STREAMS CHUNKS")
        }
        let path = arguments[2]
        let shape = AppendShape(streams: streams, chunksPerStream: chunksPerStream, bodies: BodySource(.textDelta))
        // A closure, not `callgrindMeasuredPhase` itself: converting the function to a value
        // could give it a thunk whose symbol also matches the toggle pattern.
        let measured: MeasuredSection = { try callgrindMeasuredPhase($0) }
        var handled = 0
        switch (phase, store) {
        case (.empty, _):
            try measured {}
        case (.append, .journal):
            handled = try appendToJournal(
                shape, path: path, durability: .none, mode: .perChunk, measured: measured
            ).chunks
        case (.append, .sqlite), (.append, .sqlitePacked):
            handled = try appendToSQLite(
                shape, path: path, synchronous: "NORMAL", layout: store == .sqlite ? .rows : .packed,
                measured: measured
            ).chunks
        case (.replay, .journal), (.replay, .sqlite):
            let pair = DataSetPair(shape: shape, journalPath: path, sqlitePath: path)
            let order = Array(0..<streams)
            let (_, digest) =
                store == .journal
                ? try journalReplay(pair, order: order, from: 0, measured: measured)
                : try sqliteReplay(pair, order: order, from: 0, measured: measured)
            let expected = ReplayDigest.expected(shape.bodies, streams: 0..<streams, chunks: 0..<chunksPerStream)
            guard digest == expected else {
                throw BenchError("\(store.rawValue) replay of \(path): digest \(digest), expected \(expected)")
            }
            handled = digest.chunks
        case (.replay, .sqlitePacked):
            throw BenchError("no reader for the packed layout")
        }
        print("CHILD chunks=\(handled)")
        flushOutput()
        exit(0)
    }
}
