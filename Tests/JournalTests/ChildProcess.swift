import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A running `JournalTestChild` with pipes to its stdin and stdout.
///
/// The child binary is built beside the test bundle by `swift build`/`swift test`.
final class ChildProcess {
    let pid: pid_t
    /// The child's stdin; -1 once closed, so that no descriptor is closed twice (a second
    /// close can hit a number another thread has reused, and a journal of a test running
    /// in parallel then failed its fdatasync with EBADF under Address Sanitizer).
    private var input: Int32
    private let output: Int32
    private var buffer: [UInt8] = []
    private var exited: Int32?

    /// The `JournalTestChild` executable next to this test binary.
    static var executable: String { builtExecutable("JournalTestChild") }

    /// The executable `name` built next to this test binary.
    static func builtExecutable(_ name: String) -> String {
        var path = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &path, path.count - 1)
        precondition(count > 0, "cannot read /proc/self/exe")
        var directory = String(decoding: path[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // The test binary is `.build/<config>/StreamJournalPackageTests.xctest`.
        directory = String(directory[..<directory.lastIndex(of: "/")!])
        return directory + "/" + name
    }

    /// Starts `executable` (the test child by default) with `arguments`.
    init(_ arguments: [String], executable: String = ChildProcess.executable) {
        var toChild: [Int32] = [0, 0]
        var fromChild: [Int32] = [0, 0]
        precondition(pipe(&toChild) == 0 && pipe(&fromChild) == 0)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        posix_spawn_file_actions_addclose(&actions, toChild[1])
        posix_spawn_file_actions_addclose(&actions, fromChild[0])
        // Nor any other test's pipe end: tests spawn children concurrently.
        closeInheritedDescriptors(&actions)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        precondition(result == 0, "posix_spawn \(executable) failed: \(result)")
        posix_spawn_file_actions_destroy(&actions)
        for pointer in argv { free(pointer) }
        close(toChild[0])
        close(fromChild[1])
        self.pid = pid
        self.input = toChild[1]
        self.output = fromChild[0]
    }

    deinit {
        if exited == nil {
            Glibc.kill(pid, SIGKILL)
            _ = waitForExit()
        }
        if input >= 0 { close(input) }
        close(output)
    }

    /// The next line of the child's stdout, or nil at end of file.
    func readLine() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = Glibc.read(output, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                if buffer.isEmpty { return nil }
                let line = String(decoding: buffer, as: UTF8.self)
                buffer.removeAll()
                return line
            }
            buffer.append(contentsOf: chunk[..<n])
        }
    }

    /// Lines until one starts with `prefix` (returned), or nil at end of file.
    func readLine(startingWith prefix: String) -> String? {
        while let line = readLine() {
            if line.hasPrefix(prefix) { return line }
        }
        return nil
    }

    /// Sends one line to the child's stdin.
    func send(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(input, $0.baseAddress, $0.count) }
    }

    /// Closes the child's stdin.
    func closeInput() {
        if input >= 0 { Glibc.close(input) }
        input = -1
    }

    func kill(_ signal: Int32 = SIGKILL) { Glibc.kill(pid, signal) }

    /// Waits for the child; returns its exit status (or 128 + signal).
    @discardableResult
    func waitForExit() -> Int32 {
        if let exited { return exited }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        exited = code
        return code
    }
}

/// The payload the child writes for chunk `index` of stream `stream` (same formula).
func childPayload(stream: Int, index: Int) -> [UInt8] {
    Array("s\(stream)-c\(index)-".utf8) + [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: index % 23)
}

/// Runs `body(i)` for i in 0..<count on `count` dedicated threads and waits for all. Real
/// threads, not tasks: blocking in `fdatasync` on Swift's two-thread cooperative pool would
/// serialise the appenders and hide group commit.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    final class Work: @unchecked Sendable {
        let body: @Sendable (Int) -> Void
        let index: Int
        init(_ body: @escaping @Sendable (Int) -> Void, _ index: Int) {
            self.body = body
            self.index = index
        }
    }
    var threads: [pthread_t] = []
    for i in 0..<count {
        var thread = pthread_t()
        let work = Unmanaged.passRetained(Work(body, i)).toOpaque()
        let result = pthread_create(
            &thread, nil,
            { raw in
                let work = Unmanaged<Work>.fromOpaque(raw!).takeRetainedValue()
                work.body(work.index)
                return nil
            }, work)
        precondition(result == 0, "pthread_create failed")
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}

/// Runs `body` on a new thread and awaits its result: a producer that must make progress
/// even while other tests occupy Swift's two cooperative threads with blocking calls.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
        onDetachedThread {
            do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
        }
    }
}

private func onDetachedThread(_ body: @escaping @Sendable () -> Void) {
    final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    var thread = pthread_t()
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    let result = pthread_create(
        &thread, nil,
        { raw in
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, box)
    precondition(result == 0, "pthread_create failed")
    pthread_detach(thread)
}
