/// Points where a test runs code of its own in the middle of an operation, to make a race
/// with another process happen every time instead of once in a while. Keyed by journal path,
/// so tests running in parallel on other files are not affected; empty outside tests.
enum TestHooks {
    private static let lock = Lock()
    nonisolated(unsafe) private static var lookingPast: [String: @Sendable (UInt64) -> Void] = [:]
    nonisolated(unsafe) private static var available: [String: UInt64] = [:]

    /// Runs `body(end)` when a scan of `path` that stopped at undecodable bytes at `end` is
    /// about to look past them (`TailVerdict.examineBesideWriter`); nil removes it.
    static func setBeforeLookingPast(path: String, _ body: (@Sendable (UInt64) -> Void)?) {
        lock.withLock { lookingPast[path] = body }
    }

    /// Makes `availableBytes(path:)` report `bytes` for `path` (the file system's free space,
    /// as an automatic compaction sees it); nil removes it.
    static func setAvailableBytes(path: String, _ bytes: UInt64?) {
        lock.withLock { available[path] = bytes }
    }

    static func availableBytes(path: String) -> UInt64? {
        lock.withLock { available.isEmpty ? nil : available[path] }
    }

    static func beforeLookingPast(path: String, end: UInt64) {
        let body = lock.withLock { lookingPast.isEmpty ? nil : lookingPast[path] }
        body?(end)
    }
}
