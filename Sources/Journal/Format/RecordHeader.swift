/// The fixed 40-byte header in front of every record body (FORMAT.md, "Record framing").
struct RecordHeader: Equatable, Sendable {
    var type: RecordType
    var bodyLength: UInt32
    var generation: UInt32
    var stream: UInt32
    var chunkIndex: UInt32
    var timestamp: Int64
    var previous: UInt64

    /// Bytes the record occupies in the file, padding included.
    var alignedSize: Int { Layout.aligned(RecordField.size + Int(bodyLength)) }

    /// Writes a complete record (header, body, zero padding, checksum) at `destination`,
    /// which must have room for `alignedSize` bytes. Pure: memory in, memory out.
    func write(body: UnsafeRawBufferPointer, to destination: UnsafeMutableRawPointer) {
        let p = destination
        p.storeLE(bodyLength, RecordField.bodyLength)
        p.storeLE(type.rawValue, RecordField.type)
        p.storeLE(UInt8(0), RecordField.flags)
        p.storeLE(UInt16(0), RecordField.reserved)
        p.storeLE(generation, RecordField.generation)
        p.storeLE(stream, RecordField.stream)
        p.storeLE(chunkIndex, RecordField.chunkIndex)
        p.storeLE(UInt64(bitPattern: timestamp), RecordField.timestamp)
        p.storeLE(previous, RecordField.previous)
        if let base = body.baseAddress, body.count > 0 {
            (p + RecordField.size).copyMemory(from: base, byteCount: body.count)
        }
        let end = RecordField.size + body.count
        let padded = Layout.aligned(end)
        if padded > end { (p + end).initializeMemory(as: UInt8.self, repeating: 0, count: padded - end) }
        let covered = UnsafeRawBufferPointer(start: p + RecordField.checksum.end, count: end - RecordField.checksum.end)
        p.storeLE(CRC32C.checksum(covered), RecordField.checksum)
    }

    /// A whole record as a byte array (tests and small records).
    func encoded(body: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: alignedSize)
        out.withUnsafeMutableBytes { dst in
            body.withUnsafeBytes { write(body: $0, to: dst.baseAddress!) }
        }
        return out
    }
}

/// What the bytes at one offset of the log are (FORMAT.md, "Validity of a record").
enum RecordVerdict: Equatable {
    /// A valid record; its body starts `RecordField.size` bytes after the offset.
    case record(RecordHeader)
    /// The log ends here: no room for a header, or the header bytes are all zero (the
    /// preallocated, never-written part of the file).
    case end
    /// The bytes here are not a valid record; the reason names the first rule broken.
    case invalid(String)
}

/// Pure validation of a single record at `offset` of `log`, a view of the file from offset 0
/// whose count is the number of readable bytes.
///
/// Checks every per-record rule except the ones that need history (generation order and
/// stream lifecycle), which `RecordScanner` and the index apply.
func decodeRecord(in log: UnsafeRawBufferPointer, at offset: UInt64, maxGeneration: UInt32) -> RecordVerdict {
    guard offset % UInt64(Layout.recordAlignment) == 0 else { return .invalid("offset is not 8-byte aligned") }
    // Compared by subtraction: `offset` may come from a hostile pointer near `UInt64.max`,
    // or lie past the end of a file shorter than the header area.
    guard offset <= UInt64(log.count), UInt64(log.count) - offset >= UInt64(RecordField.size) else {
        if offset >= UInt64(log.count) { return .end }
        let tail = UnsafeRawBufferPointer(rebasing: log[Int(offset)...])
        return tail.allSatisfy { $0 == 0 } ? .end : .invalid("record header runs past the end of the file")
    }
    let header = UnsafeRawBufferPointer(rebasing: log[Int(offset)..<Int(offset) + RecordField.size])
    let storedChecksum: UInt32 = header.le(RecordField.checksum)
    let bodyLength: UInt32 = header.le(RecordField.bodyLength)
    let typeByte: UInt8 = header.le(RecordField.type)
    if storedChecksum == 0 && bodyLength == 0 && typeByte == 0 && header.allSatisfy({ $0 == 0 }) {
        return .end
    }
    guard Int(bodyLength) <= Layout.maxBodyLength else {
        return .invalid("body length \(bodyLength) exceeds the format maximum \(Layout.maxBodyLength)")
    }
    let end = Int(offset) + RecordField.size + Int(bodyLength)
    let padded = Layout.aligned(end)
    guard padded <= log.count else {
        return .invalid("record of \(RecordField.size + Int(bodyLength)) bytes runs past the end of the file")
    }
    let covered = UnsafeRawBufferPointer(rebasing: log[Int(offset) + RecordField.checksum.end..<end])
    let computed = CRC32C.checksum(covered)
    guard computed == storedChecksum else {
        return .invalid("checksum mismatch (stored \(hex(storedChecksum)), computed \(hex(computed)))")
    }
    guard let type = RecordType(rawValue: typeByte) else { return .invalid("unknown record type \(typeByte)") }
    let flags: UInt8 = header.le(RecordField.flags)
    let reserved: UInt16 = header.le(RecordField.reserved)
    guard flags == 0, reserved == 0 else { return .invalid("flags or reserved bytes are not zero") }
    if padded > end {
        guard log[end..<padded].allSatisfy({ $0 == 0 }) else { return .invalid("alignment padding is not zero") }
    }
    let generation: UInt32 = header.le(RecordField.generation)
    guard generation >= 1, generation <= maxGeneration else {
        return .invalid("generation \(generation) is outside 1...\(maxGeneration) (a record left by an older writer)")
    }
    let stream: UInt32 = header.le(RecordField.stream)
    guard type.isStreamScoped == (stream != 0) else {
        return .invalid("stream number \(stream) does not fit record type \(type)")
    }
    return .record(
        RecordHeader(
            type: type, bodyLength: bodyLength, generation: generation, stream: stream,
            chunkIndex: header.le(RecordField.chunkIndex),
            timestamp: Int64(bitPattern: header.le(RecordField.timestamp)),
            previous: header.le(RecordField.previous)))
}
