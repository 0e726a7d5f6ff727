// The results table: one row per workload, StreamJournal beside SQLite, printed as it is
// measured and written to RESULTS.md at the end.

import Foundation

/// What a figure measures, which decides its formatting and which direction is better.
enum Metric {
    /// Chunks (or other operations) per second; higher is better. The string names the unit.
    case rate(String)
    /// Chunks per second of chunks this many bytes long, shown as payload MB/s (10^6 bytes)
    /// and chunks/s; higher is better.
    case payload(bytesPerChunk: Int)
    /// Seconds; lower is better, printed in ms or µs.
    case duration
    /// Stored bytes per payload byte; lower is better.
    case bytesPerByte
    /// User-space instructions per chunk (callgrind's Ir); lower is better.
    case instructions

    /// Whether a larger number is better.
    var higherIsBetter: Bool {
        switch self {
        case .rate, .payload: return true
        case .duration, .bytesPerByte, .instructions: return false
        }
    }

    /// `value` for a person: "1.23 M chunks/s", "4.1 ms", "2.20 B/B".
    func format(_ value: Double) -> String {
        switch self {
        case .rate(let unit):
            if value >= 1e6 { return String(format: "%.2f M %@", value / 1e6, unit) }
            if value >= 1e3 { return String(format: "%.1f k %@", value / 1e3, unit) }
            return String(format: "%.0f %@", value, unit)
        case .payload(let size):
            return String(format: "%.0f MB/s, ", value * Double(size) / 1e6) + Metric.rate("chunks/s").format(value)
        case .duration:
            if value >= 1 { return String(format: "%.2f s", value) }
            if value >= 1e-3 { return String(format: "%.2f ms", value * 1e3) }
            return String(format: "%.1f µs", value * 1e6)
        case .bytesPerByte:
            return String(format: "%.2f B/B", value)
        case .instructions:
            return "\(grouped(Int(value.rounded()))) instructions"
        }
    }

    /// Reads back a figure `format` wrote (a table cell of RESULTS.md), for the chart: the
    /// value in the unit's base (per second, seconds, B/B, instructions) and whether higher
    /// is better. For a payload cell ("328 MB/s, 320.4 k chunks/s") the chunk rate. Nil for
    /// anything else ("—").
    static func parse(_ cell: String) -> (value: Double, higherIsBetter: Bool)? {
        // A payload cell ends with its chunk rate, the figure with more digits. Digit grouping
        // ("12,345 instructions") has no space after its commas.
        let last = cell.components(separatedBy: ", ").last ?? cell
        var words = last.replacingOccurrences(of: ",", with: "").split(separator: " ").map(String.init)
        guard words.count >= 2, var value = Double(words.removeFirst()) else { return nil }
        if words[0] == "k" || words[0] == "M" {
            value *= words.removeFirst() == "k" ? 1e3 : 1e6
            guard !words.isEmpty else { return nil }
        }
        switch words[0] {
        case "s": return (value, false)
        case "ms": return (value / 1e3, false)
        case "µs": return (value / 1e6, false)
        case "B/B", "instructions": return (value, false)
        case let unit where unit.hasSuffix("/s"): return (value, true)
        default: return nil
        }
    }
}

/// One side's samples of one row.
struct Samples {
    /// One value per repetition.
    var values: [Double]
    /// The median, the figure the table shows.
    var median: Double { medianOf(values) }
    /// Smallest and largest, for the spread column of RESULTS.md.
    var range: (Double, Double) { (values.min()!, values.max()!) }
}

/// A row of the results table.
struct ResultRow {
    /// Workload group (the `--only` name) and the row's own description.
    let group: String
    let workload: String
    let metric: Metric
    let journal: Samples
    /// Nil when SQLite has no counterpart.
    let sqlite: Samples?

    /// How far StreamJournal is ahead: above 1 means ahead, whatever the metric's direction
    /// (journal/SQLite for rates, SQLite/journal for times and sizes).
    var ratio: Double? {
        guard let sqlite else { return nil }
        let j = journal.median
        let s = sqlite.median
        guard j > 0, s > 0 else { return nil }
        return metric.higherIsBetter ? j / s : s / j
    }

    /// The ratio for a person: "12x", "2.20x", "0.013x".
    var ratioText: String { ratio.map(ratioLabel) ?? "n/a" }

    /// The four cells of the printed table.
    var cells: [String] {
        [workload, metric.format(journal.median), sqlite.map { metric.format($0.median) } ?? "—", ratioText]
    }
}

/// A ratio for a person: whole numbers from 10 up ("62x"), two decimals down to 0.1
/// ("2.20x"), and two significant digits below ("0.013x", where two decimals would round
/// 0.0127 to 0.01).
func ratioLabel(_ ratio: Double) -> String {
    if ratio >= 10 { return String(format: "%.0fx", ratio) }
    if ratio >= 0.1 { return String(format: "%.2fx", ratio) }
    return String(format: "%.2gx", ratio)
}

/// Collects rows and notes, prints them as they come, and renders the final table.
final class Report: @unchecked Sendable {
    private(set) var rows: [ResultRow] = []
    /// Remarks attached to the run: method choices, derived figures, floor checks, anomalies.
    private(set) var notes: [String] = []
    /// Problems the run met (a store's error, wrong data): listed at the top of RESULTS.md.
    private(set) var anomalies: [String] = []

    /// Adds a row and prints it at once.
    func add(_ row: ResultRow) {
        rows.append(row)
        print("  " + row.cells.joined(separator: " | "))
        flushOutput()
    }

    /// Adds a note and prints it.
    func note(_ text: String) {
        notes.append(text)
        print("  note: \(text)")
        flushOutput()
    }

    /// Records an anomaly and prints it.
    func anomaly(_ text: String) {
        anomalies.append(text)
        print("  ANOMALY: \(text)")
        flushOutput()
    }

    /// Checks a floor the library promises and notes PASS or FAIL.
    func floor(_ what: String, _ passed: Bool, _ detail: String) {
        note("floor \(passed ? "PASS" : "FAIL"): \(what) (\(detail))")
        if !passed { anomalies.append("floor not met: \(what) (\(detail))") }
    }

    /// The table as aligned plain text with `|` separators.
    func plainTable() -> String {
        let header = ["workload", "StreamJournal", "SQLite", "ratio"]
        let all = [header] + rows.map(\.cells)
        var widths = [Int](repeating: 0, count: 4)
        for line in all { for (i, cell) in line.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func render(_ line: [String]) -> String {
            line.enumerated().map { i, cell in cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: " | ")
        }
        var out = [render(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "-|-")]
        out += rows.map { render($0.cells) }
        return out.joined(separator: "\n")
    }

    /// The table in Markdown.
    func markdownTable() -> String {
        var out = ["| workload | StreamJournal | SQLite | ratio |", "| --- | ---: | ---: | ---: |"]
        for row in rows { out.append("| " + row.cells.map(markdownCell).joined(separator: " | ") + " |") }
        return out.joined(separator: "\n")
    }

    /// Every sample's min-max, for judging noise.
    func markdownSpread() -> String {
        var out = [
            "| workload | StreamJournal min - max | SQLite min - max | runs |", "| --- | ---: | ---: | ---: |",
        ]
        for row in rows {
            let (jLow, jHigh) = row.journal.range
            let j = "\(row.metric.format(jLow)) - \(row.metric.format(jHigh))"
            let s = row.sqlite.map { "\(row.metric.format($0.range.0)) - \(row.metric.format($0.range.1))" } ?? "—"
            out.append("| \(markdownCell(row.workload)) | \(j) | \(s) | \(row.journal.values.count) |")
        }
        return out.joined(separator: "\n")
    }

    /// `text` safe inside a Markdown table cell: workload names contain `|`.
    private func markdownCell(_ text: String) -> String { text.replacingOccurrences(of: "|", with: "\\|") }

    /// Rows where StreamJournal is not ahead (ratio at most 1).
    var rowsNotAhead: [ResultRow] { rows.filter { ($0.ratio ?? 2) <= 1 } }
}
