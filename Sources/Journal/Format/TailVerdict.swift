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

    /// How many zero bytes in a row end the search for an intact record: the space after the
    /// log is zero up to the file size, which can be hundreds of megabytes, and a read-only
    /// open of a busy journal should not fault all of it in.
    static let zeroRunLimit = 4 << 20

    /// The same limit when the log ended at zero bytes, its usual end, at every open: the
    /// look past it then costs 16 pages, not a thousand (4 MiB doubled the open's time). It
    /// finds all damage that zeros can hide: an intact record after them is damage only when
    /// it starts inside the zeros' own 512-byte sector (`neverWritten`), so a run of 512 zero
    /// bytes already means a torn tail, and a longer one only keeps later writes a power
    /// loss reordered from being named, which are dropped either way. (A newer writer's
    /// records, proof of a damaged header slot, start right at the old end, where the scan
    /// meets them as invalid bytes and searches 4 MiB.)
    static let cleanEndZeroRunLimit = 64 << 10

    /// Looks at `file` from `end`, where the valid log stopped at bytes that are not a valid
    /// record (or at an intact record that breaks a rule of validity), under a header of
    /// `headerGeneration`; records before `end` reached `minimumGeneration`. `latestOfStream`
    /// gives the offset of each stream's latest record before `end` (nil for none).
    static func examine(
        _ file: UnsafeRawBufferPointer, from end: UInt64, headerGeneration: UInt32, minimumGeneration: UInt32,
        zeroRunLimit: Int = zeroRunLimit, latestOfStream: (UInt32) -> UInt64?
    ) -> TailVerdict {
        if case .record(let record) = decodeRecord(in: file, at: end, maxGeneration: .max) {
            if record.generation > headerGeneration {
                return .newerGeneration(offset: end, generation: record.generation)
            }
            return .damaged(intactRecord: end)
        }
        // The search starts after the extent the header at `end` claims, when it is
        // believable: a record torn while its body was being copied (a crash, not damage)
        // may carry record-shaped bytes in its payload, a journal stored as a chunk. But the
        // damage may be in the length itself: a flipped bit in `bodyLength` claimed an extent
        // past every later record, and an open dropped hundreds of synced records as a torn
        // tail. An intact record inside the extent that is tied to the log before it (it
        // continues a stream, or points back at `end`) is a real one, as repair decides.
        let claimed = claimedExtent(file, at: end)
        if let claimed,
            let (inside, generation) = firstLinkedRecord(
                file, from: end + UInt64(Layout.recordAlignment), before: end + claimed, end: end,
                minimumGeneration: minimumGeneration, latestOfStream: latestOfStream)
        {
            if generation > headerGeneration { return .newerGeneration(offset: inside, generation: generation) }
            if neverWritten(file, from: end, to: inside) { return .tornBeforeLaterWrites(laterWrites: inside) }
            return .damaged(intactRecord: inside)
        }
        let start = end + (claimed ?? UInt64(Layout.recordAlignment))
        guard
            let (intact, generation) = firstIntactRecord(
                file, from: start, minimumGeneration: minimumGeneration, zeroRunLimit: zeroRunLimit)
        else { return .torn }
        if generation > headerGeneration { return .newerGeneration(offset: intact, generation: generation) }
        if neverWritten(file, from: end, to: intact) { return .tornBeforeLaterWrites(laterWrites: intact) }
        return .damaged(intactRecord: intact)
    }

    /// `examine` for a scan that may race a live writer in another process, which writes one
    /// record at a time, in log order, its checksum last. Nil when the bytes at `end`,
    /// undecodable when the scan met them, are a whole record before or after the look past
    /// them: the writer finished it meanwhile (and perhaps wrote more after it), and the log
    /// simply ends at `end` for this look. Checked only before the look, a record the writer
    /// finished during it, or the records it wrote after it, were taken for damage, and a
    /// read-only open or `verify` beside a busy writer failed.
    static func examineBesideWriter(
        _ file: UnsafeRawBufferPointer, from end: UInt64, undecodable: Bool, headerGeneration: UInt32,
        minimumGeneration: UInt32, zeroRunLimit: Int = zeroRunLimit, path: String,
        latestOfStream: (UInt32) -> UInt64?
    ) -> TailVerdict? {
        func finished() -> Bool {
            undecodable
                && finishedSince(
                    file, at: end, headerGeneration: headerGeneration, minimumGeneration: minimumGeneration)
        }
        if finished() { return nil }
        TestHooks.beforeLookingPast(path: path, end: end)
        let verdict = examine(
            file, from: end, headerGeneration: headerGeneration, minimumGeneration: minimumGeneration,
            zeroRunLimit: zeroRunLimit, latestOfStream: latestOfStream)
        // Whatever the look concluded, it looked at bytes the writer was changing (a finished
        // record's payload with a zero sector passed for a power loss's torn write).
        if finished() { return nil }
        return verdict
    }

    /// Whether the bytes at `end`, which did not decode when the scan met them, are now a
    /// valid record by every rule a scan applies without stream state: a live writer
    /// finished writing it meanwhile, and the log simply ended there for that look.
    static func finishedSince(
        _ file: UnsafeRawBufferPointer, at end: UInt64, headerGeneration: UInt32, minimumGeneration: UInt32
    ) -> Bool {
        guard case .record(let record) = decodeRecord(in: file, at: end, maxGeneration: headerGeneration) else {
            return false
        }
        return record.generation >= minimumGeneration
    }

    /// The aligned size the record header at `offset` claims, if its fixed fields are
    /// believable and the record fits the file; nil otherwise.
    static func claimedExtent(_ file: UnsafeRawBufferPointer, at offset: UInt64) -> UInt64? {
        guard plausibleHeader(file, at: offset, minimumGeneration: 1) else { return nil }
        let bodyLength: UInt32 = UnsafeRawBufferPointer(rebasing: file[Int(offset)...]).le(RecordField.bodyLength)
        return UInt64(Layout.aligned(RecordField.size + Int(bodyLength)))
    }

    /// The first offset in `start ..< limit` holding an intact record of at least
    /// `minimumGeneration` that continues the log before `end`: its `previous` is its
    /// stream's latest record there, or `end` itself (the record the damage hit was its
    /// stream's latest). Record-shaped bytes in a payload almost never are.
    static func firstLinkedRecord(
        _ file: UnsafeRawBufferPointer, from start: UInt64, before limit: UInt64, end: UInt64,
        minimumGeneration: UInt32, latestOfStream: (UInt32) -> UInt64?
    ) -> (UInt64, UInt32)? {
        var candidate = start
        while candidate < limit {
            if plausibleHeader(file, at: candidate, minimumGeneration: minimumGeneration),
                case .record(let record) = decodeRecord(in: file, at: candidate, maxGeneration: .max),
                record.stream != 0, record.previous != 0,
                record.previous == end || record.previous == latestOfStream(record.stream)
            {
                return (candidate, record.generation)
            }
            candidate += UInt64(Layout.recordAlignment)
        }
        return nil
    }

    /// The first offset at or after `start` (8-byte aligned) holding an intact record of at
    /// least `minimumGeneration`, and that record's generation; nil when none comes before
    /// the end of the file or `zeroRunLimit` zero bytes in a row.
    static func firstIntactRecord(
        _ file: UnsafeRawBufferPointer, from start: UInt64, minimumGeneration: UInt32, zeroRunLimit: Int = zeroRunLimit
    ) -> (UInt64, UInt32)? {
        var candidate = Int(start)
        var zeros = 0
        while candidate + RecordField.size <= file.count {
            if file.loadUnaligned(fromByteOffset: candidate, as: UInt64.self) == 0 {
                zeros += Layout.recordAlignment
                if zeros >= zeroRunLimit { return nil }
            } else {
                zeros = 0
                if plausibleHeader(file, at: UInt64(candidate), minimumGeneration: minimumGeneration),
                    case .record(let record) = decodeRecord(in: file, at: UInt64(candidate), maxGeneration: .max)
                {
                    return (UInt64(candidate), record.generation)
                }
            }
            candidate += Layout.recordAlignment
        }
        return nil
    }

    /// Cheap checks before the checksum (FORMAT.md §5 rules 2, 4 and 7, and a generation in
    /// `max(1, minimumGeneration)...maxGeneration`), so that trying every offset never
    /// checksums garbage. Recovery's search and the salvage scanner (dump, repair) share it.
    static func plausibleHeader(
        _ file: UnsafeRawBufferPointer, at offset: UInt64, minimumGeneration: UInt32, maxGeneration: UInt32 = .max
    ) -> Bool {
        let start = Int(offset)
        guard start + RecordField.size <= file.count else { return false }
        let header = UnsafeRawBufferPointer(rebasing: file[start..<start + RecordField.size])
        let typeByte: UInt8 = header.le(RecordField.type)
        guard let type = RecordType(rawValue: typeByte) else { return false }
        let flags: UInt8 = header.le(RecordField.flags)
        let reserved: UInt16 = header.le(RecordField.reserved)
        let generation: UInt32 = header.le(RecordField.generation)
        let stream: UInt32 = header.le(RecordField.stream)
        let bodyLength: UInt32 = header.le(RecordField.bodyLength)
        return flags == 0 && reserved == 0 && generation >= max(1, minimumGeneration) && generation <= maxGeneration
            && type.isStreamScoped == (stream != 0) && Int(bodyLength) <= Layout.maxBodyLength
            && Layout.aligned(RecordField.size + Int(bodyLength)) <= file.count - start
    }

    /// Whether the bytes from `start` (the end of the log) to the intact record at `end` show
    /// a sector a power loss never wrote: a whole aligned sector of zeros between them, or
    /// zeros from `start` to the end of its own sector. The second is the log ending at zeros
    /// inside the sector the last sync wrote (its zeros were never written over, and the
    /// sectors after it were): with only the first, a power loss that kept a later page but
    /// not the new version of the synced end's page was damage whenever the end lay in the
    /// page's last 512 bytes (found by a review). Invalid bytes at `start` mean its sector
    /// was written, so only the first applies to them.
    static func neverWritten(_ file: UnsafeRawBufferPointer, from start: UInt64, to end: UInt64) -> Bool {
        if hasZeroSector(file, from: start, to: end) { return true }
        let boundary = (start / UInt64(sectorSize) + 1) * UInt64(sectorSize)
        guard boundary <= end, boundary <= UInt64(file.count) else { return false }
        return file[Int(start)..<Int(boundary)].allSatisfy { $0 == 0 }
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
