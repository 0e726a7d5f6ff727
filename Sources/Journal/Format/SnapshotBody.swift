/// The body of an index-snapshot record (FORMAT.md, "Index snapshot"): the complete stream
/// table as of the snapshot record's own offset. Derived data: the log alone can rebuild it.
struct SnapshotBody: Sendable {
    /// The offset of the snapshot record itself; the state covers every record before it.
    var logEnd: UInt64
    var highestStreamNumber: UInt32
    var streams: [StreamEntry]

    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 32 + streams.count * 160)
        writer.u64(logEnd)
        writer.u32(highestStreamNumber)
        writer.u32(UInt32(streams.count))
        for entry in streams {
            writer.u32(entry.number)
            writer.u8(entry.status.code)
            writer.u8(entry.reason == nil ? 0 : 1)
            writer.u16(0)
            writer.u32(entry.chunkCount)
            writer.u64(entry.byteCount)
            writer.u64(entry.recordBytes)
            writer.u64(entry.openOffset)
            writer.u64(entry.lastOffset)
            writer.i64(entry.createdAt)
            writer.i64(entry.updatedAt)
            writer.i64(entry.finishedAt)
            writer.string16(entry.id.rawValue)
            writer.u16(UInt16(entry.metadata.count))
            for key in StreamOpenBody.keysInByteOrder(entry.metadata) {
                writer.string16(key)
                writer.string32(entry.metadata[key]!)
            }
            if let reason = entry.reason { writer.string32(reason) }
            writer.u32(UInt32(entry.blockStarts.count))
            for start in entry.blockStarts { writer.u64(start) }
        }
        return writer.bytes
    }

    /// Decodes and checks internal consistency (block counts, offsets below `logEnd`).
    static func decode(_ body: UnsafeRawBufferPointer) throws(DecodeError) -> SnapshotBody {
        var reader = ByteReader(body)
        let logEnd = try reader.u64()
        let highest = try reader.u32()
        let count = Int(try reader.u32())
        var streams: [StreamEntry] = []
        streams.reserveCapacity(min(count, body.count / 64))
        // Every stream's records lie in the log before the snapshot, without overlapping, so
        // the record bytes of all of them fit in it; checked so that no sum of counts from a
        // damaged snapshot can overflow.
        var recordBytesLeft = logEnd >= Layout.logStart ? logEnd - Layout.logStart : 0
        for _ in 0..<count {
            let at = reader.position
            let number = try reader.u32()
            let statusCode = try reader.u8()
            let hasReason = try reader.u8()
            let reserved = try reader.u16()
            let chunkCount = try reader.u32()
            let byteCount = try reader.u64()
            let recordBytes = try reader.u64()
            let openOffset = try reader.u64()
            let lastOffset = try reader.u64()
            let createdAt = try reader.i64()
            let updatedAt = try reader.i64()
            let finishedAt = try reader.i64()
            let id = try reader.string16()
            let pairs = Int(try reader.u16())
            var metadata: [String: String] = [:]
            for _ in 0..<pairs {
                let key = try reader.string16()
                metadata[key] = try reader.string32()
            }
            let written = hasReason != 0 ? try reader.string32() : nil
            // Earlier writers wrote "" for a reason given as ""; the log says none (`noteFinish`).
            let reason = written?.isEmpty == false ? written : nil
            let blockCount = Int(try reader.u32())
            let expectedBlocks = (Int(chunkCount) + Layout.chunksPerBlock - 1) / Layout.chunksPerBlock
            guard blockCount == expectedBlocks, reader.remaining >= blockCount * 8 else {
                throw DecodeError(
                    offset: at, detail: "stream \(number) has \(blockCount) blocks for \(chunkCount) chunks")
            }
            var blockStarts: [UInt64] = []
            blockStarts.reserveCapacity(blockCount)
            for _ in 0..<blockCount { blockStarts.append(try reader.u64()) }
            guard let status = StreamStatus(code: statusCode), hasReason <= 1, reserved == 0, number != 0,
                number <= highest,
                StreamID.problem(with: id) == nil,
                openOffset >= Layout.logStart, openOffset <= lastOffset, lastOffset < logEnd,
                blockStarts.allSatisfy({ $0 > openOffset && $0 <= lastOffset })
            else {
                throw DecodeError(offset: at, detail: "stream entry \(number) is inconsistent")
            }
            // Each record is at least a header: the open record and one per chunk.
            guard recordBytes <= recordBytesLeft, byteCount <= recordBytes,
                (UInt64(chunkCount) + 1) * UInt64(RecordField.size) <= recordBytes
            else {
                throw DecodeError(
                    offset: at, detail: "stream entry \(number) claims more bytes than the log before it holds")
            }
            recordBytesLeft -= recordBytes
            streams.append(
                StreamEntry(
                    id: StreamID(trusted: id), number: number, status: status, metadata: metadata,
                    openOffset: openOffset, lastOffset: lastOffset, chunkCount: chunkCount,
                    byteCount: byteCount, recordBytes: recordBytes, createdAt: createdAt, updatedAt: updatedAt,
                    finishedAt: finishedAt,
                    reason: reason, blockStarts: blockStarts))
        }
        guard reader.isAtEnd else {
            throw DecodeError(offset: reader.position, detail: "\(reader.remaining) unexpected bytes at the end")
        }
        return SnapshotBody(logEnd: logEnd, highestStreamNumber: highest, streams: streams)
    }
}
