/// The bytes the writer appends as chunk `index` of a stream, computed from the stream's id
/// and the index alone. The parent needs no copy of what was written: a stored chunk is
/// right exactly when its bytes equal `Payload.bytes(stream:index:)`, so a chunk that was
/// never attempted, landed at another index or in another stream, or was torn, cannot match.
enum Payload {
    /// Chunk `index` of `stream`: the readable prefix `"<stream>#<index>|"` (so a misplaced
    /// chunk says where it belongs), then filler from a generator seeded by both. Lengths
    /// are mostly LLM-token sized, with rare chunks of kilobytes and of tens of kilobytes so
    /// records straddle pages and force the file to grow mid-append.
    static func bytes(stream: String, index: Int) -> [UInt8] {
        var generator = SeededGenerator(seed: fnv1a(stream) ^ (UInt64(index) &* 0xD6E8_FEB8_6659_FD93))
        let prefix = Array("\(stream)#\(index)|".utf8)
        let roll = generator.next() % 1000
        let filler: Int
        switch roll {
        case 0..<750: filler = Int(generator.next() % 48)
        case 750..<975: filler = 48 + Int(generator.next() % 700)
        case 975..<999: filler = 1024 + Int(generator.next() % 12_000)
        default: filler = 16_384 + Int(generator.next() % 80_000)
        }
        var bytes = prefix
        bytes.reserveCapacity(prefix.count + filler)
        var word: UInt64 = 0
        for position in 0..<filler {
            if position % 8 == 0 { word = generator.next() }
            bytes.append(UInt8(truncatingIfNeeded: word >> UInt64((position % 8) * 8)))
        }
        return bytes
    }

    /// A short description of stored bytes for a violation message: their length and, when
    /// they start with a payload prefix, which stream and index they were written for.
    static func describe(_ bytes: [UInt8]) -> String {
        let prefix = bytes.prefix(160).prefix { $0 != UInt8(ascii: "|") }
        let printable = prefix.allSatisfy { $0 >= 0x21 && $0 < 0x7F }
        if printable, prefix.count < bytes.count, prefix.contains(UInt8(ascii: "#")) {
            return "\(bytes.count) bytes written as chunk \"\(String(decoding: prefix, as: UTF8.self))\""
        }
        let head = bytes.prefix(16).map { String($0, radix: 16) }.joined(separator: " ")
        return "\(bytes.count) bytes not from any payload (first bytes: \(head))"
    }

    /// FNV-1a of the id's UTF-8: a stable seed (Swift's `Hasher` is randomised per process).
    private static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return hash
    }
}
