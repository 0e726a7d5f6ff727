import CJournal
import Testing

@testable import Journal

/// The pure format layer: checksums, header slots, records and bodies, byte for byte.
@Suite struct FormatTests {
    @Test func crc32cMatchesPublishedVectors() {
        // RFC 3720 appendix B.4, and the "123456789" check value of the Castagnoli CRC.
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }) == 0x113F_DB5C)
        #expect(CRC32C.checksum([]) == 0)
    }

    @Test func crc32cHardwareAndTableAgreeAtEveryLengthAndSeed() {
        let data = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        data.withUnsafeBytes { raw in
            for length in 0...raw.count {
                let slice = UnsafeRawBufferPointer(rebasing: raw[0..<length])
                #expect(
                    cj_crc32c(0, slice.baseAddress, length) == cj_crc32c_portable(0, slice.baseAddress, length))
            }
            // Continuing a checksum equals checksumming the concatenation.
            let whole = CRC32C.checksum(raw)
            let first = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<101]))
            #expect(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[101...]), seed: first) == whole)
        }
    }

    static func sampleHeader() -> FileHeader {
        FileHeader(
            journalID: Array(1...16), sequence: 7, generation: 3, writerPID: 4242, createdAt: 1_700_000_000_000_000,
            updatedAt: 1_700_000_000_123_456, checkpointEnd: 16384, snapshotOffset: 8192, snapshotLength: 96)
    }

    @Test func headerRoundTripsAndEveryMeaningfulByteIsChecked() {
        let header = Self.sampleHeader()
        let slot = header.encoded()
        #expect(slot.count == Layout.headerSlotSize)
        #expect(Array(slot[0..<8]) == Layout.magic)
        slot.withUnsafeBytes { #expect(FileHeader.decode($0) == .valid(header)) }
        for byte in Layout.magic.count..<HeaderField.size {
            var damaged = slot
            damaged[byte] ^= 0x10
            damaged.withUnsafeBytes { raw in
                switch FileHeader.decode(raw) {
                case .valid: Issue.record("flip at header byte \(byte) went unnoticed")
                default: break
                }
            }
        }
    }

    @Test func headerRejectsForeignNewerAndDamagedSlots() {
        var slot = Self.sampleHeader().encoded()
        var text = Array("hello, this is not a journal at all".utf8)
        text.withUnsafeBytes { #expect(FileHeader.decode($0) == .notAJournal) }
        text.removeAll()
        text.withUnsafeBytes { #expect(FileHeader.decode($0) == .notAJournal) }
        slot.withUnsafeMutableBytes { $0.baseAddress!.storeLE(UInt32(2), HeaderField.version) }
        slot.withUnsafeBytes { #expect(FileHeader.decode($0) == .unsupportedVersion(2)) }
        var truncated = Self.sampleHeader().encoded()
        truncated.removeLast(Layout.headerSlotSize - 40)
        truncated.withUnsafeBytes { #expect(FileHeader.decode($0) == .invalid("slot is truncated")) }
    }

    static func record(_ type: RecordType, body: [UInt8]) -> RecordHeader {
        RecordHeader(
            type: type, bodyLength: UInt32(body.count), generation: 2, stream: type.isStreamScoped ? 5 : 0,
            chunkIndex: 9, timestamp: 1_700_000_000_000_001, previous: type.isStreamScoped ? 8192 : 0)
    }

    @Test(arguments: RecordType.allCases)
    func everyRecordTypeRoundTrips(type: RecordType) {
        for body: [UInt8] in [
            [], [0x41], Array(repeating: 0xAB, count: 7), Array(repeating: 0, count: 8), Array(0...200),
        ] {
            let header = Self.record(type, body: body)
            let bytes = header.encoded(body: body)
            #expect(bytes.count == Layout.aligned(RecordField.size + body.count))
            #expect(bytes.count % Layout.recordAlignment == 0)
            bytes.withUnsafeBytes { raw in
                #expect(decodeRecord(in: raw, at: 0, maxGeneration: 2) == .record(header))
                #expect(Array(raw[RecordField.size..<RecordField.size + body.count]) == body)
                // A record from a generation newer than the header's is not trusted.
                #expect(decodeRecord(in: raw, at: 0, maxGeneration: 1) != .record(header))
            }
        }
    }

    @Test func recordVerdictsForEndTornAndDamagedBytes() {
        let body = Array("payload".utf8)
        let bytes = Self.record(.chunk, body: body).encoded(body: body)
        let zeros = [UInt8](repeating: 0, count: 64)
        zeros.withUnsafeBytes { #expect(decodeRecord(in: $0, at: 0, maxGeneration: 9) == .end) }
        bytes.withUnsafeBytes { #expect(decodeRecord(in: $0, at: UInt64(bytes.count), maxGeneration: 9) == .end) }
        for cut in 1..<bytes.count {
            let prefix = Array(bytes[0..<cut])
            prefix.withUnsafeBytes { raw in
                guard case .invalid = decodeRecord(in: raw, at: 0, maxGeneration: 9) else {
                    Issue.record("a record cut at \(cut) bytes was not invalid")
                    return
                }
            }
        }
        for bit in 0..<(bytes.count * 8) {
            var damaged = bytes
            damaged[bit / 8] ^= UInt8(1 << (bit % 8))
            damaged.withUnsafeBytes { raw in
                if case .record = decodeRecord(in: raw, at: 0, maxGeneration: 9) {
                    Issue.record("bit \(bit) flipped went unnoticed")
                }
            }
        }
    }

    @Test func streamOpenBodyRoundTripsWithSortedMetadata() throws {
        let body = StreamOpenBody(id: "chat-1", metadata: ["z": "last", "a": "first", "ü": "ünïcode", "": ""])
        let bytes = body.encoded()
        let decoded = try bytes.withUnsafeBytes { try StreamOpenBody.decode($0) }
        #expect(decoded == body)
        #expect(
            StreamOpenBody(id: "chat-1", metadata: ["a": "first", "z": "last", "ü": "ünïcode", "": ""]).encoded()
                == bytes)
        let trailing = bytes + [0]
        #expect(throws: DecodeError.self) { try trailing.withUnsafeBytes { try StreamOpenBody.decode($0) } }
        let cut = Array(bytes.dropLast())
        #expect(throws: DecodeError.self) { try cut.withUnsafeBytes { try StreamOpenBody.decode($0) } }
    }

    /// FORMAT.md §6.1 sorts metadata by key bytes. Swift orders strings by their normalized
    /// form, so a decomposed "e\u{301}" (bytes 65 CC 81) sorted after "f" (66) as "é" would;
    /// the stream-open and snapshot encoders must both put it first.
    @Test func metadataIsWrittenInKeyByteOrderNotSwiftStringOrder() {
        let metadata = ["f": "1", "e\u{301}": "2"]
        #expect(StreamOpenBody.keysInByteOrder(metadata).map { Array($0.utf8) } == [[0x65, 0xCC, 0x81], [0x66]])
        let open = StreamOpenBody(id: "m", metadata: metadata).encoded()
        // str16 id "m" (3 bytes), u16 pair count, then str16 of the first key.
        #expect(Array(open[5..<10]) == [3, 0, 0x65, 0xCC, 0x81])
        let entry = StreamEntry(
            id: StreamID(trusted: "m"), number: 1, status: .open, metadata: metadata, openOffset: 8192,
            lastOffset: 8192, chunkCount: 0, byteCount: 0, recordBytes: 48, createdAt: 1, updatedAt: 1,
            finishedAt: 0, reason: nil, blockStarts: [])
        let snapshot = SnapshotBody(logEnd: 8240, highestStreamNumber: 1, streams: [entry]).encoded()
        let firstKey: [UInt8] = [3, 0, 0x65, 0xCC, 0x81]
        let secondKey: [UInt8] = [1, 0, 0x66]
        let first = snapshot.indices.first { Array(snapshot[$0...].prefix(5)) == firstKey }
        let second = snapshot.indices.first { Array(snapshot[$0...].prefix(3)) == secondKey }
        #expect(first != nil && second != nil && first! < second!)
    }

    @Test func snapshotBodyRoundTrips() throws {
        let entries = [
            StreamEntry(
                id: StreamID(trusted: "a"), number: 1, status: .completed, metadata: ["k": "v"], openOffset: 8192,
                lastOffset: 9000, chunkCount: 65, byteCount: 650, recordBytes: 5000, createdAt: 1, updatedAt: 2,
                finishedAt: 2,
                reason: nil,
                blockStarts: [8300, 8900]),
            StreamEntry(
                id: StreamID(trusted: "b"), number: 3, status: .failed, metadata: [:], openOffset: 9100,
                lastOffset: 9200, chunkCount: 0, byteCount: 0, recordBytes: 100, createdAt: 3, updatedAt: 4,
                finishedAt: 4,
                reason: "model overloaded", blockStarts: []),
        ]
        // The log before the snapshot must hold the streams' 5,100 record bytes.
        let body = SnapshotBody(logEnd: 20000, highestStreamNumber: 4, streams: entries)
        let decoded = try body.encoded().withUnsafeBytes { try SnapshotBody.decode($0) }
        #expect(decoded.logEnd == 20000)
        #expect(decoded.highestStreamNumber == 4)
        #expect(decoded.streams == entries)
        var inconsistent = entries
        inconsistent[0].blockStarts = [8300]  // 65 chunks need two blocks
        let bad = SnapshotBody(logEnd: 20000, highestStreamNumber: 4, streams: inconsistent).encoded()
        #expect(throws: DecodeError.self) { try bad.withUnsafeBytes { try SnapshotBody.decode($0) } }
    }

    /// Each ASCII byte between two letters: accepted exactly when the documented set has it
    /// (the check reads two 64-bit masks, so a wrong bit would pass or refuse one character).
    @Test func streamIDAcceptsExactlyTheDocumentedCharacters() {
        let documented = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~:@+=-".utf8)
        for byte in UInt8(0)...UInt8(127) {
            let text = "x" + String(Unicode.Scalar(byte)) + "x"
            #expect((StreamID.problem(with: text) == nil) == documented.contains(byte), "byte \(byte)")
        }
    }

    @Test func streamIDRulesAcceptURLSafeNamesAndExplainRejections() throws {
        for good in ["a", "chat-42", "A.b_c~d:e@f+g=h", ".a", "a.", "a.b.c", ".-.", String(repeating: "x", count: 128)]
        {
            #expect(StreamID.problem(with: good) == nil)
            #expect(try StreamID(good).rawValue == good)
        }
        let bad: [(String, String)] = [
            ("", "empty"), ("..", ".."), ("a..b", ".."), (".", ".."), ("a/b", "'/'"), ("a b", "0x20"),
            ("é", "non-ASCII"), (String(repeating: "x", count: 129), "129 bytes"), ("a\u{0}", "0x0"),
            ("...", ".."), ("a..", ".."), ("..a", ".."), ("x/..", ".."), ("a/b..", ".."), ("..\u{301}", ".."),
            ("a.b/", "'/'"),
        ]
        for (text, mention) in bad {
            let problem = StreamID.problem(with: text)
            #expect(problem?.contains(mention) == true, "\(text.debugDescription): \(problem ?? "accepted")")
            #expect(throws: JournalError.self) { try StreamID(text) }
        }
        let generated = StreamID.generate()
        #expect(StreamID.problem(with: generated.rawValue) == nil)
        #expect(generated != StreamID.generate())
    }
}
