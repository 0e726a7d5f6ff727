/// Little-endian encoding into a growable byte array (snapshots and small record bodies).
struct ByteWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) { integer(value) }
    mutating func u32(_ value: UInt32) { integer(value) }
    mutating func u64(_ value: UInt64) { integer(value) }
    mutating func i64(_ value: Int64) { integer(UInt64(bitPattern: value)) }

    @inline(__always)
    private mutating func integer<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// A UTF-8 string with a 16-bit length prefix.
    mutating func string16(_ value: String) {
        let utf8 = Array(value.utf8)
        u16(UInt16(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// A UTF-8 string with a 32-bit length prefix.
    mutating func string32(_ value: String) {
        let utf8 = Array(value.utf8)
        u32(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }
}

/// Why a body did not decode: the offset is relative to the start of the body.
struct DecodeError: Error, Sendable {
    let offset: Int
    let detail: String
}

/// Bounds-checked little-endian decoding from a byte buffer.
struct ByteReader {
    let buffer: UnsafeRawBufferPointer
    private(set) var position = 0

    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    var remaining: Int { buffer.count - position }
    var isAtEnd: Bool { position == buffer.count }

    mutating func u8() throws(DecodeError) -> UInt8 { try integer() }
    mutating func u16() throws(DecodeError) -> UInt16 { try integer() }
    mutating func u32() throws(DecodeError) -> UInt32 { try integer() }
    mutating func u64() throws(DecodeError) -> UInt64 { try integer() }
    mutating func i64() throws(DecodeError) -> Int64 { Int64(bitPattern: try integer() as UInt64) }

    @inline(__always)
    private mutating func integer<T: FixedWidthInteger>() throws(DecodeError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else {
            throw DecodeError(offset: position, detail: "truncated: needs \(size) bytes, has \(remaining)")
        }
        let value = buffer.loadUnaligned(fromByteOffset: position, as: T.self)
        position += size
        return T(littleEndian: value)
    }

    /// `count` raw bytes.
    mutating func bytes(_ count: Int) throws(DecodeError) -> UnsafeRawBufferPointer {
        guard count >= 0, remaining >= count else {
            throw DecodeError(offset: position, detail: "truncated: needs \(count) bytes, has \(remaining)")
        }
        let slice = UnsafeRawBufferPointer(rebasing: buffer[position..<position + count])
        position += count
        return slice
    }

    /// A UTF-8 string with a 16-bit length prefix; invalid UTF-8 is an error.
    mutating func string16() throws(DecodeError) -> String {
        let count = Int(try u16())
        return try utf8(count)
    }

    /// A UTF-8 string with a 32-bit length prefix; invalid UTF-8 is an error.
    mutating func string32() throws(DecodeError) -> String {
        let count = Int(try u32())
        return try utf8(count)
    }

    private mutating func utf8(_ count: Int) throws(DecodeError) -> String {
        let start = position
        let raw = try bytes(count)
        // ASCII, by far the usual content (ids, metadata), is valid UTF-8 as it is: checked
        // with one loop, it skips the generic validating initializer, whose metadata lookups
        // cost more than the check on every string of a snapshot.
        if raw.allSatisfy({ $0 < 0x80 }) {
            return raw.withMemoryRebound(to: UInt8.self) { String(decoding: $0, as: UTF8.self) }
        }
        guard let string = String(validating: raw, as: UTF8.self) else {
            throw DecodeError(offset: start, detail: "string is not valid UTF-8")
        }
        return string
    }
}

extension UnsafeRawBufferPointer {
    /// Little-endian integer at a byte offset (unaligned allowed).
    @inline(__always)
    func le<T: FixedWidthInteger>(_ field: Field, as type: T.Type = T.self) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: field.offset, as: T.self))
    }
}

extension UnsafeMutableRawPointer {
    /// Stores a little-endian integer at a field's offset.
    @inline(__always)
    func storeLE<T: FixedWidthInteger>(_ value: T, _ field: Field) {
        storeBytes(of: value.littleEndian, toByteOffset: field.offset, as: T.self)
    }
}

extension Array where Element == UInt8 {
    /// `withUnsafeBytes` that keeps the body's typed error (the standard one rethrows
    /// `any Error`).
    @inline(__always)
    func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        var result: Result<R, E>?
        withUnsafeBytes { raw in result = Result { () throws(E) in try body(raw) } }
        return try result!.get()
    }
}

extension String {
    /// The string's UTF-8 bytes to `body`, keeping the body's typed error (`withUTF8`
    /// rethrows `any Error`). Copies only a string that is not already contiguous UTF-8.
    @inline(__always)
    func withUTF8Bytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        var text = self
        var result: Result<R, E>?
        text.withUTF8 { utf8 in result = Result { () throws(E) in try body(UnsafeRawBufferPointer(utf8)) } }
        return try result!.get()
    }
}
