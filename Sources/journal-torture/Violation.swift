/// A broken promise (or a harness failure), with everything needed to look into it: the
/// loop adds the iteration, the seed and the journal path it keeps.
struct Violation: Error, CustomStringConvertible {
    /// What was expected and what was found.
    var description: String

    /// A violation described by `description`.
    init(_ description: String) { self.description = description }
}
