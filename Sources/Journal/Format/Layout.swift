/// A fixed-size little-endian field of an on-disk structure: its offset and width.
///
/// Each field's offset is derived from the one before it (`after`), so the layout in code
/// reads in the same order as the tables in FORMAT.md and cannot drift by a typo.
struct Field: Sendable {
    let offset: Int
    let size: Int
    var end: Int { offset + size }

    static func first(size: Int) -> Field { Field(offset: 0, size: size) }
    func then(size: Int) -> Field { Field(offset: end, size: size) }
}

/// File-level constants of format version 1 (FORMAT.md, "File layout").
enum Layout {
    /// "SJRNL\r\n\x1A": the CR LF and SUB catch text-mode transfers, as PNG's signature does.
    static let magic: [UInt8] = [0x53, 0x4A, 0x52, 0x4E, 0x4C, 0x0D, 0x0A, 0x1A]
    /// The format version this code writes and the newest it reads.
    static let formatVersion: UInt32 = 1
    /// Bytes per header slot; each slot is its own page so one torn page write hurts one slot.
    static let headerSlotSize = 4096
    /// Number of header slots (A at offset 0, B at offset 4096).
    static let headerSlotCount = 2
    /// Offset of the first record.
    static let logStart = UInt64(headerSlotSize * headerSlotCount)
    /// Every record starts at a multiple of this.
    static let recordAlignment = 8
    /// Upper bound on a record body; a longer length field is invalid by definition.
    static let maxBodyLength = 1 << 30
    /// Chunks per block of the per-stream sparse offset index (snapshot field `blockStarts`).
    static let chunksPerBlock = 64

    /// Rounds `value` up to the record alignment.
    @inline(__always)
    static func aligned(_ value: Int) -> Int {
        (value + recordAlignment - 1) & ~(recordAlignment - 1)
    }
}

/// The header slot (FORMAT.md, "File header").
enum HeaderField {
    static let magic = Field.first(size: 8)
    static let version = magic.then(size: 4)
    static let slotSize = version.then(size: 4)
    static let requiredFeatures = slotSize.then(size: 4)
    static let optionalFeatures = requiredFeatures.then(size: 4)
    static let journalID = optionalFeatures.then(size: 16)
    static let sequence = journalID.then(size: 8)
    static let generation = sequence.then(size: 4)
    static let writerPID = generation.then(size: 4)
    static let createdAt = writerPID.then(size: 8)
    static let updatedAt = createdAt.then(size: 8)
    static let checkpointEnd = updatedAt.then(size: 8)
    static let snapshotOffset = checkpointEnd.then(size: 8)
    static let snapshotLength = snapshotOffset.then(size: 8)
    static let reserved = snapshotLength.then(size: 20)
    static let checksum = reserved.then(size: 4)
    /// Bytes covered by the header structure; the rest of the slot is zero.
    static let size = checksum.end
}

/// The record header (FORMAT.md, "Record framing").
enum RecordField {
    static let checksum = Field.first(size: 4)
    static let bodyLength = checksum.then(size: 4)
    static let type = bodyLength.then(size: 1)
    static let flags = type.then(size: 1)
    static let reserved = flags.then(size: 2)
    static let generation = reserved.then(size: 4)
    static let stream = generation.then(size: 4)
    static let chunkIndex = stream.then(size: 4)
    static let timestamp = chunkIndex.then(size: 8)
    static let previous = timestamp.then(size: 8)
    /// Bytes before the body.
    static let size = previous.end
}

/// Feature bits of the header. Version 1 defines none; a reader refuses a file with a
/// required bit it does not know, and ignores unknown optional bits.
enum FeatureFlags {
    static let knownRequired: UInt32 = 0
}
