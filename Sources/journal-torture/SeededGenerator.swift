/// SplitMix64: a small, fast generator whose whole future is fixed by its seed, so a loop's
/// choices (and each child's) can be replayed from the seed printed with a failure.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    /// A generator whose output is a function of `seed` alone.
    init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// True with probability `perMille` / 1000.
    mutating func chance(_ perMille: Int) -> Bool { Int(next() % 1000) < perMille }
}
