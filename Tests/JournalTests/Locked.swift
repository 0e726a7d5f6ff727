import Foundation

/// A value behind an `NSLock`, for test doubles shared between threads.
///
/// Not `Synchronization.Mutex`: Thread Sanitizer does not see its futex-based lock as
/// synchronisation and reports every access it guards as a race; it understands pthread
/// mutexes, which `NSLock` wraps.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
