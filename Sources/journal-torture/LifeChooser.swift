/// The loop's dice: each life's plan and kill moment, from the loop's seed alone.
///
/// Every durability policy and both open-stream policies are drawn for every kind of life,
/// and may change from one life to the next on the same journal, as a redeployed service's
/// would. Some lives are shaped on a fixed rhythm so that a short run still has them: close
/// and reopen cycles, online compaction, and lives long enough for stale checks.
struct LifeChooser {
    private var generator: SeededGenerator
    private let longLifeEvery: Int

    /// A chooser drawing from `seed`.
    init(seed: UInt64, longLifeEvery: Int) {
        generator = SeededGenerator(seed: seed)
        self.longLifeEvery = longLifeEvery
    }

    /// Whether `iteration` (1-based) is one of the long lives.
    func isLong(_ iteration: Int) -> Bool { longLifeEvery > 0 && iteration % longLifeEvery == longLifeEvery / 2 }

    /// The plan of life `life` of `run`'s journal, at loop iteration `iteration`.
    mutating func plan(iteration: Int, life: Int, run: JournalRun) -> LifePlan {
        let long = isLong(iteration)
        let durability = ["none", "interval", "every"][Int(generator.next() % 3)]
        let stale: Int?
        if long {
            // Streams a producer neglects for 300 ms go stale while it appends to others.
            stale = 300
        } else if generator.chance(500) {
            stale = nil
        } else {
            // 30 ms: most kept streams are stale by the next life; 1 h: none ever are.
            stale = [30, 300, 3_600_000][Int(generator.next() % 3)]
        }
        let cycles = iteration % 10 == 3 || generator.chance(80)
        return LifePlan(
            journal: run.journalPath, ledger: run.ledgerPath, memory: run.memoryPath, life: life,
            seed: generator.next(), durability: durability, staleMilliseconds: stale,
            snapshotInterval: generator.chance(250) ? 256 << 10 : 64 << 20,
            threads: 1 + Int(generator.next() % 2),
            operationsPerSession: cycles ? 10 + Int(generator.next() % 110) : 0,
            compacts: iteration % 25 == 7 || generator.chance(20),
            paceMicroseconds: long ? 300 : (generator.chance(500) ? 0 : 10 + Int(generator.next() % 140)),
            streamsPerProducer: 3 + Int(generator.next() % 10))
    }

    /// When to kill life `iteration`, run with `plan`; `recentRecovery` is a recent
    /// recovery's duration (ns).
    mutating func killMoment(iteration: Int, plan: LifePlan, recentRecovery: UInt64) -> KillMoment {
        if isLong(iteration) { return .running(nanoseconds: 1_200_000_000 + generator.next() % 800_000_000) }
        let roll = generator.next() % 1000
        switch roll {
        case 0..<50:
            return .atSpawn
        case 50..<250:
            return .inRecovery(nanoseconds: generator.next() % (recentRecovery * 3 / 2 + 100_000))
        case _ where plan.operationsPerSession > 0 || plan.compacts:
            // Long enough for sessions to end and compactions to start, so kills also land
            // in closes, reopens and compactions.
            return .running(nanoseconds: generator.next() % 150_000_000)
        case 250..<600:
            return .running(nanoseconds: generator.next() % 3_000_000)
        default:
            return .running(nanoseconds: 3_000_000 + generator.next() % 37_000_000)
        }
    }
}
