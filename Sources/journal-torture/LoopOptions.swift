/// The `loop` mode's flags.
struct LoopOptions {
    /// Lives of the writer to run and kill.
    var iterations: Int
    /// Seeds every choice the loop makes (plans, kill delays, each child's seed).
    var seed: UInt64
    /// Where the journals go; a new temporary directory when nil.
    var directory: String?
    /// Lives per journal file before the loop checks it one last time and starts a new one.
    var livesPerJournal: Int
    /// Every this many iterations a life runs for over a second (0: never), so the
    /// maintenance thread's stale checks fire while producers append.
    var longLifeEvery: Int
    /// Keep finished journals instead of deleting them.
    var keep: Bool

    /// Reads `--iterations N [--seed S] [--dir D] [--lives-per-journal N] [--long-every N] [--keep 0|1]`.
    init(flags: Flags) throws(UsageError) {
        iterations = try flags.int("iterations")
        guard iterations > 0 else { throw UsageError(description: "--iterations must be positive") }
        seed = try flags.uint64("seed", default: UInt64(truncatingIfNeeded: Time.wallMicroseconds()))
        let directory = try flags.string("dir", default: "")
        self.directory = directory.isEmpty ? nil : directory
        livesPerJournal = max(1, try flags.int("lives-per-journal", default: 100))
        longLifeEvery = max(0, try flags.int("long-every", default: 50))
        keep = try flags.int("keep", default: 0) != 0
    }
}
