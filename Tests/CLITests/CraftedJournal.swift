import Journal

#if canImport(Glibc)
    import Glibc
#endif

/// A journal written byte by byte after FORMAT.md §3–§6, for values no writer produces but a
/// file may hold (timestamps and sequences at the ends of their types, streams left open
/// long ago): both header slots, the given records and no snapshot, so nothing derived
/// disagrees with the records and `verify` accepts the file.
enum CraftedJournal {
    /// Writes `records` (from `record`) after two header slots with sequences `sequences`.
    static func write(
        _ path: String, sequences: (UInt64, UInt64) = (1, 2), createdAt: Int64 = 1_700_000_000_000_000,
        records: [[UInt8]]
    ) {
        var file = slot(sequence: sequences.0, createdAt: createdAt) + slot(sequence: sequences.1, createdAt: createdAt)
        for record in records { file += record }
        // Zeros after the log, so it ends cleanly (FORMAT.md §5).
        file += [UInt8](repeating: 0, count: 4096 - file.count % 4096)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0, "cannot create \(path)")
        precondition(Glibc.write(fd, file, file.count) == file.count)
        close(fd)
    }

    /// One 4096-byte header slot: generation 1, no snapshot, checkpoint at the log start.
    static func slot(sequence: UInt64, createdAt: Int64 = 1_700_000_000_000_000) -> [UInt8] {
        var bytes: [UInt8] = [0x53, 0x4A, 0x52, 0x4E, 0x4C, 0x0D, 0x0A, 0x1A]
        append(UInt32(1), to: &bytes)  // version
        append(UInt32(4096), to: &bytes)  // slot size
        append(UInt64(0), to: &bytes)  // required and optional features
        bytes += (0..<16).map { UInt8($0 + 1) }  // journal id
        append(sequence, to: &bytes)
        append(UInt32(1), to: &bytes)  // generation
        append(UInt32(1), to: &bytes)  // writer pid
        append(UInt64(bitPattern: createdAt), to: &bytes)
        append(UInt64(1_700_000_000_000_000), to: &bytes)  // updatedAt
        append(UInt64(8192), to: &bytes)  // checkpointEnd
        append(UInt64(0), to: &bytes)  // snapshot offset
        append(UInt64(0), to: &bytes)  // snapshot length
        bytes += [UInt8](repeating: 0, count: 20)
        append(CRC32C.checksum(bytes), to: &bytes)
        return bytes + [UInt8](repeating: 0, count: 4096 - bytes.count)
    }

    /// One record with a valid checksum, padded to a multiple of 8 (FORMAT.md §4).
    static func record(
        type: UInt8, stream: UInt32, index: UInt32 = 0, timestamp: Int64, previous: UInt64 = 0, body: [UInt8]
    ) -> [UInt8] {
        var covered: [UInt8] = []
        append(UInt32(body.count), to: &covered)
        covered += [type, 0, 0, 0]
        append(UInt32(1), to: &covered)  // generation
        append(stream, to: &covered)
        append(index, to: &covered)
        append(UInt64(bitPattern: timestamp), to: &covered)
        append(previous, to: &covered)
        covered += body
        var bytes: [UInt8] = []
        append(CRC32C.checksum(covered), to: &bytes)
        bytes += covered
        return bytes + [UInt8](repeating: 0, count: (8 - bytes.count % 8) % 8)
    }

    /// A stream-open body (FORMAT.md §6.1); `metadata` sorted by key.
    static func openBody(_ id: String, metadata: [(String, String)] = []) -> [UInt8] {
        var bytes: [UInt8] = []
        append(UInt16(id.utf8.count), to: &bytes)
        bytes += Array(id.utf8)
        append(UInt16(metadata.count), to: &bytes)
        for (key, value) in metadata {
            append(UInt16(key.utf8.count), to: &bytes)
            bytes += Array(key.utf8)
            append(UInt32(value.utf8.count), to: &bytes)
            bytes += Array(value.utf8)
        }
        return bytes
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }
}
