#if canImport(Glibc)
    import Glibc
#endif

/// The `loop` mode: runs lives of the writer child, kills each with SIGKILL at a chosen
/// moment, and checks the journal after every kill (`JournalRun`, `JournalAudit`). Stops at
/// the first violation, keeping the journal and everything beside it.
enum KillLoop {
    /// Runs the loop; returns the process's exit status (0: no violation).
    static func run(_ options: LoopOptions) -> Int32 {
        let started = Time.monotonicNanoseconds()
        let root = options.directory ?? temporaryDirectory()
        if options.directory != nil { mkdir(root, 0o755) }
        Console.out("kill-loop: seed=\(options.seed) iterations=\(options.iterations) dir=\(root)")
        var statistics = LoopStatistics()
        var chooser = LifeChooser(seed: options.seed, longLifeEvery: options.longLifeEvery)
        let executable = currentExecutable()
        var run: JournalRun?
        var plan: LifePlan?
        var moment = KillMoment.atSpawn
        do {
            while statistics.iterations < options.iterations {
                if run == nil {
                    statistics.journals += 1
                    run = try JournalRun(directory: "\(root)/journal-\(statistics.journals)")
                }
                statistics.iterations += 1
                let iteration = statistics.iterations
                let current = run!
                plan = chooser.plan(iteration: iteration, life: current.lives + 1, run: current)
                moment = chooser.killMoment(
                    iteration: iteration, plan: plan!, recentRecovery: statistics.recentRecovery)
                statistics.configurations[plan!.configuration, default: 0] += 1
                try current.live(plan!, killAt: moment, executable: executable, statistics: &statistics)
                let last = iteration == options.iterations
                if last || current.lives >= options.livesPerJournal || current.journalSize > 192 << 20 {
                    plan = nil
                    try current.finish(statistics: &statistics)
                    if !options.keep { current.remove() }
                    run = nil
                }
                if iteration % 500 == 0 && !last {
                    let elapsed = (Time.monotonicNanoseconds() - started) / 1_000_000_000
                    Console.error("kill-loop: \(iteration)/\(options.iterations) lives, \(elapsed) s, no violation")
                }
            }
        } catch {
            Console.out("journal-torture: VIOLATION at iteration \(statistics.iterations): \(error)")
            if let run {
                let stage = plan.map { "life \(run.lives) (\($0.configuration), killed \(moment))" } ?? "final recovery"
                Console.out("  during: \(stage)")
                Console.out("  journal kept for inspection: \(run.journalPath)")
                Console.out("  ledger: \(run.ledgerPath)  writer stderr: \(run.stderrPath)")
                if let plan {
                    Console.out("  the life's command: \(executable) child \(plan.arguments.joined(separator: " "))")
                }
            }
            // The same seed gives the same plans and delays; where a delay lands is up to timing.
            var again = CommandLine.arguments
            if !again.contains("--seed") { again += ["--seed", "\(options.seed)"] }
            Console.out("  the loop again: \(again.joined(separator: " "))")
            Console.out(statistics.summary(elapsedNanoseconds: Time.monotonicNanoseconds() - started, failures: 1))
            return 1
        }
        if !options.keep && options.directory == nil { rmdir(root) }
        Console.out(statistics.summary(elapsedNanoseconds: Time.monotonicNanoseconds() - started, failures: 0))
        return 0
    }

    /// This program's path: the children are this same binary in `child` mode.
    private static func currentExecutable() -> String {
        var path = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &path, path.count - 1)
        precondition(count > 0, "cannot read /proc/self/exe")
        return String(decoding: path[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func temporaryDirectory() -> String {
        var template = Array("/tmp/kill-loop-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed: errno \(errno)")
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
