import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// What a finished run of the binary produced.
struct CLIResult {
    var status: Int32
    var stdoutBytes: [UInt8]
    var stderr: String

    var stdout: String { String(decoding: stdoutBytes, as: UTF8.self) }
    /// Standard output's lines, without the line feeds.
    var lines: [String] {
        var lines = stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }
}

/// A run of the built `journalctl-stream` binary, as a user would start it: arguments,
/// environment, standard input from a file, standard output and error into files (so a test
/// can read them while it runs, and no pipe can fill up).
final class CLIProcess {
    let pid: pid_t
    private let stdoutPath: String
    private let stderrPath: String
    private var exited: Int32?

    /// The binary next to the test bundle (`.build/<config>/journalctl-stream`).
    static var executable: String {
        var path = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &path, path.count - 1)
        precondition(count > 0, "cannot read /proc/self/exe")
        let bundle = String(decoding: path[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(bundle[..<bundle.lastIndex(of: "/")!]) + "/journalctl-stream"
    }

    /// Starts `executable` (the CLI by default) with `arguments`. The environment is this
    /// process's without `JOURNAL_FILE`, plus `NO_COLOR=1`, plus `environment`.
    init(
        _ arguments: [String], executable: String = CLIProcess.executable, stdin: String? = nil,
        environment: [String: String] = [:], directory: String
    ) {
        let tag = UInt32.random(in: 0...UInt32.max)
        stdoutPath = "\(directory)/stdout-\(tag)"
        stderrPath = "\(directory)/stderr-\(tag)"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 0, stdin ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // Nothing inherited from tests running in parallel (their pipes).
        closeInheritedDescriptors(&actions)
        var variables: [String: String] = [:]
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                variables[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            cursor += 1
        }
        variables["JOURNAL_FILE"] = nil
        variables["NO_COLOR"] = "1"
        for (key, value) in environment { variables[key] = value }
        let envp = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        precondition(result == 0, "posix_spawn \(executable) failed: \(result)")
        posix_spawn_file_actions_destroy(&actions)
        for pointer in argv + envp { free(pointer) }
        self.pid = pid
    }

    deinit {
        if exited == nil {
            kill(pid, SIGKILL)
            _ = waitForExit()
        }
        unlink(stdoutPath)
        unlink(stderrPath)
    }

    /// Standard output so far.
    var stdoutBytes: [UInt8] { CLIProcess.read(stdoutPath) }

    /// Standard error so far.
    var stderr: String { String(decoding: CLIProcess.read(stderrPath), as: UTF8.self) }

    func signal(_ number: Int32) { kill(pid, number) }

    /// Waits for the exit; returns the status (128 + signal when killed), or nil after
    /// `timeout` seconds.
    func waitForExit(timeout: Double = 30) -> Int32? {
        if let exited { return exited }
        let deadline = CLIProcess.now() + timeout
        while true {
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                exited = code
                return code
            }
            if CLIProcess.now() > deadline { return nil }
            usleep(5000)
        }
    }

    /// Polls standard output until `condition` holds; false after `timeout` seconds.
    func waitForOutput(timeout: Double = 30, _ condition: (String) -> Bool) -> Bool {
        let deadline = CLIProcess.now() + timeout
        while CLIProcess.now() < deadline {
            if condition(String(decoding: stdoutBytes, as: UTF8.self)) { return true }
            usleep(5000)
        }
        return false
    }

    /// Polls standard error until `condition` holds; false after `timeout` seconds.
    func waitForStderr(timeout: Double = 30, _ condition: (String) -> Bool) -> Bool {
        let deadline = CLIProcess.now() + timeout
        while CLIProcess.now() < deadline {
            if condition(stderr) { return true }
            usleep(5000)
        }
        return false
    }

    /// Runs to completion and collects everything.
    static func run(
        _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:], directory: String
    ) -> CLIResult {
        let process = CLIProcess(arguments, stdin: stdin, environment: environment, directory: directory)
        let status = process.waitForExit() ?? -1
        return CLIResult(status: status, stdoutBytes: process.stdoutBytes, stderr: process.stderr)
    }

    static func read(_ path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = Glibc.read(fd, &buffer, buffer.count)
            if count <= 0 { break }
            bytes += buffer[..<count]
        }
        return bytes
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
