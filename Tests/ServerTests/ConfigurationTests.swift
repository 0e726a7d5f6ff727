import Journal
import Testing

@testable import JournalServer

/// Flags, environment variables, defaults and the safety rules of the command line.
@Suite struct ConfigurationTests {
    func parse(_ arguments: [String], _ environment: [String: String] = [:]) throws -> ServerConfiguration {
        guard
            case .run(let configuration) = try ServerConfiguration.parse(arguments: arguments, environment: environment)
        else {
            Issue.record("expected a configuration")
            return ServerConfiguration()
        }
        return configuration
    }

    @Test func defaultsServeJournalSjOnLoopback8080Durably() throws {
        let configuration = try parse([])
        #expect(configuration.file == "journal.sj")
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 8080)
        #expect(configuration.durability == .everyAcknowledgement)
        #expect(configuration.journalOptions.openStreams == .keepOpen(staleAfter: .seconds(300)))
        #expect(configuration.heartbeat == .seconds(15))
    }

    @Test func flagsAndEnvironmentVariablesAreParsedAndFlagsWin() throws {
        let configuration = try parse(
            ["--port=0", "--stale-after", "300ms", "--durability", "interval:50ms", "--max-body-bytes", "64KiB"],
            ["JOURNAL_SERVER_PORT": "9999", "JOURNAL_SERVER_TOKEN": "secret", "JOURNAL_SERVER_ON_RESTART": "interrupt"])
        #expect(configuration.port == 0)
        #expect(configuration.token == "secret")
        #expect(configuration.staleAfter == .milliseconds(300))
        #expect(configuration.durability == .interval(.milliseconds(50)))
        #expect(configuration.limits.maxBodyBytes == 64 * 1024)
        #expect(configuration.journalOptions.openStreams == .interrupt)
        #expect(try parse(["--retention", "off"]).journalOptions.retention == .keepEverything)
        let week = try parse(["--retention", "7d"]).journalOptions.retention
        #expect(week.completedMaxAge == .seconds(7 * 86_400) && week.unsuccessfulMaxAge == .seconds(7 * 86_400))
        #expect(try parse([]).journalOptions.retention == RetentionPolicy())
    }

    @Test func helpIsACommand() throws {
        #expect(try ServerConfiguration.parse(arguments: ["--help"], environment: [:]) == .help)
        #expect(ServerConfiguration.usage.contains("--stale-after"))
        #expect(ServerConfiguration.usage.contains("JOURNAL_SERVER_STALE_AFTER"))
        // Every signal that stops it, and every duration unit the parser takes.
        #expect(ServerConfiguration.usage.contains("SIGINT,\nSIGTERM or SIGHUP"))
        #expect(ServerConfiguration.usage.contains("durations: 250us, 500ms, 30s (or 30), 5m, 2h, 7d"))
        for unit in ["250us", "500ms", "30s", "30", "5m", "2h", "7d"] { #expect(DurationText.parse(unit) != nil) }
    }

    @Test(arguments: [
        ["--port", "70000"], ["--stale-after", "soon"], ["--durability", "sometimes"], ["--on-restart", "maybe"],
        ["--bogus"], ["--port"], ["--max-header-count", "0"], ["--host", "example.com"],
        // Too long to count in microseconds: the retention sweep would trap on it.
        ["--retention", "999999999999d"],
    ])
    func badArgumentsAreUsageErrors(_ arguments: [String]) {
        #expect(throws: ConfigurationError.self) {
            try ServerConfiguration.parse(arguments: arguments, environment: [:])
        }
    }

    @Test func aBadValueFromTheEnvironmentNamesTheVariable() throws {
        #expect(throws: ConfigurationError(message: "JOURNAL_SERVER_PORT=abc: --port must be 0...65535")) {
            try ServerConfiguration.parse(arguments: [], environment: ["JOURNAL_SERVER_PORT": "abc"])
        }
        // A flag replaces the variable, and its own error names the flag alone.
        #expect(throws: ConfigurationError(message: "--port must be 0...65535")) {
            try ServerConfiguration.parse(arguments: ["--port", "x"], environment: ["JOURNAL_SERVER_PORT": "abc"])
        }
        #expect(try parse(["--port", "0"], ["JOURNAL_SERVER_PORT": "abc"]).port == 0)
    }

    @Test func nonLoopbackNeedsATokenOrInsecure() throws {
        #expect(throws: ConfigurationError.self) { try parse(["--host", "0.0.0.0"]) }
        #expect(try parse(["--host", "0.0.0.0", "--token", "t"]).host == "0.0.0.0")
        #expect(try parse(["--host", "0.0.0.0", "--insecure"]).insecure)
        #expect(try parse(["--host", "::1"]).host == "::1")
    }

    @Test func durationsAndSizes() {
        #expect(DurationText.parse("500ms") == .milliseconds(500))
        #expect(DurationText.parse("30s") == .seconds(30))
        #expect(DurationText.parse("5m") == .seconds(300))
        #expect(DurationText.parse("2h") == .seconds(7200))
        #expect(DurationText.parse("15") == .seconds(15))
        #expect(DurationText.parse("-1s") == nil)
        #expect(DurationText.parse("1.5s") == nil)
        #expect(DurationText.parse("") == nil)
        #expect(DurationText.parse("106751991d") == .seconds(106_751_991 * 86_400))
        #expect(DurationText.parse("106751992d") == nil, "past Int64.max microseconds")
        #expect(DurationText.format(.seconds(300)) == "5m")
        #expect(DurationText.format(.milliseconds(300)) == "300ms")
        #expect(DurationText.parseBytes("64KiB") == 65536)
        #expect(DurationText.parseBytes("1M") == 1 << 20)
        #expect(DurationText.parseBytes("12x") == nil)
        // Products past Int.max are refused; a shift wrapped them (17179869184G was 0 bytes).
        #expect(DurationText.parseBytes("8589934591G") == 8_589_934_591 << 30)
        #expect(DurationText.parseBytes("8589934592G") == nil)
        #expect(DurationText.parseBytes("17179869184G") == nil)
        #expect(DurationText.parseBytes("17179869185G") == nil)
    }
}
