// The data both stores are given: stream ids and chunk bodies, identical for the two sides.

/// xorshift64, the generator sqlite_bench.c uses for its nanoids (same seed, same sequence).
struct XorShift64 {
    /// Current state; never zero.
    var state: UInt64

    /// A generator with sqlite_bench.c's seed, or another non-zero one.
    init(seed: UInt64 = 0x9E37_79B9_7F4A_7C15) { state = seed == 0 ? 1 : seed }

    /// The next value.
    @inline(__always)
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }

    /// Writes a 21-character nanoid (nanoid's URL-safe alphabet) to `out`, as ResumableStream
    /// does for every stream, request and (in the row layout) chunk id.
    @inline(__always)
    mutating func nanoid(into out: UnsafeMutablePointer<UInt8>) {
        for i in 0..<NanoID.length { out[i] = NanoID.alphabet[Int(next() & 63)] }
    }

    /// A nanoid as a String.
    mutating func nanoid() -> String {
        var bytes = [UInt8](repeating: 0, count: NanoID.length)
        bytes.withUnsafeMutableBufferPointer { nanoid(into: $0.baseAddress!) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// nanoid's constants. The alphabet is A-Z a-z 0-9 _ -, all valid in a `StreamID`.
enum NanoID {
    /// Characters per id.
    static let length = 21
    /// The 64 symbols, in nanoid's order.
    static let alphabet: [UInt8] = Array("useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict".utf8)
}

/// Stream ids (nanoids) for `count` streams, kept in one buffer that never moves so SQLite
/// can bind them without copying.
final class StreamIDTable: @unchecked Sendable {
    /// Number of ids.
    let count: Int
    private let storage: UnsafeMutablePointer<UInt8>

    /// `count` fresh ids drawn from `rng`.
    init(count: Int, rng: inout XorShift64) {
        self.count = count
        storage = .allocate(capacity: max(1, count * NanoID.length))
        for i in 0..<count { rng.nanoid(into: storage + i * NanoID.length) }
    }

    deinit { storage.deallocate() }

    /// The id of stream `i`, as bytes.
    @inline(__always)
    func bytes(_ i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage + i * NanoID.length, count: NanoID.length)
    }

    /// The id of stream `i`, as a String.
    func string(_ i: Int) -> String { String(decoding: bytes(i), as: UTF8.self) }
}

/// The chunk bodies of a workload: `body(stream:index:)` is the same bytes for both stores.
/// Bodies live in one buffer that never moves; a body is a view into it (no allocation per
/// chunk, so the measurement is of the store, not of formatting).
final class BodySource: @unchecked Sendable {
    /// How the bodies are made.
    enum Kind {
        /// The ~40-byte AI SDK text-delta part of sqlite_bench.c's `make_body`:
        /// `{"type":"text-delta","delta":" fox123"}`, 36 to 41 bytes.
        case textDelta
        /// Printable filler of exactly this many bytes (1 KiB and 64 KiB workloads).
        case filler(Int)
    }

    /// What kind of bodies.
    let kind: Kind
    private let storage: UnsafeMutableRawPointer
    private let capacity: Int
    /// For `textDelta`: start and length of body (word, number) at `word * 1000 + number`.
    private var starts: [Int32] = []
    private var lengths: [Int32] = []

    /// The bodies of `kind`.
    init(_ kind: Kind) {
        self.kind = kind
        switch kind {
        case .textDelta:
            let words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "stream", "token"]
            var all: [UInt8] = []
            for word in 0..<10 {
                for number in 0..<1000 {
                    let text = "{\"type\":\"text-delta\",\"delta\":\" \(words[word])\(number)\"}"
                    starts.append(Int32(all.count))
                    lengths.append(Int32(text.utf8.count))
                    all.append(contentsOf: text.utf8)
                }
            }
            capacity = all.count
            storage = .allocate(byteCount: capacity, alignment: 16)
            all.withUnsafeBytes { storage.copyMemory(from: $0.baseAddress!, byteCount: capacity) }
        case .filler(let size):
            // Letters and digits only: valid text for SQLite's `body text` column and needs no
            // escaping in the packed layout's JSON array.
            capacity = size + 4096
            storage = .allocate(byteCount: capacity, alignment: 16)
            let symbols = NanoID.alphabet.filter { $0 != UInt8(ascii: "-") && $0 != UInt8(ascii: "_") }
            var rng = XorShift64(seed: 42)
            for i in 0..<capacity {
                storage.storeBytes(
                    of: symbols[Int(rng.next() % UInt64(symbols.count))], toByteOffset: i, as: UInt8.self)
            }
        }
    }

    deinit { storage.deallocate() }

    /// Body of chunk `index` of stream `stream`. For text deltas this is sqlite_bench.c's
    /// `make_body(s, i)`: word `(s + i) % 10`, number `i % 1000`.
    @inline(__always)
    func body(stream: Int, index: Int) -> UnsafeRawBufferPointer {
        switch kind {
        case .textDelta:
            let key = ((stream + index) % 10) * 1000 + index % 1000
            return UnsafeRawBufferPointer(start: storage + Int(starts[key]), count: Int(lengths[key]))
        case .filler(let size):
            let offset = (stream &* 131 &+ index &* 7) % 4096
            return UnsafeRawBufferPointer(start: storage + offset, count: size)
        }
    }

    /// A short name for table rows: "40 B" or "1 KiB".
    var label: String {
        switch kind {
        case .textDelta: return "40 B"
        case .filler(let size): return size >= 1024 ? "\(size / 1024) KiB" : "\(size) B"
        }
    }
}

/// What a replay folds every chunk into, so that a store returning wrong bytes, a wrong
/// count or a wrong order is caught (and so the compiler cannot skip the reads).
struct ReplayDigest: Equatable {
    /// Chunks seen.
    var chunks = 0
    /// Payload bytes seen.
    var bytes = 0
    /// Sum over chunks of (first byte + last byte + index).
    var sum: UInt64 = 0

    /// Folds in one chunk.
    @inline(__always)
    mutating func add(_ body: UnsafeRawBufferPointer, index: Int) {
        chunks += 1
        bytes += body.count
        if body.count > 0 { sum &+= UInt64(body[0]) &+ UInt64(body[body.count - 1]) }
        sum &+= UInt64(index)
    }

    /// The digest a correct replay of chunks `from..<to` of streams `streams` produces.
    static func expected(_ bodies: BodySource, streams: Range<Int>, chunks: Range<Int>) -> ReplayDigest {
        var digest = ReplayDigest()
        for s in streams {
            for i in chunks { digest.add(bodies.body(stream: s, index: i), index: i) }
        }
        return digest
    }
}
