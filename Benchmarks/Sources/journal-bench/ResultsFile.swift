// RESULTS.md is written by two kinds of run: a full run writes the whole file, the
// instruction-count run only its own section. Each keeps what the other wrote.

import Foundation

/// RESULTS.md and the sections in it that a full run does not produce itself.
struct ResultsFile {
    /// The file's path.
    let path: String

    /// The section `journal-bench --instructions` writes.
    static let instructionSection = "instruction-counts"

    /// The heading a section goes in front of when the file has no such section yet: after
    /// the timed table and its chart, before the lists that follow it.
    static let insertBefore = "## Rows where StreamJournal is not ahead"

    /// The file's text, or nil when there is none.
    func text() -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    /// Section `name` of the current file, markers included, or nil.
    func section(_ name: String) -> String? {
        guard let text = text(), let range = ResultsFile.range(of: name, in: text) else { return nil }
        return String(text[range])
    }

    /// Writes `body` as section `name`: in place of the old one, else before `insertBefore`,
    /// else at the end. A missing file is created with a title.
    func replaceSection(_ name: String, with body: String) throws {
        let section = "\(ResultsFile.begin(name))\n\(body)\n\(ResultsFile.end(name))"
        var text = self.text() ?? "# StreamJournal vs SQLite: results\n\n"
        if let range = ResultsFile.range(of: name, in: text) {
            text.replaceSubrange(range, with: section)
        } else if let heading = text.range(of: "\n\(ResultsFile.insertBefore)\n") {
            text.insert(contentsOf: "\n\(section)\n", at: heading.lowerBound)
        } else {
            if !text.hasSuffix("\n") { text += "\n" }
            text += "\n\(section)\n"
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The line that opens section `name` (an HTML comment: Markdown viewers hide it).
    private static func begin(_ name: String) -> String { "<!-- begin \(name) -->" }
    /// The line that closes it.
    private static func end(_ name: String) -> String { "<!-- end \(name) -->" }

    /// Where section `name` is in `text`, from its opening marker to the end of its closing one.
    private static func range(of name: String, in text: String) -> Range<String.Index>? {
        guard let start = text.range(of: begin(name)),
            let stop = text.range(of: end(name), range: start.upperBound..<text.endIndex)
        else { return nil }
        return start.lowerBound..<stop.upperBound
    }
}
