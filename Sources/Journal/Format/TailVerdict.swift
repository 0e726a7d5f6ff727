/// What the invalid bytes at the end of the valid log are, when the log ends at or after the
/// durable checkpoint (FORMAT.md §5, "Torn tail or damage").
///
/// The checkpoint alone cannot tell a write torn by a crash from a flipped bit in records
/// that were synced after the last header write, so recovery looks past the end: a torn
/// write is the last thing in the file, while damage is followed by intact records. The one
/// exception is a power loss, which may write later pages before the torn one; a sector
/// of the torn record left all zero (never written, in preallocated space) identifies it.
enum TailVerdict: Equatable {
    /// No intact record follows: writes in flight when the writer died.
    case torn
    /// A write torn by a power loss (a 512-byte sector of it is all zero), with intact
    /// records from `laterWrites` on that the disk wrote before it. They were never synced
    /// (a sync covering them would have covered the torn record too) and are dropped with it.
    case tornBeforeLaterWrites(laterWrites: UInt64)
    /// An intact record at `intactRecord` follows, or is, the invalid position: damage.
    case damaged(intactRecord: UInt64)
    /// The record at `offset` was written by a writer `generation` newer than the header's:
    /// every writer makes its header durable before its first record, so the newest header
    /// slot is damaged.
    case newerGeneration(offset: UInt64, generation: UInt32)

    /// The sector size a power loss tears writes at (a multiple of it on 4 KiB-sector drives).
    static let sectorSize = 512

    /// Looks at `file` from `end`, where the valid log stopped at bytes that are not a valid
    /// record (or an intact record that breaks a lifecycle rule), under a header of
    /// `headerGeneration`.
    static func examine(_ file: UnsafeRawBufferPointer, from end: UInt64, headerGeneration: UInt32) -> TailVerdict {
        var scanner = SalvageScanner(file: file, from: end, maxGeneration: .max)
        let intact: UInt64
        switch scanner.next() {
        case .record(_, _, let offset):
            intact = offset
        case .damaged(_, _, let resume?):
            intact = resume
        case .damaged(_, _, nil), .zeroGap, .damagedSnapshot, .end:
            return .torn
        }
        guard case .record(let record) = decodeRecord(in: file, at: intact, maxGeneration: .max) else { return .torn }
        if record.generation > headerGeneration {
            return .newerGeneration(offset: intact, generation: record.generation)
        }
        if intact > end && hasZeroSector(file, from: end, to: intact) {
            return .tornBeforeLaterWrites(laterWrites: intact)
        }
        return .damaged(intactRecord: intact)
    }

    /// Whether a whole, aligned sector between `start` and `end` holds only zero bytes.
    static func hasZeroSector(_ file: UnsafeRawBufferPointer, from start: UInt64, to end: UInt64) -> Bool {
        let size = UInt64(sectorSize)
        var sector = (start + size - 1) / size * size
        while sector + size <= min(end, UInt64(file.count)) {
            var zero = true
            var word = Int(sector)
            while word < Int(sector + size) {
                if file.loadUnaligned(fromByteOffset: word, as: UInt64.self) != 0 {
                    zero = false
                    break
                }
                word += 8
            }
            if zero { return true }
            sector += size
        }
        return false
    }
}
