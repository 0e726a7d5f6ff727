#if canImport(Glibc)
    import Glibc
#endif

/// A writer child seen from the loop: started with `posix_spawn`, watched through a pipe on
/// its stdout (for the one line that times kills inside recovery), killed, reaped.
final class WriterProcess {
    /// The child's process id.
    let pid: pid_t
    private let output: Int32
    private var buffer: [UInt8] = []

    /// Starts `executable` with `arguments`; stdin is /dev/null, stderr is appended to
    /// `stderrPath` (kept with the journal when something fails).
    init(executable: String, arguments: [String], stderrPath: String) throws(Violation) {
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { throw Violation("pipe failed: errno \(errno)") }
        // Close-on-exec, so later children do not inherit this one's pipe (dup2 onto the
        // child's stdout clears the flag there).
        for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        close(pipeEnds[1])
        guard result == 0 else {
            close(pipeEnds[0])
            throw Violation("posix_spawn \(executable) failed: \(result)")
        }
        self.pid = pid
        output = pipeEnds[0]
    }

    deinit { close(output) }

    /// Waits until the child writes the line `expected`, up to `timeoutNanoseconds`. False
    /// on timeout or when the child closes its stdout (it died) first.
    func waitForLine(_ expected: String, timeoutNanoseconds: UInt64) -> Bool {
        let deadline = Time.monotonicNanoseconds() + timeoutNanoseconds
        let wanted = Array(expected.utf8)
        while true {
            while let newline = buffer.firstIndex(of: 10) {
                let line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                if line == wanted { return true }
            }
            let now = Time.monotonicNanoseconds()
            if now >= deadline { return false }
            var descriptor = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Int32(min((deadline - now) / 1_000_000 + 1, 1000)))
            if ready < 0 && errno != EINTR { return false }
            if ready <= 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = chunk.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return false }
            buffer.append(contentsOf: chunk[..<count])
        }
    }

    /// Sends SIGKILL.
    func kill() { _ = Glibc.kill(pid, SIGKILL) }

    /// Reaps the child and says how it ended.
    func wait() -> Termination {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
    }

    /// How a child ended.
    enum Termination: Equatable, CustomStringConvertible {
        /// It called `exit` with this status.
        case exited(Int32)
        /// A signal ended it.
        case signalled(Int32)

        /// "exit status 2", "signal 9".
        var description: String {
            switch self {
            case .exited(let status): return "exit status \(status)"
            case .signalled(let signal): return "signal \(signal)"
            }
        }
    }
}
