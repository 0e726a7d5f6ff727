import Journal

/// How one life of the writer child behaves, chosen by the loop and passed as flags, so a
/// failing life can be rerun by hand with the command line the loop prints.
struct LifePlan {
    /// The journal file.
    var journal: String
    /// The ledger the child appends to.
    var ledger: String
    /// The producer memory the child starts from (written by the loop).
    var memory: String
    /// The life's number within its journal; new stream ids carry it, so they never repeat.
    var life: Int
    /// Seeds the child's choices.
    var seed: UInt64
    /// "none", "interval" or "every".
    var durability: String
    /// Stale time under `keepOpen`, in milliseconds; nil for the `interrupt` policy.
    var staleMilliseconds: Int?
    /// `JournalOptions.snapshotInterval`: small values make the maintenance thread write
    /// snapshots mid-life, so kills land inside them.
    var snapshotInterval: Int
    /// Producer threads (1 or 2): two make group commit and lock hand-offs happen.
    var threads: Int
    /// Operations per producer per session; after a session the child closes and reopens
    /// the journal (clean close, then a recovery that must find nothing torn). 0: one session.
    var operationsPerSession: Int
    /// Whether the child compacts (keeping everything) while its producers append.
    var compacts: Bool
    /// Mean pause between a producer's operations, in microseconds (0: flat out).
    var paceMicroseconds: Int
    /// Most streams a producer keeps open at once.
    var streamsPerProducer: Int

    /// The journal options this plan asks for.
    var options: JournalOptions {
        var options = JournalOptions()
        switch durability {
        case "none": options.durability = .none
        case "interval": options.durability = .interval(.milliseconds(5))
        default: options.durability = .everyAcknowledgement
        }
        if let staleMilliseconds {
            options.openStreams = .keepOpen(staleAfter: .milliseconds(staleMilliseconds))
        }
        options.snapshotInterval = snapshotInterval
        // Compaction runs only when the plan says so, never on the maintenance thread's whim.
        options.autoCompaction = nil
        return options
    }

    /// The stale time in microseconds, or nil under `interrupt`.
    var staleMicroseconds: Int64? { staleMilliseconds.map { Int64($0) * 1000 } }

    /// "every/keep-open(300ms)": durability and open-stream policy, for summaries.
    var configuration: String {
        "\(durability)/" + (staleMilliseconds.map { "keep-open(\($0)ms)" } ?? "interrupt")
    }

    /// The flags that recreate this plan (after the word `child`).
    var arguments: [String] {
        [
            "--journal", journal, "--ledger", ledger, "--memory", memory, "--life", "\(life)", "--seed", "\(seed)",
            "--durability", durability, "--stale-ms", staleMilliseconds.map(String.init) ?? "none",
            "--snapshot-interval", "\(snapshotInterval)", "--threads", "\(threads)",
            "--session-ops", "\(operationsPerSession)", "--compact", compacts ? "1" : "0",
            "--pace-us", "\(paceMicroseconds)", "--streams", "\(streamsPerProducer)",
        ]
    }

    /// A plan from its fields.
    init(
        journal: String, ledger: String, memory: String, life: Int, seed: UInt64, durability: String,
        staleMilliseconds: Int?, snapshotInterval: Int, threads: Int, operationsPerSession: Int, compacts: Bool,
        paceMicroseconds: Int, streamsPerProducer: Int
    ) {
        self.journal = journal
        self.ledger = ledger
        self.memory = memory
        self.life = life
        self.seed = seed
        self.durability = durability
        self.staleMilliseconds = staleMilliseconds
        self.snapshotInterval = snapshotInterval
        self.threads = threads
        self.operationsPerSession = operationsPerSession
        self.compacts = compacts
        self.paceMicroseconds = paceMicroseconds
        self.streamsPerProducer = streamsPerProducer
    }

    /// The plan `arguments` describes.
    init(flags: Flags) throws(UsageError) {
        journal = try flags.string("journal")
        ledger = try flags.string("ledger")
        memory = try flags.string("memory")
        life = try flags.int("life")
        seed = try flags.uint64("seed")
        durability = try flags.string("durability", default: "every")
        guard ["none", "interval", "every"].contains(durability) else {
            throw UsageError(description: "--durability is none, interval or every")
        }
        let stale = try flags.string("stale-ms", default: "none")
        if stale == "none" {
            staleMilliseconds = nil
        } else {
            guard let milliseconds = Int(stale), milliseconds > 0 else {
                throw UsageError(description: "--stale-ms is \"none\" or a positive integer")
            }
            staleMilliseconds = milliseconds
        }
        snapshotInterval = try flags.int("snapshot-interval", default: 64 << 20)
        threads = max(1, try flags.int("threads", default: 1))
        operationsPerSession = try flags.int("session-ops", default: 0)
        compacts = try flags.int("compact", default: 0) != 0
        paceMicroseconds = try flags.int("pace-us", default: 0)
        streamsPerProducer = max(1, try flags.int("streams", default: 8))
    }
}
