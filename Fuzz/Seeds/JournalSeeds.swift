// Writes seed inputs for the journal-file fuzz target: small journals made by the library,
// in the target's input encoding (Fuzz/JournalFileFuzz.swift). Run by `Fuzz/run.sh --seeds`,
// compiled into one module with Sources/Journal.

#if canImport(Glibc)
    import Glibc
#endif

@main
enum JournalSeeds {
    static func main() throws {
        let directory = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "."
        let path = "/tmp/sj-seeds-\(getpid()).journal"
        var options = JournalOptions(durability: .none)
        options.autoCompaction = nil

        // Nothing but the headers.
        unlink(path)
        try Journal(path: path, options: options).close()
        try emit(path, name: "empty", to: directory)

        // Every record type and stream outcome, a stream past one index block (64 chunks),
        // a snapshot in the middle, and a stream left open.
        unlink(path)
        var journal = try Journal(path: path, options: options)
        let done = try journal.createStream(StreamID("done"), metadata: ["model": "small", "k": ""])
        try journal.append("Hello", to: done)
        try journal.append([0, 0xFF, 0x0D, 0x0A], to: done)
        try journal.complete(done)
        let failed = try journal.createStream(StreamID("failed"))
        try journal.append("partial", to: failed)
        try journal.fail(failed, reason: "upstream 500")
        let cancelled = try journal.createStream(StreamID("cancelled"))
        try journal.cancel(cancelled)
        let gone = try journal.createStream(StreamID("gone"))
        try journal.append("x", to: gone)
        try journal.deleteStream(gone)
        try journal.writeSnapshot()
        let long = try journal.createStream(StreamID("long"))
        for i in 0..<70 { try journal.append("c\(i)", to: long) }
        let open = try journal.createStream(StreamID("open"))
        try journal.append("still", to: open)
        try journal.close()
        try emit(path, name: "lifecycle", to: directory)

        // A writer that died: no final snapshot, a stream left open, an interrupted one.
        unlink(path)
        journal = try Journal(path: path, options: options)
        let a = try journal.createStream(StreamID("a"))
        try journal.append("one", to: a)
        try journal.interrupt(a, reason: "gone")
        let b = try journal.createStream(StreamID("b"))
        try journal.append("two", to: b)
        try journal.close()
        try emit(path, name: "interrupted", to: directory)
        unlink(path)
    }

    /// Writes the file at `path` in the target's encodings: compact headers with checksums
    /// fixed (alone and with each optional step) and the raw file.
    static func emit(_ path: String, name: String, to directory: String) throws {
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        var file = [UInt8](repeating: 0, count: Int(lseek(fd, 0, SEEK_END)))
        _ = file.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, 0) }
        // The log ends at the newest checkpoint; the rest is preallocated zeros.
        var end = Int(Layout.logStart)
        for slot in 0..<Layout.headerSlotCount {
            let start = slot * Layout.headerSlotSize
            let verdict = file.withUnsafeBytes {
                FileHeader.decode(UnsafeRawBufferPointer(rebasing: $0[start..<start + Layout.headerSlotSize]))
            }
            if case .valid(let header) = verdict { end = max(end, Int(header.checkpointEnd)) }
        }
        let log = file[Int(Layout.logStart)..<end]
        var compact: [UInt8] = []
        for slot in 0..<Layout.headerSlotCount {
            let start = slot * Layout.headerSlotSize
            compact += file[start..<start + HeaderField.size]
        }
        compact += log
        // Bits: 0 compact headers, 1 fix checksums, 2 writable open, 3 keepOpen, 4 repair, 5 compact.
        let variants: [(String, UInt8)] = [
            ("read", 0x03), ("write", 0x07), ("keep", 0x0F), ("repair", 0x13), ("compact", 0x27),
        ]
        for (suffix, mode) in variants {
            write([mode] + compact, to: "\(directory)/seed-\(name)-\(suffix)")
        }
        write([0x00] + file[0..<end], to: "\(directory)/seed-\(name)-raw")
    }

    static func write(_ bytes: [UInt8], to path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0, "cannot create \(path)")
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress!, $0.count) }
        close(fd)
        print("wrote \(path) (\(bytes.count) bytes)")
    }
}
