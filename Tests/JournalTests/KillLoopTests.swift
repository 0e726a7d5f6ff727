import TestSupport
import Testing

/// Runs the kill loop (`journal-torture`, issue 8) for a few lives, so `swift test` covers
/// the harness itself; `Scripts/kill-loop.sh` runs it for thousands.
@Suite struct KillLoopTests {
    @Test func aShortKillLoopFindsNoViolation() throws {
        let directory = TestDirectory()
        // Four journals of four lives, each ended by the loop's own recovery; lives 3 and 13 close
        // and reopen, life 7 compacts; no long lives (they take over a second each).
        let loop = ChildProcess(
            [
                "loop", "--iterations", "16", "--seed", "8", "--dir", directory.file("loop"), "--lives-per-journal",
                "4", "--long-every", "0",
            ], executable: ChildProcess.builtExecutable("journal-torture"))
        var output: [String] = []
        while let line = loop.readLine() { output.append(line) }
        let transcript = output.joined(separator: "\n")
        #expect(loop.waitForExit() == 0, "\(transcript)")
        let summary = try #require(
            output.first { $0.contains("iterations=") && $0.contains("failures=") }, "\(transcript)")
        #expect(summary.contains("iterations=16 kills=16 "), "\(summary)")
        #expect(summary.contains("failures=0"), "\(summary)")
    }
}
