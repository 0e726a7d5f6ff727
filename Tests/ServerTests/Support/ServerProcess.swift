import Glibc
import TestSupport

/// A running `journal-server` binary (built next to the test bundle), started with
/// `--port 0` and a journal file, whose port is read from its `listening on` line.
final class ServerProcess {
    let pid: pid_t
    let port: UInt16
    private let output: Int32
    private let errors: Int32
    private var exited: Int32?

    /// The `journal-server` executable beside this test binary.
    static var executable: String {
        var path = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &path, path.count - 1)
        precondition(count > 0, "cannot read /proc/self/exe")
        let full = String(decoding: path.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(full[..<full.lastIndex(of: "/")!]) + "/journal-server"
    }

    /// Starts the server on `file` with `arguments` added; fails the test (by trapping) if it
    /// does not print its `listening on` line within 10 s.
    convenience init(file: String, _ arguments: [String] = []) {
        let started = ServerProcess.start(["--port", "0", "--file", file] + arguments)
        guard let port = started.port else {
            let text = started.process.standardError()
            preconditionFailure("journal-server did not start: \(text)")
        }
        self.init(pid: started.process.pid, port: port, output: started.process.output, errors: started.process.errors)
        started.process.detach()
    }

    private init(pid: pid_t, port: UInt16, output: Int32, errors: Int32) {
        self.pid = pid
        self.port = port
        self.output = output
        self.errors = errors
    }

    deinit {
        if exited == nil {
            Glibc.kill(pid, SIGKILL)
            _ = waitForExit()
        }
        Glibc.close(output)
        Glibc.close(errors)
    }

    /// Sends `signal` (SIGKILL by default).
    func kill(_ signal: Int32 = SIGKILL) { Glibc.kill(pid, signal) }

    /// Waits for the process; returns its exit status (or 128 + signal).
    @discardableResult
    func waitForExit() -> Int32 {
        if let exited { return exited }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        exited = code
        return code
    }

    /// What the server wrote to standard error so far (non-blocking).
    func standardError() -> String { ServerProcess.drain(errors) }

    /// Runs the binary with `arguments` to completion (usage errors): exit status and stderr.
    static func runToExit(_ arguments: [String]) -> (status: Int32, stderr: String, stdout: String) {
        let child = Spawned(arguments)
        var status: Int32 = 0
        while waitpid(child.pid, &status, 0) < 0 && errno == EINTR {}
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let result = (code, drain(child.errors), drain(child.output))
        child.closeAll()
        return result
    }

    private static func start(_ arguments: [String]) -> (process: Spawned, port: UInt16?) {
        let child = Spawned(arguments)
        var text: [UInt8] = []
        let deadline = Deadline(seconds: 10)
        while !deadline.passed {
            var poller = pollfd(fd: child.output, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 100) > 0 {
                var buffer = [UInt8](repeating: 0, count: 4096)
                let count = read(child.output, &buffer, buffer.count)
                if count <= 0 { break }
                text += buffer[..<count]
                let line = String(decoding: text, as: UTF8.self)
                if let range = line.firstRange(of: "listening on http://127.0.0.1:") {
                    let digits = line[range.upperBound...].prefix { $0.isNumber }
                    if let port = UInt16(digits), line[range.upperBound...].dropFirst(digits.count).first != nil {
                        return (child, port)
                    }
                }
            }
        }
        return (child, nil)
    }

    /// Reads what is available from a non-blocking descriptor.
    static func drain(_ descriptor: Int32) -> String {
        var text: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 0) > 0 else { break }
            let count = read(descriptor, &buffer, buffer.count)
            if count <= 0 { break }
            text += buffer[..<count]
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// A spawned child with its stdout and stderr on pipes.
final class Spawned {
    let pid: pid_t
    let output: Int32
    let errors: Int32
    private var owns = true

    init(_ arguments: [String]) {
        var out: [Int32] = [0, 0]
        var err: [Int32] = [0, 0]
        precondition(pipe(&out) == 0 && pipe(&err) == 0)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        posix_spawn_file_actions_addclose(&actions, out[0])
        posix_spawn_file_actions_addclose(&actions, err[0])
        // Nor any other test's pipe end: servers are spawned concurrently.
        closeInheritedDescriptors(&actions)
        let executable = ServerProcess.executable
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        // Every signal at its default action, as a service manager starts the server: the
        // test runner ignores some (SIGXFSZ among them), and a child inherits what is
        // ignored, so a server that died of SIGXFSZ in production lived on here.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        precondition(result == 0, "posix_spawn \(executable) failed: \(result)")
        posix_spawn_file_actions_destroy(&actions)
        posix_spawnattr_destroy(&attributes)
        for pointer in argv { free(pointer) }
        Glibc.close(out[1])
        Glibc.close(err[1])
        self.pid = pid
        output = out[0]
        errors = err[0]
    }

    /// Hands the descriptors to a `ServerProcess`.
    func detach() { owns = false }

    func closeAll() {
        if owns {
            Glibc.close(output)
            Glibc.close(errors)
            owns = false
        }
    }

    func standardError() -> String { ServerProcess.drain(errors) }

    deinit {
        if owns {
            Glibc.kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            closeAll()
        }
    }
}

/// A point in time a wait gives up at.
struct Deadline {
    let end: UInt64

    init(seconds: Double) {
        end = Deadline.now() + UInt64(seconds * 1e9)
    }

    var passed: Bool { Deadline.now() >= end }

    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}

/// Polls `condition` every 10 ms until it holds or `seconds` pass; returns whether it held.
/// Synchronisation by condition, never by a fixed sleep.
func eventually(within seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Deadline(seconds: seconds)
    while true {
        if try condition() { return true }
        if deadline.passed { return false }
        usleep(10_000)
    }
}
