import CJournal

/// CRC-32C (Castagnoli), the checksum of every header slot and record.
public enum CRC32C {
    /// The checksum of `bytes`, continuing from `seed` (the result of an earlier call, or 0).
    @inline(__always)
    public static func checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress else { return seed }
        return cj_crc32c(seed, base, bytes.count)
    }

    /// The checksum of a byte array.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    /// Whether the SSE4.2 instruction is in use (benchmarks print it).
    public static var isHardwareAccelerated: Bool { cj_crc32c_hardware() != 0 }
}
