/// The body of a stream-open record: the id and the metadata (FORMAT.md, "Stream open").
struct StreamOpenBody: Equatable, Sendable {
    var id: String
    var metadata: [String: String]

    /// Longest encoded metadata accepted at creation.
    static let maxMetadataBytes = 64 * 1024

    /// The length `encoded()` would return, computed without encoding: what the writer checks
    /// against `maxMetadataBytes` first, since a pair count or key length beyond 16 bits
    /// cannot be encoded at all (it trapped, so one HTTP request with 65,536 keys killed
    /// the server).
    static func encodedLength(id: String, metadata: [String: String]) -> Int {
        metadata.reduce(4 + id.utf8.count) { $0 + 6 + $1.key.utf8.count + $1.value.utf8.count }
    }

    /// `u16 idLength, id, u16 pairCount, pairCount × (u16 keyLength, key, u32 valueLength, value)`;
    /// pairs sorted by key bytes, so a dictionary encodes to the same bytes whatever its
    /// iteration order. Only for bodies within `maxMetadataBytes` (`encodedLength`), whose
    /// counts and lengths all fit their fields.
    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 4 + id.utf8.count + metadata.count * 32)
        writer.string16(id)
        writer.u16(UInt16(metadata.count))
        for key in Self.keysInByteOrder(metadata) {
            writer.string16(key)
            writer.string32(metadata[key]!)
        }
        return writer.bytes
    }

    /// The keys of `metadata` sorted by their UTF-8 bytes, the order FORMAT.md §6.1 names.
    /// Swift's `String` ordering compares canonical (normalized) forms, which for keys that
    /// are not in NFC differs from the byte order a reader in another language would check.
    static func keysInByteOrder(_ metadata: [String: String]) -> [String] {
        metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    static func decode(_ body: UnsafeRawBufferPointer) throws(DecodeError) -> StreamOpenBody {
        var reader = ByteReader(body)
        let id = try reader.string16()
        let count = Int(try reader.u16())
        var metadata: [String: String] = [:]
        for _ in 0..<count {
            let key = try reader.string16()
            metadata[key] = try reader.string32()
        }
        guard reader.isAtEnd else {
            throw DecodeError(
                offset: reader.position, detail: "\(reader.remaining) unexpected bytes after the metadata")
        }
        return StreamOpenBody(id: id, metadata: metadata)
    }
}
