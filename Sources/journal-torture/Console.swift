#if canImport(Glibc)
    import Glibc
#endif

/// Unbuffered output: lines reach the terminal (or CI log) in order and before a kill or an
/// exit, which buffered `print` does not promise.
enum Console {
    /// Writes `line` and a line feed to stdout.
    static func out(_ line: String) { write(line + "\n", to: 1) }

    /// Writes `line` and a line feed to stderr.
    static func error(_ line: String) { write(line + "\n", to: 2) }

    private static func write(_ text: String, to fd: Int32) {
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if result < 0 && errno == EINTR { continue }
            if result <= 0 { return }
            written += result
        }
    }
}
