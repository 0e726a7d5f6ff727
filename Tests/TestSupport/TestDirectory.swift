import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A fresh temporary directory for one test, shared by the three test targets.
///
/// Every directory a test process makes is removed when that process exits normally, whether
/// its tests passed or failed: a suite of a few hundred tests writes gigabytes of journals,
/// and leaving them in /tmp filled the disk of a machine that ran CI a few dozen times. A
/// process that crashed or was killed leaves its directories behind for inspection, and
/// `SJ_KEEP_TEST_DIRECTORIES=1` keeps them after a normal exit too.
///
/// Removal waits for exit rather than following the value's lifetime because tests hold only
/// a path (`TestDirectory().file("j.sj")`) while journals and child processes use it.
public struct TestDirectory: Sendable {
    /// The directory's absolute path.
    public let path: String

    /// Makes `base/prefix-XXXXXX` with `mkdtemp` and registers it for removal at exit.
    public init(base: String = "/tmp", prefix: String = "sj-test") {
        var template = Array("\(base)/\(prefix)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp in \(base) failed: errno \(errno)")
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        Self.register(path)
    }

    /// The path of `name` inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Guards `made`. A pthread mutex (NSLock) rather than `Synchronization.Mutex`: Thread
    /// Sanitizer sees through pthread locks, but not through the uninstrumented atomics of
    /// the toolchain's Mutex, and reported this list as a race in the sanitizer CI pass.
    private static let lock = NSLock()
    /// Directories this process made; nil until the first one (when the exit hook goes in).
    nonisolated(unsafe) private static var made: [String]?

    private static func register(_ path: String) {
        lock.lock()
        defer { lock.unlock() }
        if made == nil {
            made = []
            atexit { TestDirectory.removeAll() }
        }
        made!.append(path)
    }

    /// The exit hook: removes every directory this process made (not those of its children,
    /// which are separate processes with their own lists).
    private static func removeAll() {
        if ProcessInfo.processInfo.environment["SJ_KEEP_TEST_DIRECTORIES"] == "1" { return }
        lock.lock()
        let paths = made ?? []
        lock.unlock()
        for path in paths {
            try? FileManager.default.removeItem(atPath: path)
        }
    }
}
