// Small utilities shared by every workload: clocks, statistics, files, the temp directory.

import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A failure of the benchmark itself, or a store doing something wrong (wrong data, an
/// error); the message says which and how to reproduce it.
struct BenchError: Error, CustomStringConvertible {
    /// What happened, for a person.
    let description: String
    init(_ description: String) { self.description = description }
}

/// Monotonic time in nanoseconds (CLOCK_MONOTONIC).
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Wall-clock milliseconds since the Unix epoch, as `Date.now()` in ResumableStream.
@inline(__always)
func wallMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

/// Measures elapsed wall time from its creation.
struct Stopwatch {
    /// When it started, monotonic nanoseconds.
    let start = monotonicNanoseconds()
    /// Seconds since the start.
    var seconds: Double { Double(monotonicNanoseconds() - start) / 1e9 }
}

/// The median of `values` (the mean of the middle two for an even count).
func medianOf(_ values: [Double]) -> Double {
    precondition(!values.isEmpty, "median of nothing")
    let sorted = values.sorted()
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/// Size of a file as the directory sees it (`st_size`) and as the disk holds it
/// (`st_blocks * 512`, which counts preallocated blocks and omits holes).
struct FileFootprint {
    /// Apparent size in bytes.
    var apparent: Int64 = 0
    /// Allocated bytes.
    var allocated: Int64 = 0

    /// The footprint of `path`, zero when it does not exist.
    static func of(_ path: String) -> FileFootprint {
        var st = stat()
        guard stat(path, &st) == 0 else { return FileFootprint() }
        return FileFootprint(apparent: Int64(st.st_size), allocated: Int64(st.st_blocks) * 512)
    }

    /// The sum of the footprints of `paths` (a SQLite database with its -wal and -shm).
    static func of(all paths: [String]) -> FileFootprint {
        paths.map(FileFootprint.of).reduce(FileFootprint()) {
            FileFootprint(apparent: $0.apparent + $1.apparent, allocated: $0.allocated + $1.allocated)
        }
    }
}

/// The working directory for data files, under /tmp, removed when the run ends.
final class ScratchDirectory: @unchecked Sendable {
    /// Absolute path of the directory.
    let path: String

    /// Creates a fresh directory `/tmp/journal-bench-XXXXXX`.
    init() throws {
        var template = Array("/tmp/journal-bench-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw BenchError("mkdtemp failed: errno \(errno)") }
        path = String(cString: made)
    }

    /// A path inside the directory for a file named `name`; any old file of that name (and its
    /// SQLite -wal/-shm companions) is removed first.
    func file(_ name: String) -> String {
        let full = "\(path)/\(name)"
        removeFiles(full)
        return full
    }

    /// Removes `path` and the companions SQLite or the journal may leave beside it.
    func removeFiles(_ full: String) {
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(full + suffix) }
    }

    /// Deletes the directory and everything in it.
    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// The path of this executable, so it can start itself as a child process.
func ownExecutablePath() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    if n > 0 { return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    return CommandLine.arguments[0]
}

/// Runs `executable` with `arguments` to completion, with `environment` added to this
/// process's environment; returns its standard output.
func runCommand(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, added in added }
    }
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let output = String(decoding: data, as: UTF8.self)
    guard process.terminationStatus == 0 else {
        throw BenchError(
            "\(executable) \(arguments.joined(separator: " ")) exited with status \(process.terminationStatus): \(output)"
        )
    }
    return output
}

/// Parses the `CHILD key=value ...` line a child subcommand prints.
func parseChildLine(_ output: String) throws -> [String: String] {
    guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("CHILD ") }) else {
        throw BenchError("child printed no CHILD line: \(output)")
    }
    var fields: [String: String] = [:]
    for pair in line.dropFirst(6).split(separator: " ") {
        let parts = pair.split(separator: "=", maxSplits: 1)
        if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
    }
    return fields
}

/// Reads a numeric field of a child line.
func childNumber(_ fields: [String: String], _ key: String) throws -> Double {
    guard let text = fields[key], let value = Double(text) else {
        throw BenchError("child line lacks numeric field \(key): \(fields)")
    }
    return value
}

/// The first executable file called `name` in the directories of `PATH`, or nil.
func findInPath(_ name: String) -> String? {
    let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
    return directories.map { "\($0)/\(name)" }.first { access($0, X_OK) == 0 }
}

/// The first line of `stat -f -c %T path`: the file system type.
func fileSystemType(_ path: String) -> String {
    ((try? runCommand("/usr/bin/stat", ["-f", "-c", "%T", path])) ?? "unknown")
        .trimmingCharacters(in: .whitespacesAndNewlines)
}

/// A one-paragraph description of this machine for RESULTS.md.
struct MachineDescription {
    /// Online CPUs (`nproc`).
    let cores: Int
    /// "model name" from /proc/cpuinfo.
    let cpuModel: String
    /// `uname -r`.
    let kernel: String
    /// File system type of the benchmark's working directory and of the data directory.
    let workingDirFileSystem: String
    let dataDirFileSystem: String
    /// Total memory from /proc/meminfo.
    let memory: String
    /// The library's git revision (`git rev-parse --short HEAD` of the root package), with
    /// "+ uncommitted changes" when Sources/ differs from it.
    let libraryRevision: String

    /// Gathers the description; `dataDir` is where the data files live, `packageRoot` the
    /// root package (the library).
    static func current(dataDir: String, packageRoot: String) -> MachineDescription {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last.map(String.init) ?? "" }?
            .trimmingCharacters(in: .whitespaces) ?? "unknown"
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let memKB =
            meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { $0.split(separator: " ").dropFirst().first.flatMap { Double($0) } } ?? 0
        var names = utsname()
        uname(&names)
        let kernel = withUnsafeBytes(of: &names.release) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return MachineDescription(
            cores: sysconf(Int32(_SC_NPROCESSORS_ONLN)), cpuModel: model, kernel: kernel,
            workingDirFileSystem: fileSystemType(FileManager.default.currentDirectoryPath),
            dataDirFileSystem: fileSystemType(dataDir),
            memory: String(format: "%.1f GiB", memKB / 1024 / 1024),
            libraryRevision: revision(of: packageRoot))
    }

    /// `git rev-parse --short HEAD` of `root`, noting uncommitted changes under Sources/.
    private static func revision(of root: String) -> String {
        guard let head = try? runCommand("/usr/bin/git", ["-C", root, "rev-parse", "--short", "HEAD"]) else {
            return "unknown revision"
        }
        let changes = (try? runCommand("/usr/bin/git", ["-C", root, "status", "--porcelain", "--", "Sources"])) ?? ""
        let trimmed = head.trimmingCharacters(in: .whitespacesAndNewlines)
        return changes.isEmpty ? "commit \(trimmed)" : "commit \(trimmed) + uncommitted changes in Sources/"
    }
}

/// Flushes standard output (every C stream: `fflush(NULL)`), so progress shows at once even
/// when the output goes to a file, and a child's line reaches its parent.
func flushOutput() { fflush(nil) }

/// The median time of appending 88 bytes to a file with pwrite and making it durable with
/// fdatasync, `samples` times, in `directory`: what one durable acknowledgement costs on
/// this disk without group commit.
func fdatasyncLatency(directory: String, samples: Int) throws -> Double {
    let path = "\(directory)/fdatasync-probe"
    let fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0o644)
    guard fd >= 0 else { throw BenchError("open \(path): errno \(errno)") }
    defer {
        close(fd)
        unlink(path)
    }
    let record = [UInt8](repeating: 0x2A, count: 88)
    var times: [Double] = []
    for i in 0..<samples {
        let watch = Stopwatch()
        let written = record.withUnsafeBytes { pwrite(fd, $0.baseAddress, 88, off_t(i * 88)) }
        guard written == 88, fdatasync(fd) == 0 else { throw BenchError("pwrite/fdatasync: errno \(errno)") }
        times.append(watch.seconds)
    }
    return medianOf(times)
}

/// fsyncs `path`, so that its dirty pages are written back before a timed read.
func syncFile(_ path: String) throws {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw BenchError("open \(path): errno \(errno)") }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw BenchError("fsync \(path): errno \(errno)") }
}

/// The 1-minute load average from /proc/loadavg, to spot other work competing for the cores.
func loadAverage() -> String {
    let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?"
    return String(text.split(separator: " ").first ?? "?")
}
