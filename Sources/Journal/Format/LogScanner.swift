/// Walks the log record by record, applying every rule that needs no stream state
/// (FORMAT.md, "Validity of a record", rules 1-7). Recovery, verify, the read-only
/// follower's refresh and the CLI's dump all use it, so they agree on what is valid.
struct LogScanner {
    /// What the next position holds.
    enum Step {
        /// A valid record at `offset` with its body.
        case record(RecordHeader, body: UnsafeRawBufferPointer, offset: UInt64)
        /// The log ends cleanly at this offset (zero bytes or end of file).
        case end(UInt64)
        /// The bytes at this offset are not a valid record.
        case invalid(UInt64, reason: String)
    }

    let log: UnsafeRawBufferPointer
    let maxGeneration: UInt32
    private(set) var offset: UInt64
    /// Generation of the last valid record; records may not go below it.
    private(set) var lastGeneration: UInt32

    init(log: UnsafeRawBufferPointer, from offset: UInt64, maxGeneration: UInt32, lastGeneration: UInt32 = 0) {
        self.log = log
        self.offset = offset
        self.maxGeneration = maxGeneration
        self.lastGeneration = lastGeneration
    }

    /// Decodes the record at the current offset and, when valid, moves past it.
    mutating func next() -> Step {
        switch decodeRecord(in: log, at: offset, maxGeneration: maxGeneration) {
        case .end:
            return .end(offset)
        case .invalid(let reason):
            return .invalid(offset, reason: reason)
        case .record(let header):
            guard header.generation >= lastGeneration else {
                return .invalid(
                    offset,
                    reason:
                        "generation \(header.generation) is below the previous record's \(lastGeneration) (left over from an earlier writer)"
                )
            }
            let at = offset
            let body = UnsafeRawBufferPointer(
                rebasing: log[Int(at) + RecordField.size..<Int(at) + RecordField.size + Int(header.bodyLength)])
            lastGeneration = header.generation
            offset += UInt64(header.alignedSize)
            return .record(header, body: body, offset: at)
        }
    }

    /// Moves to `offset` without reading (skipping a known-damaged snapshot).
    mutating func skip(to offset: UInt64) { self.offset = offset }
}
