@testable import Journal

extension JournalOptions {
    /// Moves the header's checkpoint at every sync (no 100 ms limit) and turns off the idle
    /// sync a second after the last one, so that the file operations a workload makes, and
    /// which sync a test's injected failure lands on, do not depend on timing.
    mutating func checkpointAtEverySync() {
        checkpointInterval = .zero
        idleCheckpointSync = false
    }
}
