import CTestSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Sets the file-size limit (`RLIMIT_FSIZE`) of the running process `pid` to `bytes`, or
/// lifts it back to its hard limit when `bytes` is nil: past it, the process's file growths
/// fail with `EFBIG` as a full disk fails them with `ENOSPC`, without filling a real disk.
/// Returns 0 or an errno value (`ENOSYS` where `prlimit(2)` does not exist).
public func setFileSizeLimit(of pid: pid_t, to bytes: UInt64?) -> Int32 {
    cts_set_file_size_limit(pid, bytes.map { max($0, 1) } ?? 0)
}
