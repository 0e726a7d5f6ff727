// libFuzzer target: an arbitrary file opened as a journal (Fuzz/run.sh builds it).
//
// Compiled into one module with Sources/Journal, so the internal format types are at hand for
// the input encoding below. Every outcome must be a thrown `JournalError` or success; a trap,
// a hang or a leak is a bug in the library.

#if canImport(Glibc)
    import Glibc
#endif

/// How the fuzz input becomes a file. The first byte holds the mode bits; without it a
/// mutator would spend nearly all its time failing the header and record checksums.
private struct InputMode: OptionSet {
    let rawValue: UInt8
    /// The input holds two `HeaderField.size`-byte header slots, each padded to a full slot,
    /// then the log: small inputs reach the records. Otherwise the input is the file as is.
    static let compactHeaders = InputMode(rawValue: 1 << 0)
    /// Recompute the checksum of both header slots and of every record that fits, so the
    /// mutations reach the rules behind the checksums (hostile lengths, offsets, counts).
    static let fixChecksums = InputMode(rawValue: 1 << 1)
    /// Also open a copy for writing (recovery), append to it, close, and verify the result.
    static let writableOpen = InputMode(rawValue: 1 << 2)
    /// Open the writable copy with `keepOpen` rather than `interrupt` for open streams.
    static let keepOpen = InputMode(rawValue: 1 << 3)
    /// Also run a real (not dry-run) repair on a copy.
    static let repair = InputMode(rawValue: 1 << 4)
    /// Compact the writable copy with a retention policy that drops by age and size, so
    /// hostile timestamps and sizes reach the retention arithmetic.
    static let compact = InputMode(rawValue: 1 << 5)
}

/// One scratch directory per process, reused by every input: under `SJ_FUZZ_SCRATCH` (which
/// Fuzz/run.sh sets and removes afterwards), else in /dev/shm (no disk I/O), else /tmp.
private let scratch: String = {
    let base =
        getenv("SJ_FUZZ_SCRATCH").map { String(cString: $0) } ?? (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp")
    var template = Array("\(base)/sj-fuzz-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    require(made != nil, "mkdtemp failed")
    let path = String(cString: made!)
    // Removed at exit; a crash leaves it behind with the input that crashed.
    atexit {
        removeScratchFiles(except: [])
        rmdir(scratch)
    }
    return path
}()

private func writeFile(_ path: String, _ bytes: [UInt8]) {
    unlink(path)
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    require(fd >= 0, "cannot create \(path)")
    var written = 0
    bytes.withUnsafeBytes { raw in
        while written < raw.count {
            let n = write(fd, raw.baseAddress! + written, raw.count - written)
            require(n > 0, "write failed")
            written += n
        }
    }
    close(fd)
}

/// The file the input describes.
private func fileBytes(_ input: UnsafeRawBufferPointer, mode: InputMode) -> [UInt8] {
    var file: [UInt8]
    if mode.contains(.compactHeaders) {
        file = []
        var rest = input[...]
        for _ in 0..<Layout.headerSlotCount where !rest.isEmpty {
            let slot = rest.prefix(HeaderField.size)
            rest = rest.dropFirst(slot.count)
            file += slot
            if slot.count == HeaderField.size {
                file += [UInt8](repeating: 0, count: Layout.headerSlotSize - HeaderField.size)
            }
        }
        file += rest
    } else {
        file = Array(input)
    }
    if mode.contains(.fixChecksums) { fixChecksums(&file) }
    return file
}

private func fixChecksums(_ file: inout [UInt8]) {
    file.withUnsafeMutableBytes { raw in
        let p = raw.baseAddress!
        for slot in 0..<Layout.headerSlotCount {
            let start = slot * Layout.headerSlotSize
            guard start + HeaderField.size <= raw.count else { break }
            let covered = UnsafeRawBufferPointer(rebasing: raw[start..<start + HeaderField.checksum.offset])
            (p + start).storeLE(CRC32C.checksum(covered), HeaderField.checksum)
        }
        var offset = Int(Layout.logStart)
        while offset + RecordField.size <= raw.count {
            let length: UInt32 = UnsafeRawBufferPointer(rebasing: raw[offset...]).le(RecordField.bodyLength)
            let end = offset + RecordField.size + Int(length)
            guard length > 0 || raw[offset + RecordField.type.offset] != 0, end <= raw.count else { break }
            let covered = UnsafeRawBufferPointer(rebasing: raw[(offset + RecordField.checksum.end)..<end])
            (p + offset).storeLE(CRC32C.checksum(covered), RecordField.checksum)
            offset = Layout.aligned(end)
        }
    }
}

/// Reads every chunk of every stream, from the start and from the middle.
private func readAll(_ journal: Journal) throws(JournalError) {
    for info in try journal.streams() {
        _ = try journal.info(info.id)
        var cursor = try journal.chunks(of: info.id)
        var count = 0
        while let chunk = try cursor.next() {
            require(chunk.index == count, "chunk index \(chunk.index), expected \(count)")
            _ = chunk.bytes
            count += 1
        }
        if count > 1 {
            var middle = try journal.chunks(of: info.id, from: count / 2)
            _ = try middle.collect()
        }
    }
}

private func exercise(_ input: UnsafeRawBufferPointer) {
    guard let first = input.first else { return }
    let mode = InputMode(rawValue: first)
    let file = fileBytes(UnsafeRawBufferPointer(rebasing: input[1...]), mode: mode)
    let path = scratch + "/input.journal"
    writeFile(path, file)

    let verified = try? Journal.verify(path: path)
    _ = try? Journal.repair(path: path, dryRun: true)
    _ = try? Journal.fileInfo(path: path)
    _ = try? Journal.diskUsage(path: path)
    var dumped = 0
    try? Journal.dump(path: path) { _ in
        dumped += 1
        return dumped < 10_000
    }
    do {
        let journal = try Journal.openReadOnly(path: path)
        try readAll(journal)
        try journal.export { _ in }
        try journal.close()
    } catch {
        // A typed error for a damaged file is the expected outcome.
    }

    if mode.contains(.writableOpen) {
        let copy = scratch + "/copy.journal"
        writeFile(copy, file)
        var options = JournalOptions(
            durability: .none,
            openStreams: mode.contains(.keepOpen) ? .keepOpen(staleAfter: .seconds(3600)) : .interrupt)
        options.createIfMissing = false
        options.autoCompaction = nil
        if let journal = try? Journal(path: copy, options: options) {
            do {
                try readAll(journal)
                if mode.contains(.compact) {
                    var policy = RetentionPolicy()
                    policy.completedMaxAge = .seconds(60)
                    policy.unsuccessfulMaxAge = .seconds(1)
                    policy.maxTotalBytes = 4096
                    try journal.compact(policy: policy)
                    try readAll(journal)
                }
                let id = try journal.createStream(metadata: ["fuzz": "1"])
                try journal.append("chunk", to: id)
                try journal.complete(id)
                try journal.writeSnapshot()
                try journal.close()
            } catch {
                // Only a typed error; the verify below decides whether the file is sound.
            }
            let after = try? Journal.verify(path: copy)
            // A file the writer accepted and wrote to must verify clean, unless verify already
            // found problems in the input the writer's recovery keeps (damage past the log end).
            if let after, !after.isClean, verified?.isClean == true {
                fatalError("verify after a writable open found \(after.problems)")
            }
        }
    }
    if mode.contains(.repair) {
        let copy = scratch + "/repair.journal"
        writeFile(copy, file)
        if let report = try? Journal.repair(path: copy), report.needed {
            guard let after = try? Journal.verify(path: copy), after.isClean else {
                fatalError("a repaired journal does not verify clean")
            }
        }
        removeScratchFiles(except: ["input.journal"])
    }
}

/// Removes repair leftovers (`.damaged-*` links) so the scratch directory does not grow.
private func removeScratchFiles(except keep: Set<String>) {
    guard let dir = opendir(scratch) else { return }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) {
            String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
        }
        if name != "." && name != ".." && !keep.contains(name) { names.append(name) }
    }
    closedir(dir)
    for name in names { unlink(scratch + "/" + name) }
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    exercise(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// `precondition` that prints its message in optimized builds too (the fuzzer's report).
private func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}
