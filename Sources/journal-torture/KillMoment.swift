/// When the loop kills a life.
enum KillMoment: CustomStringConvertible {
    /// Right after `posix_spawn`: often before `main`, sometimes in the first open.
    case atSpawn
    /// This long after the child says it is opening: inside recovery (the delay is drawn
    /// from recent recovery times), so recovery itself is killed and must be idempotent.
    case inRecovery(nanoseconds: UInt64)
    /// This long after the child's first open returned: in the producers' appends, creates,
    /// finishes, snapshots, compactions, closes and reopens.
    case running(nanoseconds: UInt64)

    /// "in recovery +0.42 ms".
    var description: String {
        switch self {
        case .atSpawn: return "at spawn"
        case .inRecovery(let nanoseconds): return "in recovery +\(Time.milliseconds(nanoseconds)) ms"
        case .running(let nanoseconds): return "running +\(Time.milliseconds(nanoseconds)) ms"
        }
    }
}
