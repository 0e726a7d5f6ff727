// A horizontal bar chart, as SVG, of every StreamJournal / SQLite ratio in RESULTS.md. It is
// drawn from the tables of RESULTS.md rather than from a run's memory, so that it can be
// redrawn from figures already written (`journal-bench --chart`; a full run takes a quarter
// of an hour) and always shows exactly what the file says.

import Foundation

/// The ratio chart: one bar per table row that has figures for both stores, grouped by the
/// section of RESULTS.md the table is in, on a logarithmic axis with a line at 1x.
struct RatioChart {
    /// One table row.
    struct Bar {
        /// The `## ` heading above the table ("Results", "Instruction counts (callgrind)").
        let group: String
        /// The workload cell.
        let label: String
        /// How far StreamJournal is ahead: above 1 ahead, below 1 behind.
        let ratio: Double
    }

    /// The bars, in the order of the tables.
    let bars: [Bar]

    /// The header line of a table the chart draws.
    static let tableHeader = "| workload | StreamJournal | SQLite | ratio |"

    /// The bars of every table in `markdown` whose header is `tableHeader`, with the ratio of
    /// the ratio cell; see `ratio(journal:sqlite:ratioCell:)` for cells too coarse to draw.
    /// Rows without a SQLite figure ("—") get no bar.
    init(markdown: String) {
        var bars: [Bar] = []
        var group = ""
        var inTable = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") {
                group = String(line.dropFirst(3))
                inTable = false
            } else if line == RatioChart.tableHeader {
                inTable = true
            } else if !line.hasPrefix("|") {
                inTable = false
            } else if inTable {
                let cells = RatioChart.cells(line)
                guard cells.count == 4, !cells[0].hasPrefix("---") else { continue }
                if let ratio = RatioChart.ratio(journal: cells[1], sqlite: cells[2], ratioCell: cells[3]) {
                    bars.append(Bar(group: group, label: cells[0], ratio: ratio))
                }
            }
        }
        self.bars = bars
    }

    /// Reads RESULTS.md at `resultsPath` and writes the chart to `svgPath`; returns the
    /// number of bars.
    @discardableResult
    static func write(from resultsPath: String, to svgPath: String) throws -> Int {
        guard let markdown = try? String(contentsOfFile: resultsPath, encoding: .utf8) else {
            throw BenchError("cannot read \(resultsPath)")
        }
        let chart = RatioChart(markdown: markdown)
        guard !chart.bars.isEmpty else { throw BenchError("no ratios in the tables of \(resultsPath)") }
        try chart.svg().write(toFile: svgPath, atomically: true, encoding: .utf8)
        return chart.bars.count
    }

    // MARK: Drawing

    /// Sizes in pixels. Labels are monospace so that their width is known without measuring
    /// text (0.6 em per character, plus a margin for fonts slightly wider).
    private enum Layout {
        static let margin = 20.0
        static let fontSize = 12.0
        static let characterWidth = 7.4
        static let gap = 12.0
        static let plotWidth = 480.0
        static let valueWidth = 70.0
        static let header = 96.0
        static let groupHeight = 30.0
        static let rowHeight = 20.0
        static let barHeight = 12.0
        static let footer = 40.0
    }

    /// Colours: ahead, behind, grid, the 1x line, row shading.
    private enum Colour {
        static let ahead = "#2e7d32"
        static let behind = "#c62828"
        static let grid = "#d0d0d0"
        static let minorGrid = "#ececec"
        static let one = "#222222"
        static let shading = "#f5f5f5"
    }

    /// The chart as a standalone SVG document.
    func svg() -> String {
        let labelWidth = Double(bars.map(\.label.count).max() ?? 0) * Layout.characterWidth
        let plotX = Layout.margin + labelWidth + Layout.gap
        let valueX = plotX + Layout.plotWidth + Layout.gap
        let width = valueX + Layout.valueWidth + Layout.margin
        // Whole decades around every ratio, at least 0.1x to 10x.
        let ratios = bars.map(\.ratio)
        let low = min(-1, Int(log10(ratios.min() ?? 1).rounded(.down)))
        let high = max(1, Int(log10(ratios.max() ?? 1).rounded(.up)))
        func x(_ ratio: Double) -> Double {
            plotX + (log10(ratio) - Double(low)) / Double(high - low) * Layout.plotWidth
        }

        // Rows first, to know the height.
        var rows: [String] = []
        var y = Layout.header
        var group: String?
        var shaded = false
        for bar in bars {
            if bar.group != group {
                group = bar.group
                y += group == bars.first?.group ? 0 : Layout.gap
                rows.append(text(bar.group, x: Layout.margin, y: y + 20, anchor: "start", weight: "bold"))
                y += Layout.groupHeight
            }
            if shaded {
                rows.append(
                    rect(
                        x: Layout.margin, y: y, width: width - 2 * Layout.margin, height: Layout.rowHeight,
                        fill: Colour.shading))
            }
            shaded.toggle()
            rows.append(text(bar.label, x: plotX - Layout.gap, y: y + 14, anchor: "end"))
            let (from, to) = (x(1), x(bar.ratio))
            rows.append(
                rect(
                    x: min(from, to), y: y + (Layout.rowHeight - Layout.barHeight) / 2, width: abs(to - from),
                    height: Layout.barHeight, fill: bar.ratio >= 1 ? Colour.ahead : Colour.behind))
            rows.append(text(ratioLabel(bar.ratio), x: valueX, y: y + 14, anchor: "start"))
            y += Layout.rowHeight
        }
        let plotTop = Layout.header
        let plotBottom = y
        let height = plotBottom + Layout.footer

        var grid: [String] = []
        for decade in low...high {
            let base = pow(10, Double(decade))
            if decade < high {
                for minor in [2.0, 5.0] {
                    grid.append(line(x: x(base * minor), from: plotTop, to: plotBottom, colour: Colour.minorGrid))
                }
            }
            grid.append(line(x: x(base), from: plotTop, to: plotBottom, colour: Colour.grid))
            let label = String(format: "%gx", base)
            grid.append(text(label, x: x(base), y: plotTop - 6, anchor: "middle"))
            grid.append(text(label, x: x(base), y: plotBottom + 16, anchor: "middle"))
        }

        let legendY = 64.0
        let document: [String] = [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(n(width))\" height=\"\(n(height))\""
                + " viewBox=\"0 0 \(n(width)) \(n(height))\" role=\"img\""
                + " font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"\(n(Layout.fontSize))\">",
            "<title>StreamJournal vs SQLite: ratio per row of RESULTS.md</title>",
            rect(x: 0, y: 0, width: width, height: height, fill: "#ffffff"),
            text(
                "StreamJournal vs SQLite: ratio per row (log scale, bars start at 1x)", x: Layout.margin, y: 26,
                anchor: "start", weight: "bold", size: 16),
            text(
                "Above 1x StreamJournal is ahead (more throughput, less time, fewer bytes or instructions);"
                    + " below 1x SQLite is. Figures: the tables of RESULTS.md.",
                x: Layout.margin, y: 46, anchor: "start"),
            rect(x: Layout.margin, y: legendY - 10, width: 12, height: 12, fill: Colour.ahead),
            text("StreamJournal ahead", x: Layout.margin + 18, y: legendY, anchor: "start"),
            rect(x: Layout.margin + 180, y: legendY - 10, width: 12, height: 12, fill: Colour.behind),
            text("SQLite ahead", x: Layout.margin + 198, y: legendY, anchor: "start"),
        ]
        // The 1x line goes over the bars, which all start there.
        let oneLine = line(x: x(1), from: plotTop, to: plotBottom, colour: Colour.one, width: 1.5)
        return (document + grid + rows + [oneLine, "</svg>", ""]).joined(separator: "\n")
    }

    // MARK: Table cells

    /// The cells of a Markdown table row, with `\|` (a `|` inside a cell) unescaped.
    private static func cells(_ line: Substring) -> [String] {
        var cells: [String] = []
        var current = ""
        var escaping = false
        for character in line {
            if escaping {
                if character != "|" { current.append("\\") }
                current.append(character)
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else if character == "|" {
                cells.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current.append(character)
            }
        }
        // The text before the first `|` and after the last is not a cell.
        return Array(cells.dropFirst())
    }

    /// StreamJournal's lead: the ratio cell ("62x", "2.20x"), computed from the unrounded
    /// medians. Files written before `ratioLabel` kept two significant digits show small
    /// ratios with one ("0.01x" for 0.0127); those are recomputed from the two median cells,
    /// which have two or three (the cells alone would be worse in general: "2.8 k chunks/s").
    private static func ratio(journal: String, sqlite: String, ratioCell: String) -> Double? {
        let cell = ratioCell.hasSuffix("x") ? Double(ratioCell.dropLast()) : nil
        let significantDigits = ratioCell.filter(\.isNumber).drop { $0 == "0" }.count
        if let cell, cell > 0, significantDigits >= 2 { return cell }
        if let j = Metric.parse(journal), let s = Metric.parse(sqlite), j.higherIsBetter == s.higherIsBetter,
            j.value > 0, s.value > 0
        {
            return j.higherIsBetter ? j.value / s.value : s.value / j.value
        }
        return cell.flatMap { $0 > 0 ? $0 : nil }
    }

    // MARK: SVG elements

    /// A number for an attribute: one decimal at most.
    private func n(_ value: Double) -> String { String(format: "%.1f", value) }

    private func rect(x: Double, y: Double, width: Double, height: Double, fill: String) -> String {
        "<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(width))\" height=\"\(n(height))\" fill=\"\(fill)\"/>"
    }

    private func line(x: Double, from top: Double, to bottom: Double, colour: String, width: Double = 1) -> String {
        "<line x1=\"\(n(x))\" y1=\"\(n(top))\" x2=\"\(n(x))\" y2=\"\(n(bottom))\" stroke=\"\(colour)\""
            + " stroke-width=\"\(n(width))\"/>"
    }

    private func text(
        _ content: String, x: Double, y: Double, anchor: String, weight: String = "normal", size: Double? = nil
    ) -> String {
        let sizeAttribute = size.map { " font-size=\"\(n($0))\"" } ?? ""
        return "<text x=\"\(n(x))\" y=\"\(n(y))\" text-anchor=\"\(anchor)\" font-weight=\"\(weight)\"\(sizeAttribute)>"
            + escaped(content) + "</text>"
    }

    /// `text` safe as XML character data.
    private func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
