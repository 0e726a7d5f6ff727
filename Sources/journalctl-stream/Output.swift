#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Standard output, buffered and written with `write(2)` so payload bytes go out exactly
/// (no text encoding on the way) and live commands can flush after every event.
@MainActor
final class Console {
    private var buffer: [UInt8] = []
    /// The last byte written, so text output can end its last line before a trailer.
    private(set) var lastByte: UInt8?

    /// Appends text.
    func write(_ text: String) {
        var text = text
        text.withUTF8 { write(UnsafeRawBufferPointer($0)) }
    }

    /// Appends text and a line feed.
    func line(_ text: String = "") {
        write(text)
        write("\n")
    }

    /// Appends bytes as they are.
    func write(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        buffer.append(contentsOf: bytes)
        lastByte = bytes.last
        if buffer.count >= 1 << 16 { flush() }
    }

    /// Appends bytes as they are.
    func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    /// Writes out what is buffered. A write error other than a closed pipe ends the process
    /// with status 1 (the reader of a closed pipe gets SIGPIPE's default: a quiet exit).
    func flush() {
        var done = 0
        while done < buffer.count {
            let written = buffer.withUnsafeBytes { raw in
                Glibc.write(1, raw.baseAddress! + done, raw.count - done)
            }
            if written < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                Console.error("cannot write to standard output: \(reason)")
                exit(1)
            }
            done += written
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// `journalctl-stream: <message>` on standard error.
    nonisolated static func error(_ message: String) {
        let line = Array("journalctl-stream: \(message)\n".utf8)
        _ = line.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }

    /// Lines on standard error, as they are (usage and hints).
    nonisolated static func standardError(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

/// A JSON value with keys kept in the order given, so output is stable for people and tests.
indirect enum JSON {
    case string(String)
    /// An integer as its decimal text: exact for every value of every integer type, so a
    /// damaged file's `UInt64` fields (2^63 and above, which `Int64` cannot hold) are shown
    /// as they are instead of trapping.
    case integer(String)
    case bool(Bool)
    case null
    case array([JSON])
    case object([(String, JSON)])

    static func int<T: BinaryInteger>(_ value: T) -> JSON { .integer(String(value)) }

    static func optional(_ value: String?) -> JSON { value.map { .string($0) } ?? .null }

    static func optional<T: BinaryInteger>(_ value: T?) -> JSON { value.map { int($0) } ?? .null }

    /// Compact, on one line.
    var text: String {
        var out = ""
        write(into: &out)
        return out
    }

    private func write(into out: inout String) {
        switch self {
        case .string(let value): JSON.quote(value, into: &out)
        case .integer(let digits): out += digits
        case .bool(let value): out += value ? "true" : "false"
        case .null: out += "null"
        case .array(let items):
            out += "["
            for (position, item) in items.enumerated() {
                if position > 0 { out += "," }
                item.write(into: &out)
            }
            out += "]"
        case .object(let pairs):
            out += "{"
            for (position, pair) in pairs.enumerated() {
                if position > 0 { out += "," }
                JSON.quote(pair.0, into: &out)
                out += ":"
                pair.1.write(into: &out)
            }
            out += "}"
        }
    }

    private static func quote(_ text: String, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{0}"..."\u{1F}":
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

/// How values are shown to people.
enum Show {
    /// `1 stream`, `2 streams`: a count with its noun (plural by an s).
    static func plural(_ count: Int, _ noun: String) -> String { "\(count) \(noun)\(count == 1 ? "" : "s")" }

    /// `1536 B` → `1.5 KiB`: binary units, one decimal.
    static func bytes<T: BinaryInteger>(_ value: T) -> String {
        let count = Double(value)
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var scaled = count
        var unit = 0
        while scaled >= 1024 && unit < units.count - 1 {
            scaled /= 1024
            unit += 1
        }
        if unit == 0 { return "\(value) B" }
        let tenths = Int((scaled * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }

    /// How long ago, in the largest whole unit: `45s`, `12m`, `3h`, `2d`. A time in the
    /// future (another machine's clock) is `0s`; one so far back that the difference does not
    /// fit in 64 bits of microseconds is `-`: the timestamp comes from the file, and a file
    /// `verify` accepts may hold any value.
    static func age(since micros: Int64, now: Int64) -> String {
        let (elapsed, overflow) = now.subtractingReportingOverflow(micros)
        if overflow { return "-" }
        let seconds = max(0, elapsed / 1_000_000)
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m" }
        if seconds < 86400 { return "\(seconds / 3600)h" }
        return "\(seconds / 86400)d"
    }

    /// `2026-11-22T10:04:05.123Z`; `-` for a year outside 1...9999 (the timestamp comes from
    /// the file, and a file `verify` accepts may hold any value).
    static func timestamp(_ micros: Int64) -> String {
        // Rounded down, not toward zero: -1,500 µs is 23:59:59.998 of the day before, not
        // second 0 with "-1" milliseconds.
        var whole = micros / 1_000_000
        var fraction = micros % 1_000_000
        if fraction < 0 {
            whole -= 1
            fraction += 1_000_000
        }
        var seconds = time_t(whole)
        var parts = tm()
        guard gmtime_r(&seconds, &parts) != nil, (1...9999).contains(parts.tm_year + 1900) else { return "-" }
        let millis = Int(fraction / 1000)
        return "\(parts.tm_year + 1900)-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday))T"
            + "\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec)).\(pad(millis, 3))Z"
    }

    private static func pad<T: BinaryInteger>(_ value: T, _ width: Int = 2) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// Microseconds since the epoch, now.
    static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1_000_000 + Int64(time.tv_nsec) / 1000
    }

    /// What `parseTime` accepts, for usage errors.
    static let timeForms =
        "a duration ago (90s, 15m, 2h, 3d, 1w), @UNIXSECONDS, or a date and time such as 2026-11-22, "
        + "2026-11-22T10:00 or \"2026-11-22 10:00:05\", then optionally Z or +HH:MM "
        + "(hours 00-23, minutes and seconds 00-59, a day its month has)"

    /// A point in time for `--since`: a duration ago (`90s`, `15m`, `2h`, `3d`, `1w`), a Unix
    /// time (`@1763800000`), or a date and time (`2026-11-22`, `2026-11-22T10:00[:05]`, a space
    /// instead of `T`, then optionally `Z` or `+HH:MM`; local time without a zone).
    /// Nil, not a trap, for a time too far out to count in microseconds (`@99999999999999`),
    /// and nil for a date or time that does not exist (`2026-02-31`, `24:00`, `+24:00`).
    static func parseTime(_ text: String, now: Int64) -> Int64? {
        if text == "now" { return now }
        if text.hasPrefix("@") {
            guard let seconds = Int64(text.dropFirst()) else { return nil }
            let (micros, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
            return overflow ? nil : micros
        }
        if let unit = text.last, let amount = Int64(text.dropLast()), amount >= 0 {
            let scale: Int64? =
                switch unit {
                case "s": 1_000_000
                case "m": 60_000_000
                case "h": 3_600_000_000
                case "d": 86_400_000_000
                case "w": 604_800_000_000
                default: nil
                }
            if let scale {
                let (ago, overflow) = amount.multipliedReportingOverflow(by: scale)
                return overflow ? nil : now - ago
            }
        }
        return parseDate(text)
    }

    private static func parseDate(_ text: String) -> Int64? {
        var rest = Substring(text)
        // Exactly `digits` ASCII digits: Int32 alone would take a sign ("+1") as a number.
        func number(_ digits: Int) -> Int32? {
            let head = rest.prefix(digits)
            guard head.count == digits, head.allSatisfy({ ("0"..."9").contains($0) }), let value = Int32(head)
            else { return nil }
            rest = rest.dropFirst(digits)
            return value
        }
        func separator(_ allowed: Set<Character>) -> Bool {
            guard let first = rest.first, allowed.contains(first) else { return false }
            rest = rest.dropFirst()
            return true
        }
        guard let year = number(4), separator(["-"]), let month = number(2), separator(["-"]), let day = number(2)
        else { return nil }
        var hour: Int32 = 0
        var minute: Int32 = 0
        var second: Int32 = 0
        if separator(["T", " "]) {
            guard let hours = number(2), separator([":"]), let minutes = number(2) else { return nil }
            hour = hours
            minute = minutes
            if separator([":"]) {
                guard let seconds = number(2) else { return nil }
                second = seconds
            }
        }
        var offset: Int64?
        if separator(["Z", "z"]) {
            offset = 0
        } else if let sign = rest.first, sign == "+" || sign == "-" {
            rest = rest.dropFirst()
            guard let hours = number(2) else { return nil }
            _ = separator([":"])
            guard let minutes = number(2), hours <= 23, minutes <= 59 else { return nil }
            offset = (Int64(hours) * 3600 + Int64(minutes) * 60) * (sign == "-" ? -1 : 1)
        }
        // timegm and mktime would carry 2026-02-31 into March and 24:00 into the next day:
        // a time that does not exist is a typing mistake, not a time to guess.
        guard rest.isEmpty, (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
            hour <= 23, minute <= 59, second <= 59
        else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        let seconds: Int64
        if let offset {
            seconds = Int64(timegm(&parts)) - offset
        } else {
            parts.tm_isdst = -1
            seconds = Int64(mktime(&parts))
        }
        return seconds * 1_000_000
    }

    /// Days in `month` (1-12) of `year`, in the Gregorian calendar.
    private static func daysIn(month: Int32, year: Int32) -> Int32 {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// A chunk payload for one line of text: at most `limit` characters, quoted, escaped as
    /// `escaped` does, or a note for bytes that are not UTF-8.
    static func preview(_ bytes: UnsafeRawBufferPointer, limit: Int = 60) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else { return "(\(bytes.count) bytes, binary)" }
        return "\"" + escaped(text, quoting: true, limit: limit) + "\""
    }

    /// Text from the file (a reason, metadata, a payload preview) made fit for one line of text
    /// output: line feed, carriage return and tab as `\n`, `\r`, `\t`, other control
    /// characters (C0, DEL, C1) as `\u{1b}`, and the backslash doubled so that an escape is
    /// never ambiguous; `"` too when `quoting`. Done on a terminal or not: a line feed would
    /// split an event's line for the program reading it, and a carriage return or ESC would
    /// let the file rewrite what a terminal shows. Past `limit` characters, `…` ends it.
    static func escaped(_ text: String, quoting: Bool = false, limit: Int = .max) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count == limit {
                out += "…"
                break
            }
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\"" where quoting: out += "\\\""
            case "\\": out += "\\\\"
            case "\u{0}"..."\u{1F}", "\u{7F}"..."\u{9F}": out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
            count += 1
        }
        return out
    }

    /// Left-aligned columns separated by two spaces; the last column is not padded.
    static func table(_ rows: [[String]], rightAligned: Set<Int> = [], widthOf: (String) -> Int) -> [String] {
        guard let columns = rows.map(\.count).max() else { return [] }
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (column, cell) in row.enumerated() { widths[column] = max(widths[column], widthOf(cell)) }
        }
        return rows.map { row in
            var line = ""
            for (column, cell) in row.enumerated() {
                let padding = String(repeating: " ", count: widths[column] - widthOf(cell))
                if column > 0 { line += "  " }
                if rightAligned.contains(column) {
                    line += padding + cell
                } else {
                    line += column == row.count - 1 ? cell : cell + padding
                }
            }
            return line
        }
    }

    /// Printed width of text that may hold colour escapes.
    static func visibleWidth(_ text: String) -> Int {
        var width = 0
        var inEscape = false
        for scalar in text.unicodeScalars {
            if inEscape {
                if scalar == "m" { inEscape = false }
            } else if scalar == "\u{1B}" {
                inEscape = true
            } else {
                width += 1
            }
        }
        return width
    }
}
