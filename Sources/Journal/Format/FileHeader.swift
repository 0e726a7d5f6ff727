/// One header slot's contents (FORMAT.md, "File header"). Pure value; no I/O.
struct FileHeader: Equatable, Sendable {
    var formatVersion: UInt32 = Layout.formatVersion
    var requiredFeatures: UInt32 = 0
    var optionalFeatures: UInt32 = 0
    var journalID: [UInt8]
    /// Increases with every header write; the valid slot with the highest value is current.
    var sequence: UInt64
    /// Increases with every writable open; records carry the generation that wrote them.
    var generation: UInt32
    var writerPID: UInt32
    var createdAt: Int64
    var updatedAt: Int64
    /// Every record below this offset was durable and valid when the header was written.
    var checkpointEnd: UInt64
    /// Offset of the latest index snapshot record, or 0.
    var snapshotOffset: UInt64
    /// Aligned length of that snapshot record, or 0.
    var snapshotLength: UInt64

    /// The slot's bytes: `HeaderField.size` meaningful bytes, zero to the slot's end.
    func encoded() -> [UInt8] {
        var slot = [UInt8](repeating: 0, count: Layout.headerSlotSize)
        slot.withUnsafeMutableBytes { raw in
            let p = raw.baseAddress!
            for (i, byte) in Layout.magic.enumerated() { raw[HeaderField.magic.offset + i] = byte }
            p.storeLE(formatVersion, HeaderField.version)
            p.storeLE(UInt32(Layout.headerSlotSize), HeaderField.slotSize)
            p.storeLE(requiredFeatures, HeaderField.requiredFeatures)
            p.storeLE(optionalFeatures, HeaderField.optionalFeatures)
            for (i, byte) in journalID.prefix(HeaderField.journalID.size).enumerated() {
                raw[HeaderField.journalID.offset + i] = byte
            }
            p.storeLE(sequence, HeaderField.sequence)
            p.storeLE(generation, HeaderField.generation)
            p.storeLE(writerPID, HeaderField.writerPID)
            p.storeLE(UInt64(bitPattern: createdAt), HeaderField.createdAt)
            p.storeLE(UInt64(bitPattern: updatedAt), HeaderField.updatedAt)
            p.storeLE(checkpointEnd, HeaderField.checkpointEnd)
            p.storeLE(snapshotOffset, HeaderField.snapshotOffset)
            p.storeLE(snapshotLength, HeaderField.snapshotLength)
            let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<HeaderField.checksum.offset]))
            p.storeLE(crc, HeaderField.checksum)
        }
        return slot
    }

    /// What a slot's bytes say.
    enum Verdict: Equatable {
        case valid(FileHeader)
        /// The magic is absent: this slot (and likely the file) is not a journal header.
        case notAJournal
        /// Magic present, version newer than this code reads.
        case unsupportedVersion(UInt32)
        /// Magic present but the slot is damaged or has features this code cannot honour.
        case invalid(String)
    }

    /// Decodes and validates one slot. `slot` may be shorter than a full slot (a short file).
    ///
    /// Valid if and only if: the magic matches; the version is 1; the slot-size field is 4096;
    /// the checksum matches; no unknown required feature bit is set; and `checkpointEnd` and the
    /// snapshot pointer lie at or after `Layout.logStart`, aligned (or zero for the snapshot).
    static func decode(_ slot: UnsafeRawBufferPointer) -> Verdict {
        guard slot.count >= HeaderField.magic.size,
            slot.prefix(HeaderField.magic.size).elementsEqual(Layout.magic)
        else { return .notAJournal }
        guard slot.count >= HeaderField.size else { return .invalid("slot is truncated") }
        let version: UInt32 = slot.le(HeaderField.version)
        // The version is read before the checksum: a newer version may checksum differently.
        if version > Layout.formatVersion { return .unsupportedVersion(version) }
        if version == 0 { return .invalid("format version 0 is not defined") }
        let stored: UInt32 = slot.le(HeaderField.checksum)
        let computed = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: slot[0..<HeaderField.checksum.offset]))
        guard stored == computed else {
            return .invalid(
                "header checksum mismatch (stored \(hex(stored)), computed \(hex(computed)))")
        }
        let slotSize: UInt32 = slot.le(HeaderField.slotSize)
        guard slotSize == UInt32(Layout.headerSlotSize) else {
            return .invalid("slot size \(slotSize), expected \(Layout.headerSlotSize)")
        }
        let required: UInt32 = slot.le(HeaderField.requiredFeatures)
        guard required & ~FeatureFlags.knownRequired == 0 else {
            return .invalid("unknown required feature bits \(hex(required))")
        }
        let header = FileHeader(
            formatVersion: version,
            requiredFeatures: required,
            optionalFeatures: slot.le(HeaderField.optionalFeatures),
            journalID: Array(slot[HeaderField.journalID.offset..<HeaderField.journalID.end]),
            sequence: slot.le(HeaderField.sequence),
            generation: slot.le(HeaderField.generation),
            writerPID: slot.le(HeaderField.writerPID),
            createdAt: Int64(bitPattern: slot.le(HeaderField.createdAt)),
            updatedAt: Int64(bitPattern: slot.le(HeaderField.updatedAt)),
            checkpointEnd: slot.le(HeaderField.checkpointEnd),
            snapshotOffset: slot.le(HeaderField.snapshotOffset),
            snapshotLength: slot.le(HeaderField.snapshotLength))
        guard header.checkpointEnd >= Layout.logStart, header.checkpointEnd % 8 == 0 else {
            return .invalid("checkpoint end \(header.checkpointEnd) is outside the log")
        }
        if header.snapshotOffset != 0 {
            guard header.snapshotOffset >= Layout.logStart, header.snapshotOffset % 8 == 0,
                header.snapshotLength >= UInt64(RecordField.size), header.snapshotOffset <= header.checkpointEnd,
                header.snapshotLength <= header.checkpointEnd - header.snapshotOffset
            else { return .invalid("snapshot pointer \(header.snapshotOffset) is outside the checkpoint") }
        }
        return .valid(header)
    }
}

/// "0x" and eight hex digits.
func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}
