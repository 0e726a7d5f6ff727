#if canImport(Glibc)
    import Glibc
#endif

/// The parent's end of the ledger: reads the lines a dead child added since the last read.
struct LedgerReader {
    /// The ledger file.
    let path: String
    /// Bytes already read; the next child appends after them.
    private(set) var offset = 0
    /// Lines the kill tore in half (dropped: their operation was never acknowledged).
    private(set) var tornLines = 0

    /// A reader of `path` from its start.
    init(path: String) { self.path = path }

    /// The complete lines added since the last call, parsed. A torn last line (a SIGKILL in
    /// the middle of its `write(2)`) is cut off the file so the next child's first line
    /// starts on a line of its own. Call only while no child is running.
    mutating func readNewEntries() throws(Violation) -> [LedgerEntry] {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return [] }
            throw Violation("cannot open the ledger \(path): errno \(errno)")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes {
                pread(fd, $0.baseAddress, $0.count, off_t(offset + bytes.count))
            }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { throw Violation("cannot read the ledger \(path): errno \(errno)") }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[..<count])
        }
        let complete = (bytes.lastIndex(of: 10).map { $0 + 1 }) ?? 0
        if complete < bytes.count {
            tornLines += 1
            guard ftruncate(fd, off_t(offset + complete)) == 0 else {
                throw Violation("cannot cut the torn line off the ledger \(path): errno \(errno)")
            }
        }
        var entries: [LedgerEntry] = []
        for line in bytes[..<complete].split(separator: 10) {
            let text = String(decoding: line, as: UTF8.self)
            guard let entry = LedgerEntry(line: text) else {
                throw Violation("ledger \(path) has a line the harness cannot parse: \"\(text)\"")
            }
            entries.append(entry)
        }
        offset += complete
        return entries
    }
}
