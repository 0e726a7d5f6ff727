/// Durations and byte sizes as operators type them: `500ms`, `30s`, `5m`, `2h`, `64KiB`.
enum DurationText {
    /// Parses `<digits><unit>` with unit `us`, `ms`, `s`, `m`, `h` or `d`; a bare number is seconds.
    /// Nil for anything else, negative values or values that overflow.
    static func parse(_ text: String) -> Duration? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 12, let value = Int64(digits) else { return nil }
        let microseconds: Int64
        switch text.dropFirst(digits.count) {
        case "us": microseconds = 1
        case "ms": microseconds = 1000
        case "s", "": microseconds = 1_000_000
        case "m": microseconds = 60_000_000
        case "h": microseconds = 3_600_000_000
        case "d": microseconds = 86_400_000_000
        default: return nil
        }
        // In range as microseconds, so every later conversion (the retention sweep's cutoff,
        // `format`) is exact instead of trapping: 999999999999d would not be.
        let (total, overflow) = value.multipliedReportingOverflow(by: microseconds)
        return overflow ? nil : .microseconds(total)
    }

    /// `500ms`, `30s`, `5m`: the largest unit that represents `duration` exactly.
    static func format(_ duration: Duration) -> String {
        let micros = duration.microseconds
        if micros % 3_600_000_000 == 0 && micros != 0 { return "\(micros / 3_600_000_000)h" }
        if micros % 60_000_000 == 0 && micros != 0 { return "\(micros / 60_000_000)m" }
        if micros % 1_000_000 == 0 { return "\(micros / 1_000_000)s" }
        if micros % 1000 == 0 { return "\(micros / 1000)ms" }
        return "\(micros)us"
    }

    /// Parses a byte count: digits with an optional `KiB`, `MiB`, `GiB` (or `K`, `M`, `G`)
    /// suffix, powers of 1024; nil also when the product does not fit in an `Int` (a shift
    /// would drop the high bits: 17179869184G became 0).
    static func parseBytes(_ text: String) -> Int? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 12, let value = Int(digits) else { return nil }
        let shift: Int
        switch text.dropFirst(digits.count) {
        case "", "B": shift = 0
        case "K", "KiB", "k": shift = 10
        case "M", "MiB": shift = 20
        case "G", "GiB": shift = 30
        default: return nil
        }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: 1 << shift)
        return overflow ? nil : bytes
    }
}

extension Duration {
    /// Whole microseconds, truncated.
    var microseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }

    /// Whole nanoseconds, truncated, saturating at `UInt64.max` (negative becomes 0).
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        let (product, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        return product + UInt64(attoseconds / 1_000_000_000)
    }
}
