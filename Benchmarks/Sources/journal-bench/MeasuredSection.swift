// The part of a workload that a measurement covers, as a closure the workload hands to its
// caller's wrapper: the wall-clock workloads just run it, the instruction-count child runs it
// inside the one function that callgrind counts.

/// Runs the measured part of a workload (`body`). A workload does its setup (opening the
/// file, making stream ids) before it and its teardown (closing) after it, so a wrapper sees
/// only the measured work.
typealias MeasuredSection = (_ body: () throws -> Void) throws -> Void

/// The wrapper of the wall-clock workloads: runs `body`, nothing else.
@inline(__always)
func runDirectly(_ body: () throws -> Void) rethrows {
    try body()
}

/// The wrapper of the instruction-count child. `InstructionCounts` runs that child under
/// `valgrind --tool=callgrind --collect-atstart=no --toggle-collect=<this function>`, so
/// callgrind counts exactly the instructions executed between entering and leaving this
/// function, on the calling thread (callgrind keeps the collection state per thread).
///
/// It must stay a real call: `@inline(never)` keeps it from dissolving into its caller (the
/// toggle would never fire). The optimizer may still clone it for a caller with that
/// caller's closure folded in (closure specialisation); a clone's mangled name starts with
/// this function's, so the pattern matches it too, and it replaces the call rather than
/// nesting inside it. Its body must not define closures: their symbols would contain this
/// function's name, match the pattern, and switch collection off while they run.
@inline(never)
func callgrindMeasuredPhase(_ body: () throws -> Void) rethrows {
    try body()
}

/// The `--toggle-collect` pattern matching `callgrindMeasuredPhase`'s mangled symbol
/// (`$s13journal_bench22callgrindMeasuredPhase…`). valgrind 3.19 does not demangle Swift,
/// so the pattern matches the mangled name.
let callgrindMeasuredPhasePattern = "*callgrindMeasuredPhase*"
