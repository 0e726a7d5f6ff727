/// Points where a test runs code of its own in the middle of an operation, to make a race
/// with another process happen every time instead of once in a while. Keyed by journal path,
/// so tests running in parallel on other files are not affected; empty outside tests.
enum TestHooks {
    private static let lock = Lock()
    nonisolated(unsafe) private static var lookingPast: [String: @Sendable (UInt64) -> Void] = [:]

    /// Runs `body(end)` when a scan of `path` that stopped at undecodable bytes at `end` is
    /// about to look past them (`TailVerdict.examineBesideWriter`); nil removes it.
    static func setBeforeLookingPast(path: String, _ body: (@Sendable (UInt64) -> Void)?) {
        lock.withLock { lookingPast[path] = body }
    }

    static func beforeLookingPast(path: String, end: UInt64) {
        let body = lock.withLock { lookingPast.isEmpty ? nil : lookingPast[path] }
        body?(end)
    }
}
