/// Bytes accepted for a connection but not yet taken by its socket, with the bound that keeps
/// a slow reader from making the server buffer without limit.
///
/// An event stream refills only while `canRefill` (below a quarter of the limit), so a
/// subscriber that stops reading leaves at most `limit` plus one event here and simply lags
/// behind in the journal file. Storage is released whenever the buffer empties: an idle
/// connection holds no buffer at all.
struct OutputBuffer: Sendable {
    /// The high-water mark in bytes.
    let limit: Int
    private var bytes: [UInt8] = []
    private var offset = 0

    /// An empty buffer bounded by `limit`.
    init(limit: Int) {
        self.limit = limit
    }

    /// Bytes waiting.
    var count: Int { bytes.count - offset }

    /// Whether nothing waits.
    var isEmpty: Bool { offset == bytes.count }

    /// Below the low-water mark (a quarter of the limit): an event stream may add more.
    var canRefill: Bool { count < limit / 4 }

    /// At or above the limit: stop producing.
    var isFull: Bool { count >= limit }

    /// Queues bytes (callers check `isFull`/`canRefill` first; a single event may overshoot).
    mutating func append(_ data: UnsafeRawBufferPointer) {
        compactIfUseful()
        bytes.append(contentsOf: data)
    }

    /// Queues bytes from an array.
    mutating func append(_ data: [UInt8]) {
        data.withUnsafeBytes { append($0) }
    }

    /// Lets `body` write the waiting bytes; it returns how many it took.
    mutating func drain(_ body: (UnsafeRawBufferPointer) -> Int) {
        guard !isEmpty else { return }
        let taken = bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
        consume(taken)
    }

    /// Drops `count` written bytes from the front.
    mutating func consume(_ taken: Int) {
        offset += taken
        if offset >= bytes.count {
            bytes = []
            offset = 0
        }
    }

    /// Appends into the buffer's storage directly (an encoder writing events).
    mutating func withAppending<R, E: Error>(_ body: (inout [UInt8]) throws(E) -> R) throws(E) -> R {
        compactIfUseful()
        return try body(&bytes)
    }

    private mutating func compactIfUseful() {
        if offset > 0 && offset >= bytes.count / 2 {
            bytes.removeSubrange(0..<offset)
            offset = 0
        }
    }
}
