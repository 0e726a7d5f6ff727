import Foundation
import Journal
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The payloads of the prepared journal, by stream.
enum Fixture {
    static let chat1 = ["Hel", "lo", " world"]
    static let chat2 = ["partial"]
    /// Not UTF-8, empty, CR LF and NUL: what text formats must not alter.
    static let binary: [[UInt8]] = [[0xFF, 0x00, 0x0D, 0x0A], [], Array("text\r\n".utf8), [0xE2, 0x82]]
    static let open4 = ["still"]

    /// Four streams: completed (with metadata), failed, cancelled with binary chunks, open.
    static func prepare(_ path: String) throws {
        let journal = try Journal(path: path, options: JournalOptions(durability: .none))
        let chat1 = try journal.createStream(StreamID("chat-1"), metadata: ["model": "small", "user": "ann"])
        for text in Fixture.chat1 { try journal.append(text, to: chat1) }
        try journal.complete(chat1)
        let chat2 = try journal.createStream(StreamID("chat-2"))
        for text in Fixture.chat2 { try journal.append(text, to: chat2) }
        try journal.fail(chat2, reason: "upstream 500")
        let bin3 = try journal.createStream(StreamID("bin-3"))
        for bytes in Fixture.binary { try journal.append(bytes, to: bin3) }
        try journal.cancel(bin3, reason: "user pressed stop")
        let open4 = try journal.createStream(StreamID("open-4"))
        for text in Fixture.open4 { try journal.append(text, to: open4) }
        try journal.close()
    }
}

/// Every command of `journalctl-stream`, run as a separate process on prepared journals.
@Suite(.serialized) final class CLITests {
    let directory = TestDirectory(prefix: "sj-cli")
    var path: String { directory.file("journal.sj") }

    deinit {
        // Each test gets its own instance and directory; a failing test's files go too, but
        // its output is in the test log.
        try? FileManager.default.removeItem(atPath: directory.path)
    }

    func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) -> CLIResult {
        CLIProcess.run(arguments, stdin: stdin, environment: environment, directory: directory.path)
    }

    /// `run` with `--file` for the prepared journal.
    func cli(_ arguments: String..., stdin: String? = nil) -> CLIResult {
        run(["--file", path] + arguments, stdin: stdin)
    }

    func json(_ line: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    /// The offset of `stream`'s record of `type` (and chunk `index`), from `dump -o json`.
    func recordOffset(_ stream: String, type: String, index: Int = 0) throws -> UInt64 {
        let dump = cli("dump", "-o", "json")
        for line in dump.lines {
            let record = try json(line)
            if (record["stream"] as? String ?? "") == stream, record["type"] as? String == type,
                record["index"] as? Int == index
            {
                return UInt64(record["offset"] as! Int)
            }
        }
        Issue.record("no \(type) \(index) of \(stream) in the dump")
        return 0
    }

    /// Flips one bit of the byte at `offset`.
    func flipBit(at offset: UInt64) {
        let fd = open(path, O_RDWR)
        precondition(fd >= 0)
        var byte: UInt8 = 0
        precondition(pread(fd, &byte, 1, off_t(offset)) == 1)
        byte ^= 0x10
        precondition(pwrite(fd, &byte, 1, off_t(offset)) == 1)
        close(fd)
    }

    /// Overwrites the bytes at `offset` of the file at `file` (the prepared journal by default).
    func patch(at offset: UInt64, _ bytes: [UInt8], file: String? = nil) {
        let fd = open(file ?? path, O_RDWR)
        precondition(fd >= 0)
        precondition(pwrite(fd, bytes, bytes.count, off_t(offset)) == bytes.count)
        close(fd)
    }

    // MARK: list

    @Test func listShowsEveryStreamWithStatusCountsBytesAndAge() throws {
        try Fixture.prepare(path)
        let result = cli("list")
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty)
        let lines = result.lines
        #expect(lines.count == 6)
        #expect(lines[0].wholeMatch(of: #/ID +STATUS +CHUNKS +BYTES +AGE +LAST/#) != nil)
        #expect(lines[1].wholeMatch(of: #/chat-1 +completed +3 +11 B +\d+s +\d+s/#) != nil, "\(lines[1])")
        #expect(lines[2].wholeMatch(of: #/chat-2 +failed +1 +7 B +\d+s +\d+s/#) != nil, "\(lines[2])")
        #expect(lines[3].wholeMatch(of: #/bin-3 +cancelled +4 +12 B +\d+s +\d+s/#) != nil, "\(lines[3])")
        #expect(lines[4].wholeMatch(of: #/open-4 +open +1 +5 B +\d+s +\d+s/#) != nil, "\(lines[4])")
        #expect(lines[5] == "4 streams (1 open, 1 completed, 1 failed, 1 cancelled)")
    }

    @Test func listFiltersSortsAndPrintsJSON() throws {
        try Fixture.prepare(path)
        let failed = cli("list", "--status", "failed", "-o", "json")
        #expect(failed.status == 0)
        #expect(failed.lines.count == 1)
        let stream = try json(failed.lines[0])
        #expect(stream["id"] as? String == "chat-2")
        #expect(stream["status"] as? String == "failed")
        #expect(stream["chunks"] as? Int == 1)
        #expect(stream["bytes"] as? Int == 7)
        #expect(stream["reason"] as? String == "upstream 500")
        #expect(stream["finishedAt"] as? Int != nil)

        let sorted = cli("list", "--sort=bytes", "-r", "-o", "json")
        let ids = try sorted.lines.map { try json($0)["id"] as? String }
        #expect(ids == ["bin-3", "chat-1", "chat-2", "open-4"])

        let metadata = try json(cli("list", "-o", "json").lines[0])["metadata"] as? [String: String]
        #expect(metadata == ["model": "small", "user": "ann"])

        #expect(cli("list", "--since", "1h").lines.count == 6)
        #expect(cli("list", "--since", "2999-01-01T00:00Z").stdout == "no streams match\n")
        #expect(cli("list", "--since", "@0", "--status", "open", "-o", "json").lines.count == 1)
    }

    @Test func listShowsADashForAnAgeTooFarBackToCount() throws {
        // A stream-open timestamp of Int64.min: valid to verify, and now minus it overflows.
        let open = CraftedJournal.record(
            type: 1, stream: 1, timestamp: .min, body: CraftedJournal.openBody("ancient"))
        CraftedJournal.write(path, records: [open])
        #expect(cli("verify").status == 0)
        let result = cli("list")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.lines.count == 3, "\(result.lines)")
        #expect(
            result.lines.dropFirst().first?.wholeMatch(of: #/ancient +open +0 +0 B +- +-/#) != nil, "\(result.lines)")
        #expect(try json(cli("list", "-o", "json").stdout)["createdAt"] as? Int == Int(Int64.min))
    }

    // MARK: show

    @Test func showTextConcatenatesPayloadsAndSaysHowTheStreamEnded() throws {
        try Fixture.prepare(path)
        #expect(cli("show", "chat-1").stdout == "Hello world\n-- completed (3 chunks) --\n")
        #expect(cli("show", "chat-1", "--from", "1").stdout == "lo world\n-- completed (3 chunks) --\n")
        #expect(cli("show", "chat-1", "-n", "1").stdout == " world\n-- completed (3 chunks) --\n")
        #expect(cli("show", "chat-1", "-n1", "--from=2").stdout == " world\n-- completed (3 chunks) --\n")
        #expect(cli("show", "chat-2").stdout == "partial\n-- failed: upstream 500 (1 chunk) --\n")
        #expect(cli("show", "open-4").stdout == "still\n-- open (1 chunk so far; -f follows it) --\n")
        // Not UTF-8 shows as U+FFFD; the split sequence at the end is incomplete.
        #expect(
            cli("show", "bin-3").stdout
                == "\u{FFFD}\u{0}\r\ntext\r\n\u{FFFD}\n-- cancelled: user pressed stop (4 chunks) --\n")
    }

    @Test func showRawJSONAndSSEKeepEveryByte() throws {
        try Fixture.prepare(path)
        let raw = cli("show", "bin-3", "-o", "raw")
        #expect(raw.status == 0)
        #expect(raw.stdoutBytes == Fixture.binary.flatMap { $0 })

        let lines = cli("show", "bin-3", "-o", "json").lines
        #expect(lines.count == 5)
        let first = try json(lines[0])
        #expect(first["stream"] as? String == "bin-3")
        #expect(first["index"] as? Int == 0)
        #expect(first["base64"] as? String == "/wANCg==")
        #expect(try json(lines[1])["text"] as? String == "")
        #expect(lines[2].contains(#""text":"text\r\n""#))
        #expect(try json(lines[3])["base64"] as? String == "4oI=")
        let end = try json(lines[4])
        #expect(end["event"] as? String == "end")
        #expect(end["status"] as? String == "cancelled")
        #expect(end["reason"] as? String == "user pressed stop")
        #expect(end["chunks"] as? Int == 4)

        var expected: [UInt8] = []
        for (index, payload) in Fixture.binary.enumerated() {
            SSEEncoder.chunk(index: index, payload: payload, into: &expected)
        }
        SSEEncoder.end(status: "cancelled", reason: "user pressed stop", into: &expected)
        #expect(cli("show", "bin-3", "-o", "sse").stdoutBytes == expected)
    }

    @Test func showFollowReceivesChunksAppendedByAnotherProcessAndEndsAtTheTerminalRecord() throws {
        // This test process is the writer; the CLI follows from another process.
        let writer = try Journal(path: path, options: JournalOptions(durability: .none))
        defer { try? writer.close() }
        let id = try writer.createStream(StreamID("live-1"))
        try writer.append("a", to: id)

        let json = CLIProcess(["--file", path, "show", "live-1", "-f", "-o", "json"], directory: directory.path)
        let text = CLIProcess(["--file", path, "show", "live-1", "--follow"], directory: directory.path)
        #expect(json.waitForOutput { $0.split(separator: "\n").count == 1 })
        #expect(text.waitForOutput { $0 == "a" })
        try writer.append("b", to: id)
        #expect(json.waitForOutput { $0.split(separator: "\n").count == 2 })
        try writer.append(Array("c\u{FF}".utf8), to: id)
        try writer.complete(id)

        #expect(json.waitForExit() == 0)
        #expect(text.waitForExit() == 0)
        let lines = String(decoding: json.stdoutBytes, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(try lines[0..<3].map { try self.json($0)["text"] as? String } == ["a", "b", "c\u{FF}"])
        let end = try self.json(lines[3])
        #expect(end["event"] as? String == "end")
        #expect(end["status"] as? String == "completed")
        #expect(end["chunks"] as? Int == 3)
        #expect(String(decoding: text.stdoutBytes, as: UTF8.self) == "abc\u{FF}\n-- completed (3 chunks) --\n")
    }

    @Test func showFollowStopsOnCtrlCWithStatusZero() throws {
        let writer = try Journal(path: path, options: JournalOptions(durability: .none))
        defer { try? writer.close() }
        let id = try writer.createStream(StreamID("never-ends"))
        try writer.append("x", to: id)
        let process = CLIProcess(["--file", path, "show", "never-ends", "-f", "-o", "raw"], directory: directory.path)
        #expect(process.waitForOutput { $0 == "x" })
        process.signal(SIGINT)
        #expect(process.waitForExit(timeout: 5) == 0)
        #expect(process.stderr.isEmpty)
    }

    @Test func showUnknownStreamFailsWithOneSentence() throws {
        try Fixture.prepare(path)
        let result = cli("show", "nope")
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderr
                == "journalctl-stream: no stream \"nope\" in this journal (never created, or deleted or compacted away); "
                + "check the id\n")
        let beyond = cli("show", "chat-1", "--from", "9")
        #expect(beyond.status == 1)
        #expect(beyond.stderr.hasPrefix("journalctl-stream: stream \"chat-1\" has 3 chunks; index 9 is out of range"))
    }

    @Test func reasonsAndMetadataReachTextOutputEscapedOnOneLine() throws {
        let evil = "\u{1B}[31mRED\u{1B}[0m\nfake line\r-- completed"
        do {
            let journal = try Journal(path: path, options: JournalOptions(durability: .none))
            let id = try journal.createStream(StreamID("evil"), metadata: ["note\n": "a\u{1B}]0;title\u{7}\\b"])
            try journal.append("x", to: id)
            try journal.fail(id, reason: evil)
            try journal.close()
        }
        let escaped = #"\u{1b}[31mRED\u{1b}[0m\nfake line\r-- completed"#
        let show = cli("show", "evil")
        #expect(show.status == 0, "\(show.stderr)")
        #expect(show.stdout == "x\n-- failed: \(escaped) (1 chunk) --\n")

        let follow = CLIProcess(["--file", path, "follow", "--beginning"], directory: directory.path)
        #expect(follow.waitForOutput { $0.contains(" end ") })
        follow.signal(SIGINT)
        #expect(follow.waitForExit(timeout: 5) == 0)
        let text = String(decoding: follow.stdoutBytes, as: UTF8.self)
        #expect(!text.contains("\u{1B}") && !text.contains("\r") && !text.contains("\u{7}"), "\(text)")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 4 && lines.last == "", "three events, three lines: \(lines)")
        #expect(lines.first?.hasSuffix(#"open  evil note\n=a\u{1b}]0;title\u{7}\\b"#) == true, "\(lines)")
        #expect(lines.dropFirst(2).first?.hasSuffix("end   evil failed: \(escaped)") == true, "\(lines)")
    }

    // MARK: follow

    @Test func followPrintsStreamsChunksAndEndsLive() throws {
        let writer = try Journal(path: path, options: JournalOptions(durability: .none))
        defer { try? writer.close() }
        let before = try writer.createStream(StreamID("before"))
        try writer.append("old", to: before)

        let all = CLIProcess(["--file", path, "follow", "--beginning", "-o", "json"], directory: directory.path)
        let text = CLIProcess(["--file", path, "follow", "--beginning"], directory: directory.path)
        #expect(all.waitForOutput { $0.split(separator: "\n").count == 2 })
        #expect(text.waitForOutput { $0.split(separator: "\n").count == 2 })
        let live = try writer.createStream(StreamID("live"), metadata: ["model": "m"])
        try writer.append("tok", to: live)
        try writer.fail(live, reason: "boom")
        #expect(all.waitForOutput { $0.split(separator: "\n").count == 5 })
        #expect(text.waitForOutput { $0.split(separator: "\n").count == 5 })
        all.signal(SIGINT)
        text.signal(SIGINT)
        #expect(all.waitForExit(timeout: 5) == 0)
        #expect(text.waitForExit(timeout: 5) == 0)

        let events = try String(decoding: all.stdoutBytes, as: UTF8.self).split(separator: "\n").map {
            try json(String($0))
        }
        #expect(events.map { $0["event"] as? String } == ["open", nil, "open", nil, "end"])
        #expect(events.map { $0["stream"] as? String } == ["before", "before", "live", "live", "live"])
        #expect(events[2]["metadata"] as? [String: String] == ["model": "m"])
        #expect(events[3]["text"] as? String == "tok")
        #expect(events[4]["status"] as? String == "failed")
        #expect(events[4]["reason"] as? String == "boom")

        let lines = String(decoding: text.stdoutBytes, as: UTF8.self).split(separator: "\n").map(String.init)
        let time = #/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /#
        #expect(lines.allSatisfy { $0.prefixMatch(of: time) != nil }, "\(lines)")
        #expect(lines[2].hasSuffix("Z open  live model=m"), "\(lines[2])")
        #expect(lines[3].hasSuffix(#"Z chunk live #0 3 B "tok""#), "\(lines[3])")
        #expect(lines[4].hasSuffix("Z end   live failed: boom"), "\(lines[4])")
    }

    @Test func followFromTheBeginningShowsWhatEachRecordSaysNotTheStreamNow() throws {
        let writer = try Journal(path: path, options: JournalOptions(durability: .none))
        defer { try? writer.close() }
        let id = try StreamID("r")
        try writer.createStream(id, metadata: ["run": "1"])
        try writer.append("a", to: id)
        try writer.append("b", to: id)
        try writer.complete(id)
        try writer.deleteStream(id)
        try writer.createStream(id, metadata: ["run": "2"])
        try writer.sync()
        var recorded: [Int] = []
        try Journal.dump(path: path) { entry in
            if case .record(let record) = entry, record.typeName != "snapshot" {
                recorded.append(Int(record.timestamp))
            }
            return true
        }
        let follow = CLIProcess(["--file", path, "follow", "--beginning", "-o", "json"], directory: directory.path)
        #expect(follow.waitForOutput { $0.split(separator: "\n").count == 6 })
        follow.signal(SIGINT)
        #expect(follow.waitForExit(timeout: 5) == 0)
        // A stream that does not exist (yet): said once, then waiting as for any other.
        let missing = CLIProcess(["--file", path, "follow", "--stream", "nope"], directory: directory.path)
        #expect(missing.waitForStderr { $0.contains("no stream \"nope\" yet; waiting for it") }, "\(missing.stderr)")
        missing.signal(SIGINT)
        #expect(missing.waitForExit(timeout: 5) == 0)
        let events = try String(decoding: follow.stdoutBytes, as: UTF8.self).split(separator: "\n").map {
            try json(String($0))
        }
        #expect(events.map { $0["event"] as? String } == ["open", nil, nil, "end", "deleted", "open"])
        #expect(events[3]["chunks"] as? Int == 2, "the first run's end, though the stream now has 0 chunks")
        #expect(events[0]["metadata"] as? [String: String] == ["run": "1"])
        // Each line's time is its record's, not the time of the stream now under that id.
        #expect(events.map { $0["timestamp"] as? Int } == recorded)
    }

    // MARK: info

    @Test func infoPrintsHeaderFieldsStreamsAndDiskUsage() throws {
        try Fixture.prepare(path)
        let result = cli("info")
        #expect(result.status == 0)
        let text = result.stdout
        #expect(text.contains("File        \(path)\n"))
        #expect(text.contains("Format      version 1 (this build reads up to 1)\n"))
        #expect(text.contains(#/Journal ID  [0-9a-f]{32}\n/#))
        #expect(text.contains(#/Writer      generation 1, last opened by process \d+\n/#))
        #expect(text.contains(#/Snapshot    offset \d+, /#))
        #expect(text.contains("Streams     4: 1 open, 1 completed, 1 failed, 1 cancelled, 0 interrupted\n"))
        #expect(text.contains("Open        loaded the snapshot at "))

        let usage = cli("info", "--disk-usage")
        #expect(usage.stdout.contains("Disk usage\n"))
        #expect(usage.stdout.contains(#/\n  live +\d+/#))

        let info = try json(cli("info", "--disk-usage", "-o", "json").stdout)
        let header = try #require(info["header"] as? [String: Any])
        #expect(header["formatVersion"] as? Int == 1)
        #expect(header["generation"] as? Int == 1)
        #expect((header["journalID"] as? String)?.count == 32)
        #expect((info["streamsByStatus"] as? [String: Int])?["cancelled"] == 1)
        #expect((info["slots"] as? [Any])?.count == 2)
        let disk = try #require(info["diskUsage"] as? [String: Any])
        let fileSize = disk["fileSize"] as! Int
        let parts = ["headerBytes", "liveBytes", "deadBytes", "freeBytes"].map { disk[$0] as! Int }
        #expect(parts.reduce(0, +) == fileSize, "every byte is headers, live, dead or free")
        #expect(disk["payloadBytes"] as? Int == 11 + 7 + 12 + 5)
        #expect(disk["liveStreamRecords"] as? Int == 5 + 3 + 6 + 2)
    }

    /// A journal too damaged to open showed nothing but the error; its header slots still
    /// say what it is (format, generation, checkpoint), so they are shown with the reason.
    @Test func infoOfAJournalThatDoesNotOpenShowsItsHeaderAndWhy() throws {
        try Fixture.prepare(path)
        let cut = directory.file("cut.sj")
        try Data(contentsOf: URL(fileURLWithPath: path)).prefix(8192 + 100).write(to: URL(fileURLWithPath: cut))
        let result = run(["--file", cut, "info"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("Format      version 1 (this build reads up to 1)\n"), "\(result.stdout)")
        #expect(result.stdout.contains(#/Slot A      valid, sequence \d+/#))
        #expect(result.stdout.contains(#/Open        failed: .* \(truncated file\?\)/#), "\(result.stdout)")
        #expect(!result.stdout.contains("Streams "))
        #expect(result.stderr.hasPrefix("journalctl-stream: \(cut) is damaged at byte offset "), "\(result.stderr)")
        #expect(run(["--file", cut, "info", "--disk-usage"]).stdout.contains("Disk usage\n"))

        let info = try json(run(["--file", cut, "info", "-o", "json"]).stdout)
        #expect((info["header"] as? [String: Any])?["formatVersion"] as? Int == 1)
        #expect(info["streams"] is NSNull)
        #expect(info["logEnd"] is NSNull)
        let open = try #require(info["open"] as? [String: Any])
        #expect((open["error"] as? String)?.contains("truncated file") == true, "\(open)")
    }

    // MARK: verify

    @Test func verifyAcceptsAValidJournal() throws {
        try Fixture.prepare(path)
        let result = cli("verify")
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("ok: \(path) is valid: 17 records, 4 streams"))
        let json = try json(cli("verify", "-o", "json").stdout)
        #expect(json["clean"] as? Bool == true)
    }

    @Test func verifyReportsAFlippedBitWithItsOffsetAndExitsOne() throws {
        try Fixture.prepare(path)
        let offset = try recordOffset("chat-2", type: "chunk")
        flipBit(at: offset + 40 + 2)  // inside the payload "partial"
        let result = cli("verify")
        #expect(result.status == 1)
        let lines = result.lines
        #expect(lines.first?.hasPrefix("offset \(offset): checksum mismatch") == true, "\(lines)")
        #expect(
            lines.contains {
                $0.contains(#/^damaged: \d+ problems? in /#) && $0.hasSuffix("valid up to offset \(offset) (6 records)")
            })

        let json = try json(cli("verify", "-o", "json").stdout)
        #expect(json["clean"] as? Bool == false)
        let problems = try #require(json["problems"] as? [[String: Any]])
        #expect(problems.first?["offset"] as? Int == Int(offset))

        let dump = cli("dump")
        #expect(dump.lines.contains { $0.contains(" \(offset)  chunk") && $0.contains("BAD") })
        // Reading the damaged chunk fails with its offset and what to run; never a wrong chunk.
        let show = cli("show", "chat-2")
        #expect(show.status == 1)
        #expect(show.stderr.hasPrefix("journalctl-stream: \(path) is damaged at byte offset \(offset): "))
        #expect(show.stderr.hasSuffix("run `journalctl-stream verify` and `repair`\n"))
    }

    /// A damaged header slot is one problem, and a writable open writes over it: verify
    /// sent the user to `repair`, a rewrite of the whole file, for a slot the next writer
    /// replaces anyway.
    @Test func verifySaysADamagedHeaderSlotNeedsNoRepair() throws {
        try Fixture.prepare(path)
        flipBit(at: 4096 + 20)
        let damaged = cli("verify")
        #expect(damaged.status == 1)
        #expect(damaged.stdout.contains("Only header slot B is damaged and the log is intact"), "\(damaged.stdout)")
        #expect(!damaged.stdout.contains("repair --dry-run"))
        // What the message promises: a writer's open and close leave both slots valid.
        try Journal(path: path).close()
        #expect(cli("verify").status == 0)
    }

    @Test func verifyClaimsNoValidRangeBeyondTheFile() throws {
        try Fixture.prepare(path)
        let short = directory.file("short.sj")
        try Data(contentsOf: URL(fileURLWithPath: path)).prefix(4096).write(to: URL(fileURLWithPath: short))
        let result = run(["--file", short, "verify"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("damaged: "), "\(result.stdout)")
        #expect(!result.stdout.contains("valid up to"), "\(result.stdout)")
    }

    // MARK: repair

    @Test func repairSalvagesValidRecordsKeepsTheDamagedFileAndReportsTheLoss() throws {
        try Fixture.prepare(path)
        let offset = try recordOffset("chat-1", type: "chunk", index: 1)
        flipBit(at: offset + 40)

        let dry = cli("repair", "--dry-run")
        #expect(dry.status == 0)
        #expect(dry.stdout.contains("damaged regions: 1"))
        #expect(dry.stdout.contains("would keep: 4 streams, 7 chunks"))
        #expect(dry.stdout.contains("dry run: nothing was written"))
        #expect(cli("verify").status == 1, "a dry run changes nothing")

        let result = cli("repair")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("kept: 4 streams, 7 chunks"))
        #expect(result.stdout.contains("lost: at least 2 chunks"))
        #expect(result.stdout.contains("chat-1: kept chunks 0..<1, lost 2, had ended completed"))
        #expect(cli("verify").status == 0)

        let entries = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        let kept = try #require(entries.first { $0.hasPrefix("journal.sj.damaged-") })
        #expect(!entries.contains("journal.sj.repaired"))
        #expect(try Journal.verify(path: directory.file(kept)).isClean == false)

        let journal = try Journal.openReadOnly(path: path)
        let chat1 = try journal.info(StreamID("chat-1"))
        #expect(chat1.status == .interrupted)
        #expect(chat1.chunkCount == 1)
        #expect(
            chat1.reason
                == "repair: chunks 1-2 were lost in damaged bytes at offset \(offset); the stream had ended completed")
        #expect(chat1.metadata == ["model": "small", "user": "ann"])
        var cursor = try journal.chunks(of: StreamID("bin-3"))
        #expect(try cursor.collect().map(\.bytes) == Fixture.binary)
        #expect(try journal.info(StreamID("bin-3")).reason == "user pressed stop")
        #expect(try journal.info(StreamID("open-4")).status == .open)

        let clean = cli("repair")
        #expect(clean.status == 0)
        #expect(clean.stdout == "\(path) verifies clean; nothing to repair\n")
    }

    @Test func repairResynchronisesAfterAZeroedPageAndKeepsEachStreamsPrefix() throws {
        var written: [String: [[UInt8]]] = [:]
        do {
            let journal = try Journal(path: path, options: JournalOptions(durability: .none))
            let ids = try (0..<5).map { try journal.createStream(StreamID("s\($0)")) }
            for index in 0..<60 {
                for (number, id) in ids.enumerated() {
                    let payload = Array("s\(number)-\(index)-".utf8) + [UInt8](repeating: 0x2E, count: index % 13)
                    try journal.append(payload, to: id)
                    written[id.rawValue, default: []].append(payload)
                }
            }
            for id in ids.dropLast() { try journal.complete(id) }
            try journal.close()
        }
        // A page the disk lost: zeros in the middle of the log.
        let fd = open(path, O_RDWR)
        let zeros = [UInt8](repeating: 0, count: 4096)
        #expect(pwrite(fd, zeros, zeros.count, 16384) == 4096)
        close(fd)

        let result = cli("repair", "-o", "json")
        #expect(result.status == 0, "\(result.stderr)")
        let report = try json(result.stdout)
        #expect(report["needed"] as? Bool == true)
        let regions = try #require(report["damagedRegions"] as? [[String: Any]])
        #expect(!regions.isEmpty)
        #expect(regions.allSatisfy { ($0["offset"] as! Int) >= 16384 - 128 && ($0["offset"] as! Int) < 16384 + 4096 })
        #expect(report["streamsKept"] as? Int == 5)
        let losses = try #require(report["streamLosses"] as? [[String: Any]])
        #expect(losses.count == 5)
        #expect(cli("verify").status == 0)

        let journal = try Journal.openReadOnly(path: path)
        for info in try journal.streams() {
            var cursor = try journal.chunks(of: info.id)
            let kept = try cursor.collect()
            let original = try #require(written[info.id.rawValue])
            // The same indices and bytes: a prefix of what was written, nothing shifted.
            #expect(kept.map(\.index) == Array(0..<kept.count))
            #expect(kept.map(\.bytes) == Array(original.prefix(kept.count)))
            #expect(kept.count < original.count)
            #expect(info.status == .interrupted)
            #expect(info.reason?.hasPrefix("repair: chunk") == true, "\(info.reason ?? "")")
        }
    }

    @Test func repairOfADamagedSnapshotLosesNothing() throws {
        try Fixture.prepare(path)
        let snapshot = try recordOffset("", type: "snapshot")
        flipBit(at: snapshot + 48)
        #expect(cli("verify").status == 1)
        let report = try json(cli("repair", "-o", "json").stdout)
        #expect(report["nothingLost"] as? Bool == true)
        #expect((report["damagedRegions"] as? [[String: Any]])?.first?["isSnapshot"] as? Bool == true)
        #expect(cli("verify").status == 0)
        let journal = try Journal.openReadOnly(path: path)
        #expect(try journal.streams().map(\.status) == [.completed, .failed, .cancelled, .open])
    }

    /// Counts of one are in the singular: "would keep: 1 streams, 1 chunks" was printed.
    @Test func repairAndInfoCountOneInTheSingular() throws {
        let lines = #"{"event":"open","stream":"a","metadata":{}}"# + "\n" + #"{"stream":"a","index":0,"text":"hi"}"#
        let input = directory.file("one.jsonl")
        _ = FileManager.default.createFile(atPath: input, contents: Data((lines + "\n").utf8))
        #expect(cli("import", input).status == 0)
        flipBit(at: 4096 + 20)  // header slot B
        let dry = cli("repair", "--dry-run")
        #expect(dry.stdout.contains("damaged: verify found 1 problem in "), "\(dry.stdout)")
        #expect(dry.stdout.contains("would keep: 1 stream, 1 chunk, 2 B of payload\n"), "\(dry.stdout)")
        #expect(
            cli("info").stdout.contains(
                #/Open +(loaded the snapshot at \d+, then scanned 0 records|no usable snapshot, scanned 3 records from the start)/#
            ))
    }

    @Test func commandsThatNeedTheWriterLockRefuseWhileAWriterRuns() throws {
        try Fixture.prepare(path)
        let writer = try Journal(path: path, options: JournalOptions(durability: .none))
        defer { try? writer.close() }
        let repair = cli("repair")
        #expect(repair.status == 1)
        #expect(
            repair.stderr.hasPrefix("journalctl-stream: repair needs the writer lock, but process \(getpid()) holds it")
        )
        let input = directory.file("empty.jsonl")
        _ = FileManager.default.createFile(atPath: input, contents: Data())
        let importing = cli("import", input)
        #expect(importing.status == 1)
        #expect(importing.stderr.hasPrefix("journalctl-stream: import needs the writer lock"))
        // The read-only commands work beside the writer.
        for command in [["list"], ["show", "chat-1"], ["info", "--disk-usage"], ["verify"], ["dump"], ["export"]] {
            let result = run(["--file", path] + command)
            #expect(result.status == 0, "\(command): \(result.stderr)")
        }
    }

    // MARK: compact

    @Test func compactDropsDeletedAndOldFinishedStreamsAndDryRunChangesNothing() throws {
        try Fixture.prepare(path)
        // A fixed cutoff after chat-2 and bin-3 finished and before fresh-5 does, so no
        // result depends on how fast the CLI starts (a sanitizer build is several times
        // slower). Waiting for the clock to pass a whole second is an age, not synchronisation.
        let cutoff = Int(Date().timeIntervalSince1970) + 1
        while Date().timeIntervalSince1970 <= Double(cutoff) { usleep(10_000) }
        do {
            let options = JournalOptions(durability: .none, openStreams: .keepOpen(staleAfter: .seconds(3600)))
            let journal = try Journal(path: path, options: options)
            let fresh = try journal.createStream(StreamID("fresh-5"))
            try journal.append("new", to: fresh)
            try journal.complete(fresh)
            try journal.deleteStream(StreamID("chat-1"))
            try journal.close()
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let entries = try FileManager.default.contentsOfDirectory(atPath: directory.path)

        let young = cli("compact", "--older-than", "1h", "--dry-run")
        #expect(young.status == 0, "\(young.stderr)")
        #expect(young.stdout.contains("would drop       0\n"), "nothing finished an hour ago: \(young.stdout)")
        let dry = cli("compact", "--before", "@\(cutoff)", "--dry-run")
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.hasPrefix("dry run: nothing was compacted"))
        #expect(dry.stdout.contains("would drop       2: chat-2, bin-3\n"), "\(dry.stdout)")
        #expect(dry.stdout.contains("deleted streams  1 to reclaim\n"), "\(dry.stdout)")
        let dryJSON = try json(cli("compact", "--before=@\(cutoff)", "--dry-run", "-o", "json").stdout)
        #expect(dryJSON["dryRun"] as? Bool == true)
        #expect(dryJSON["streamsDropped"] as? [String] == ["chat-2", "bin-3"])
        // chat-1 was deleted before the copy was opened: only its records in the log say so.
        #expect(dryJSON["deletedStreamsReclaimed"] as? Int == 1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before, "a dry run leaves the file as it was")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == entries)

        let result = cli("compact", "--before", "@\(cutoff)", "-o", "json")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty, "no progress bar when standard error is not a terminal")
        let report = try json(result.stdout)
        #expect(report["dryRun"] as? Bool == false)
        #expect(report["streamsDropped"] as? [String] == ["chat-2", "bin-3"])
        #expect(report["deletedStreamsReclaimed"] as? Int == 1)
        #expect(report["streamsKept"] as? Int == 2)
        #expect((report["logBytesAfter"] as! Int) < (report["logBytesBefore"] as! Int))
        #expect(report["durationMs"] as? Int != nil)
        #expect(report["pauseMs"] as? Int != nil)

        let ids = try cli("list", "-o", "json").lines.map { try json($0)["id"] as? String }
        #expect(ids == ["open-4", "fresh-5"])
        #expect(cli("show", "open-4").stdout == "still\n-- open (1 chunk so far; -f follows it) --\n")
        #expect(cli("verify").status == 0)
        // The deleted stream's records are gone from the file.
        let streams = try cli("dump", "-o", "json").lines.map { try json($0)["stream"] as? String }
        #expect(!streams.contains("chat-1") && !streams.contains("chat-2") && streams.contains("fresh-5"))

        let again = cli("compact")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("streams dropped  0\n"), "\(again.stdout)")
        #expect(again.stdout.contains("compacted: \(path)"))
        // An age of zero: every finished stream has finished longer ago than that.
        let all = cli("compact", "--older-than", "0s")
        #expect(all.stdout.contains("streams dropped  1: fresh-5\n"), "\(all.stdout)")
        #expect(try cli("list", "-o", "json").lines.map { try json($0)["id"] as? String } == ["open-4"])
    }

    @Test func compactAndImportLeaveAStreamOpenHoweverLongAgoItsLastRecord() throws {
        // 150 years without an append: older than any stale time a writer would choose.
        let longAgo = Int64(Date().timeIntervalSince1970 * 1e6) - 150 * 365 * 86_400 * 1_000_000
        let open = CraftedJournal.record(
            type: 1, stream: 1, timestamp: longAgo, body: CraftedJournal.openBody("old-open"))
        CraftedJournal.write(path, records: [open])
        #expect(cli("verify").status == 0)
        for arguments in [["compact", "--dry-run", "-o", "json"], ["compact", "-o", "json"]] {
            let result = run(["--file", path] + arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            #expect(try json(result.stdout)["streamsKept"] as? Int == 1, "\(arguments)")
            #expect(try json(cli("list", "-o", "json").stdout)["status"] as? String == "open", "\(arguments)")
        }
        CraftedJournal.write(path, records: [open])
        let empty = directory.file("empty.jsonl")
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        #expect(cli("import", empty).status == 0)
        #expect(try json(cli("list", "-o", "json").stdout)["status"] as? String == "open", "after import")
    }

    @Test func compactRefusesWhileAnotherWriterHoldsTheLock() throws {
        try Fixture.prepare(path)
        let writer = try Journal(path: path, options: JournalOptions(durability: .none))
        defer { try? writer.close() }
        for arguments in [["compact"], ["compact", "--dry-run"]] {
            let result = run(["--file", path] + arguments)
            #expect(result.status == 1, "\(arguments)")
            #expect(result.stdout.isEmpty)
            #expect(
                result.stderr
                    == "journalctl-stream: compaction needs the writer lock, but process \(getpid()) holds it on "
                    + "\(path); the running writer (e.g. journal-server) compacts the journal automatically\n")
        }
    }

    /// A dry run interrupted by Ctrl-C or a kill removes its copy of the journal; one killed
    /// with SIGKILL leaves it, and the next writable open removes it. The copy used to be
    /// removed only when the dry run returned, so every interrupted one left a full copy.
    @Test(arguments: [SIGINT, SIGTERM, SIGKILL])
    func anInterruptedDryRunLeavesNoCopyBehind(signal: Int32) throws {
        try Fixture.prepare(path)
        func copies() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".dry-run-") }
        }
        let dry = CLIProcess(
            ["--file", path, "compact", "--dry-run"], environment: ["JOURNAL_FAILPOINT": "dry-run-after-copy"],
            directory: directory.path)
        #expect(dry.waitForStderr { $0.contains("failpoint dry-run-after-copy") }, "\(dry.stderr)")
        #expect(try copies() == ["journal.sj.dry-run-\(dry.pid)"])
        dry.signal(signal)
        #expect(dry.waitForExit() == 128 + signal)
        if signal == SIGKILL {
            #expect(try copies().count == 1)
            let compacted = cli("compact")
            #expect(compacted.status == 0, "\(compacted.stderr)")
        }
        #expect(try copies() == [])
    }

    /// A dry run started with SIGHUP ignored (`nohup`, a script's background job) died on a
    /// hangup: the handler that removes its copy replaced the inherited SIG_IGN (exit 129).
    /// The hangup is now ignored, and a SIGTERM after it still removes the copy.
    @Test func aDryRunStartedWithHangupsIgnoredIgnoresThem() throws {
        try Fixture.prepare(path)
        let dry = CLIProcess(
            ["-c", "trap '' HUP; exec \"$0\" \"$@\"", CLIProcess.executable, "--file", path, "compact", "--dry-run"],
            executable: "/bin/sh", environment: ["JOURNAL_FAILPOINT": "dry-run-after-copy"], directory: directory.path)
        #expect(dry.waitForStderr { $0.contains("failpoint dry-run-after-copy") }, "\(dry.stderr)")
        dry.signal(SIGHUP)
        // The term only once the hangup is no longer pending: taken by the handler (which
        // then ends the process with it) or discarded, ignored. Sent together, the kernel ran
        // both handlers and the term's ended the process first, either way.
        func hangupPending() -> Bool {
            let status = (try? String(contentsOfFile: "/proc/\(dry.pid)/status", encoding: .utf8)) ?? ""
            return status.split(separator: "\n").contains { line in
                (line.hasPrefix("SigPnd:") || line.hasPrefix("ShdPnd:"))
                    && (UInt64(line.split(separator: "\t").last ?? "", radix: 16) ?? 0) & 1 != 0
            }
        }
        let deadline = Date().addingTimeInterval(10)
        while hangupPending() && Date() < deadline { sched_yield() }
        dry.signal(SIGTERM)
        #expect(dry.waitForExit() == 128 + SIGTERM)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".dry-run-") }
                == [])
    }

    // MARK: dump

    @Test func dumpListsEveryRecordWithOffsetTypeStreamIndexLengthAndChecksum() throws {
        try Fixture.prepare(path)
        let result = cli("dump")
        #expect(result.status == 0)
        let lines = result.lines
        #expect(lines[0].hasPrefix("    OFFSET  TYPE"))
        let types = lines.dropFirst().map { $0.split(separator: " ")[1] }
        #expect(
            types == [
                "open", "chunk", "chunk", "chunk", "completed", "open", "chunk", "failed", "open", "chunk", "chunk",
                "chunk", "chunk", "cancelled", "open", "chunk", "snapshot", "end",
            ])
        #expect(lines[1].wholeMatch(of: #/      8192  open +chat-1 \(#1\) +0 +\d+ +1  ok/#) != nil, "\(lines[1])")
        #expect(lines[2].contains(#/chunk +chat-1 \(#1\) +0 +3 +1  ok/#))

        let second = try recordOffset("chat-1", type: "chunk", index: 1)
        let from = cli("dump", "--offset", "\(second)", "-n", "2", "-o", "json")
        #expect(from.lines.count == 2)
        #expect(try json(from.lines[0])["offset"] as? Int == Int(second))
        #expect(try json(from.lines[1])["stream"] as? String == "chat-1")
        #expect(try json(from.lines[1])["checksum"] as? String == "ok")
    }

    @Test func dumpRefusesAnOffsetPastTheFileAndAFileWithoutALog() throws {
        try Fixture.prepare(path)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        let beyond = cli("dump", "--offset", "\((size / 8 + 1) * 8)")
        #expect(beyond.status == 64)
        #expect(beyond.stderr.contains("is beyond the end of the file (\(size) bytes)"), "\(beyond.stderr)")
        #expect(beyond.stdout.isEmpty, "no column titles without a row")

        let short = directory.file("short.sj")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(5000).write(to: URL(fileURLWithPath: short))
        let truncated = run(["--file", short, "dump"])
        #expect(truncated.status == 1)
        #expect(truncated.stderr.contains("shorter than the 8192-byte header area"), "\(truncated.stderr)")
        #expect(truncated.stdout.isEmpty)
        // With --offset the damage is still damage: exit 1, naming the file, not a usage error.
        let truncatedFrom = run(["--file", short, "dump", "--offset", "8192"])
        #expect(truncatedFrom.status == 1, "\(truncatedFrom.stderr)")
        #expect(
            truncatedFrom.stderr.hasPrefix("journalctl-stream: \(short) is damaged at byte offset 5000: the file is"),
            "\(truncatedFrom.stderr)")

        let folder = run(["--file", directory.path, "list"])
        #expect(folder.status == 1)
        #expect(folder.stderr.contains("is a directory; name the journal file itself"), "\(folder.stderr)")
    }

    @Test func jsonShowsUInt64FieldsAbove2To63Exactly() throws {
        try Fixture.prepare(path)
        let offset = try recordOffset("chat-1", type: "chunk", index: 1)
        patch(at: offset + 32, [UInt8](repeating: 0xFF, count: 8))  // the record's `previous`
        let dump = cli("dump", "-o", "json")
        #expect(dump.status == 0, "\(dump.stderr)")
        #expect(dump.lines.count == 18, "as many entries as the text dump: \(dump.lines)")
        for line in dump.lines {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "\(line)")
        }
        let damaged = try #require(dump.lines.first { $0.hasPrefix(#"{"offset":\#(offset),"#) })
        #expect(damaged.contains(#""previous":18446744073709551615,"#), "\(damaged)")

        // A current header slot whose sequence is 2^63 (both slots valid, FORMAT.md §3).
        let crafted = directory.file("sequence.sj")
        CraftedJournal.write(crafted, sequences: (1 << 63 - 1, 1 << 63), records: [])
        let info = run(["--file", crafted, "info", "-o", "json"])
        #expect(info.status == 0, "\(info.stderr)")
        #expect((try? JSONSerialization.jsonObject(with: Data(info.stdoutBytes))) != nil, "\(info.stdout)")
        #expect(info.stdout.contains(#""sequence":9223372036854775808,"#), "\(info.stdout)")
        #expect(info.stdout.contains(#""sequence":9223372036854775807,"#), "\(info.stdout)")
    }

    // MARK: export and import

    @Test func exportPipedIntoImportRebuildsStreamsByteForByte() throws {
        try Fixture.prepare(path)
        // Every byte value, invalid UTF-8, NUL, CR, a separator character, emoji.
        do {
            // keepOpen: reopening must not interrupt open-4, which the export carries as open.
            let options = JournalOptions(durability: .none, openStreams: .keepOpen(staleAfter: .seconds(3600)))
            let journal = try Journal(path: path, options: options)
            let id = try journal.createStream(StreamID("bytes-5"), metadata: ["k\"ey": "v\nal\u{2028}"])
            try journal.append((0...255).map { UInt8($0) }, to: id)
            try journal.append(Array("😀 \u{0} \r \\ \" \u{2028}".utf8), to: id)
            try journal.append([0xC0, 0x80, 0xED, 0xA0, 0x80], to: id)
            try journal.finish(id, status: .completed, reason: "a completion note")
            try journal.close()
        }
        let copy = directory.file("copy.sj")
        let binary = CLIProcess.executable
        let pipeline = "'\(binary)' --file '\(path)' export | '\(binary)' --file '\(copy)' import"
        let piped = CLIProcess(["-c", pipeline], executable: "/bin/sh", directory: directory.path)
        #expect(piped.waitForExit() == 0, "\(piped.stderr)")
        #expect(
            String(decoding: piped.stdoutBytes, as: UTF8.self) == "imported 5 streams, 12 chunks (312 B) into \(copy)\n"
        )

        let original = try Journal.openReadOnly(path: path)
        let imported = try Journal.openReadOnly(path: copy)
        let before = try original.streams()
        let after = try imported.streams()
        #expect(after.map(\.id) == before.map(\.id))
        for (old, new) in zip(before, after) {
            #expect(new.status == old.status)
            #expect(new.reason == old.reason)
            #expect(new.metadata == old.metadata)
            #expect(new.chunkCount == old.chunkCount)
            var a = try original.chunks(of: old.id)
            var b = try imported.chunks(of: new.id)
            #expect(try a.collect().map(\.bytes) == b.collect().map(\.bytes), "\(old.id)")
        }
        // Exports agree apart from timestamps, which are not preserved.
        let stamp = #/"timestamp":\d+/#
        let first = cli("export").stdout.replacing(stamp, with: "")
        let second = run(["--file", copy, "export"]).stdout.replacing(stamp, with: "")
        #expect(first == second)
        #expect(first.split(separator: "\n").count == 5 + 12 + 4)

        // Importing again changes nothing.
        let export = directory.file("export.jsonl")
        _ = FileManager.default.createFile(atPath: export, contents: Data(cli("export").stdoutBytes))
        let again = run(["--file", copy, "import", "-o", "json"], stdin: export)
        #expect(again.status == 0)
        let summary = try json(again.stdout)
        #expect(summary["recordsApplied"] as? Int == 0)
        #expect(summary["recordsAlreadyPresent"] as? Int == 21)
        #expect(try imported.info(StreamID("open-4")).status == .open)
    }

    @Test func importRejectsALineThatContradictsTheJournal() throws {
        let input = directory.file("bad.jsonl")
        let lines = [
            #"{"event":"open","stream":"s","metadata":{}}"#,
            #"{"stream":"s","index":0,"text":"a"}"#,
            #"{"stream":"s","index":2,"text":"c"}"#,
        ]
        _ = FileManager.default.createFile(atPath: input, contents: Data((lines.joined(separator: "\n") + "\n").utf8))
        let result = cli("import", input)
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("journalctl-stream: line 3 of \(input): cannot append chunk 2 to stream \"s\""))
        #expect(try Journal.openReadOnly(path: path).info(StreamID("s")).chunkCount == 1)

        _ = FileManager.default.createFile(atPath: input, contents: Data("{\"stream\":\n".utf8))
        let broken = cli("import", input)
        #expect(broken.status == 1)
        #expect(broken.stderr.hasPrefix("journalctl-stream: line 1 of \(input): "))

        // A malformed line after good ones says the good ones went in, as a conflict does.
        let late = "{\"event\":\"open\",\"stream\":\"t\",\"metadata\":{}}\n{\"stream\":\n"
        _ = FileManager.default.createFile(atPath: input, contents: Data(late.utf8))
        let partial = cli("import", input)
        #expect(partial.status == 1)
        #expect(partial.stderr.hasPrefix("journalctl-stream: line 2 of \(input): "), "\(partial.stderr)")
        #expect(partial.stderr.contains("; the lines before it were imported"), "\(partial.stderr)")
        #expect(try Journal.openReadOnly(path: path).info(StreamID("t")).status == .open)

        // Blank lines are not records: a bad line after only those imported nothing.
        _ = FileManager.default.createFile(atPath: input, contents: Data("\n\n{\"stream\":\n".utf8))
        let blank = cli("import", input)
        #expect(blank.stderr.hasPrefix("journalctl-stream: line 3 of \(input): "), "\(blank.stderr)")
        #expect(!blank.stderr.contains("the lines before it were imported"), "\(blank.stderr)")

        // One of each is counted in the singular ("imported 1 streams, 1 chunks").
        let single = #"{"event":"open","stream":"u","metadata":{}}"# + "\n" + #"{"stream":"u","index":0,"text":"x"}"#
        _ = FileManager.default.createFile(atPath: input, contents: Data((single + "\n").utf8))
        #expect(cli("import", input).stdout == "imported 1 stream, 1 chunk (1 B) into \(path)\n")
        #expect(
            cli("import", input).stdout
                == "imported 0 streams, 0 chunks (0 B) into \(path); 2 records were already there\n")
    }

    @Test func errorsNameTheUsersPathNotACopyOrARawSystemCall() throws {
        let text = directory.file("notes.txt")
        try Data("just some text\n".utf8).write(to: URL(fileURLWithPath: text))
        let dry = run(["--file", text, "compact", "--dry-run"])
        #expect(dry.status == 1)
        #expect(dry.stderr.hasPrefix("journalctl-stream: \(text) is not a StreamJournal file: "), "\(dry.stderr)")
        #expect(!dry.stderr.contains(".dry-run-"), "\(dry.stderr)")

        let folder = directory.file("adir")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        let expected =
            "journalctl-stream: \(folder) is not a StreamJournal file: it is a directory; name the journal file "
            + "itself (for example \(folder)/journal.sj); check the path\n"
        for arguments in [["list"], ["compact"], ["compact", "--dry-run"], ["repair"], ["repair", "--dry-run"]] {
            let result = run(["--file", folder] + arguments)
            #expect(result.status == 1, "\(arguments)")
            #expect(result.stderr == expected, "\(arguments)")
        }

        // import reads its input before it creates the journal.
        let fresh = directory.file("fresh.sj")
        let fromFolder = run(["--file", fresh, "import", folder])
        #expect(fromFolder.status == 1)
        #expect(
            fromFolder.stderr
                == "journalctl-stream: cannot read \(folder): it is a directory; name a file of export lines, "
                + "or - for standard input\n")
        #expect(!FileManager.default.fileExists(atPath: fresh))
        let bad = directory.file("bad.jsonl")
        try Data("{bad\n".utf8).write(to: URL(fileURLWithPath: bad))
        let badFirstLine = run(["--file", fresh, "import", bad])
        #expect(badFirstLine.status == 1)
        #expect(badFirstLine.stderr.hasPrefix("journalctl-stream: line 1 of \(bad): "), "\(badFirstLine.stderr)")
        #expect(!FileManager.default.fileExists(atPath: fresh), "no empty journal left behind")
        let fromStandardInput = run(["--file", fresh, "import"], stdin: bad)
        #expect(fromStandardInput.stderr.hasPrefix("journalctl-stream: line 1 of standard input: "))
        #expect(!FileManager.default.fileExists(atPath: fresh))
    }

    // MARK: usage, help, environment

    @Test(arguments: [
        ["frobnicate"], ["list", "--nope"], ["show"], ["show", "a", "b"], ["show", "a", "-o", "xml"],
        ["show", "a", "--from"], ["show", "a", "--from", "x"], ["dump", "--offset", "12"],
        ["list", "--status", "weird"],
        ["list", "--since", "someday"], ["list", "--sort", "size"], ["verify", "--follow"], [], ["--file"],
        ["list", "-r=1"], ["compact", "--older-than", "soon"], ["compact", "--older-than", "5x"],
        ["compact", "--before", "tomorrow"], ["compact", "--before", "@99999999999999"],
        ["list", "--since", "99999999999999w"], ["list", "--since", "@-99999999999999"],
        ["compact", "--max-size", "lots"], ["compact", "extra"], ["show", "bad/id"], ["follow", "--stream", "a b"],
        ["export", "--stream", ""], ["--file=", "list"], ["list", "-rf"], ["-n", "5", "show", "a"],
        ["show", "chat-1", "-f-"],
    ])
    func usageErrorsExit64WithAUsageLine(arguments: [String]) throws {
        try Fixture.prepare(path)
        let result = run(["--file", path] + arguments)
        #expect(result.status == 64, "\(arguments)")
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.first?.hasPrefix("journalctl-stream: ") == true)
        #expect(lines.dropFirst().first?.hasPrefix("usage: journalctl-stream ") == true)
        #expect(lines.last?.hasPrefix("Run 'journalctl-stream") == true)
        if let command = arguments.first, !["frobnicate", "--file", "--file=", "-n"].contains(command) {
            #expect(lines[1].hasPrefix("usage: journalctl-stream \(command)"), "\(lines[1])")
        }
    }

    @Test(arguments: [
        "2026-02-31", "2025-02-29", "2026-04-31", "2026-00-10", "2026-11-00", "2026-+1-22", "+026-11-22",
        "2026-11-+2", "2026-11-22T24:00", "2026-11-22T10:60", "2026-11-22T10:00:60", "2026-11-22T+1:00",
        "2026-11-22T10:00+24:00", "2026-11-22T10:00+05:60", "2026-11-22T10:00-+1:00",
    ])
    func datesAndTimesThatDoNotExistAreUsageErrorsQuotingTheInput(time: String) throws {
        try Fixture.prepare(path)
        for arguments in [["list", "--since", time], ["compact", "--before", time, "--dry-run"]] {
            let result = run(["--file", path] + arguments)
            #expect(result.status == 64, "\(arguments): \(result.stderr)")
            let first = result.stderr.split(separator: "\n").first ?? ""
            #expect(first.hasPrefix("journalctl-stream: cannot read '\(time)' as a time for \(arguments[1]); use "))
            #expect(first.contains("@UNIXSECONDS") && first.contains("2026-11-22T10:00") && first.contains("+HH:MM"))
        }
    }

    @Test func datesAndTimesAtTheEndsOfTheirRangesAreAccepted() throws {
        try Fixture.prepare(path)
        for time in [
            "2024-02-29", "2000-02-29", "2026-12-31", "2026-11-22T23:59:59Z", "2026-11-22 00:00+14:00",
            "2026-11-22T10:00-0930", "2026-11-22T10:00:00+23:59",
        ] {
            let result = cli("list", "--since", time)
            #expect(result.status == 0, "\(time): \(result.stderr)")
        }
    }

    @Test func verifyCallsAFileWithoutTheSignatureNotAJournal() throws {
        let text = directory.file("notes.txt")
        try Data(String(repeating: "just some text\n", count: 1000).utf8).write(to: URL(fileURLWithPath: text))
        let result = run(["--file", text, "verify"])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderr.hasPrefix(
                "journalctl-stream: \(text) is not a StreamJournal file: no StreamJournal signature"),
            "\(result.stderr)")
    }

    /// getopt's conventions, as journalctl follows them: bundled flags, the command word after
    /// `--`, and an option given before its command named as such. `-rf` was "option '-r'
    /// takes no value", `-- list` was "no command given", and `-n 5 show` "unknown option".
    @Test func bundledFlagsAndTheCommandAfterDoubleDash() throws {
        try Fixture.prepare(path)
        #expect(cli("show", "chat-1", "-fn1").stdout == " world\n-- completed (3 chunks) --\n")
        #expect(cli("list", "-rf").stderr.hasPrefix("journalctl-stream: unknown option '-f' for 'list'\n"))
        let afterDashes = run(["--file", path, "-o", "json", "--", "list"])
        #expect(afterDashes.status == 0, "\(afterDashes.stderr)")
        #expect(afterDashes.lines.count == 4)
        #expect(
            run(["--file", path, "-n", "5", "show", "chat-1"]).stderr.hasPrefix(
                "journalctl-stream: option '-n' belongs to 'show' and 'dump'; put it after the command\n"))
        #expect(run(["--file=", "list"]).stderr.hasPrefix("journalctl-stream: --file needs a path\n"))
    }

    /// A failed system call says what to do next. A missing directory and a path through a
    /// file printed the bare call ("create failed on ...: No such file or directory").
    @Test func failedSystemCallsSayWhatToDoNext() throws {
        try Fixture.prepare(path)
        let missing = directory.file("nodir/x.sj")
        let create = run(["--file", missing, "import"], stdin: "/dev/null")
        #expect(create.status == 1)
        #expect(create.stderr.contains("a directory on the path does not exist: create it, or pass another --file"))
        let through = run(["--file", path + "/x.sj", "list"])
        #expect(through.status == 1)
        #expect(through.stderr.contains("is not a directory: check --file"), "\(through.stderr)")
    }

    /// Permissions, as an unprivileged user (this needs root to switch to one, as CI has).
    @Test(.enabled(if: getuid() == 0)) func aFileTheUserCannotOpenNamesPermissions() throws {
        try Fixture.prepare(path)
        // The test directory is root's, mode 0700: nobody cannot reach the file.
        let denied = CLIProcess(
            ["--reuid=65534", "--regid=65534", "--clear-groups", CLIProcess.executable, "--file", path, "list"],
            executable: "/usr/bin/setpriv", directory: directory.path)
        #expect(denied.waitForExit() == 1, "\(denied.stderr)")
        #expect(denied.stderr.contains("check the permissions of the file and of its directories"), "\(denied.stderr)")
    }

    /// Dates before 1970 round down, and a year no ISO 8601 date has is a dash. -1,500 µs
    /// printed "1970-01-01T00:00:00.0-1Z" and Int64.min "-290308-12-21T19:59:06.-775Z".
    @Test func timesBefore1970AndOutOfRangeArePrintedProperly() throws {
        for (createdAt, expected) in [(Int64(-1500), "1969-12-31T23:59:59.998Z"), (.min, "-")] {
            CraftedJournal.write(path, createdAt: createdAt, records: [])
            let result = cli("info")
            #expect(result.status == 0, "\(result.stderr)")
            #expect(
                result.lines.contains { $0.wholeMatch(of: #/Created +(\S+)/#)?.1 == expected[...] }, "\(result.lines)")
        }
    }

    /// A stream named twice is exported once (the lines of one export are one per chunk).
    @Test func exportingAStreamNamedTwiceWritesItOnce() throws {
        try Fixture.prepare(path)
        let twice = cli("export", "--stream", "chat-1", "--stream", "chat-1")
        #expect(twice.status == 0)
        #expect(twice.stdout == cli("export", "--stream", "chat-1").stdout)
        #expect(twice.lines.count == 5, "open, three chunks, end")
    }

    @Test func usageErrorsNameTheValuesThatWouldWork() throws {
        try Fixture.prepare(path)
        let status = run(["--file", path, "list", "--status", "weird"])
        #expect(
            status.stderr.hasPrefix("journalctl-stream: unknown status 'weird'; use one of open, completed, failed"))
        let sort = run(["--file", path, "list", "--sort", "size"])
        #expect(sort.stderr.hasPrefix("journalctl-stream: cannot sort by 'size'; use created, updated, id, status"))
        let id = run(["--file", path, "show", "bad/id"])
        #expect(
            id.stderr.hasPrefix("journalctl-stream: \"bad/id\" is not a valid stream id: it contains the character '/'")
        )
    }

    @Test func helpAndVersion() throws {
        let help = run(["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.hasPrefix("journalctl-stream: "))
        for command in ["list", "show", "follow", "info", "verify", "repair", "compact", "dump", "export", "import"] {
            #expect(help.stdout.contains("\n  \(command) "), "\(command) is listed")
            let own = run([command, "--help"])
            #expect(own.status == 0)
            #expect(own.stdout.hasPrefix("usage: journalctl-stream \(command)"))
            #expect(own.stdout.contains("--file PATH"))
            #expect(run(["-h", command]).stdout == own.stdout)
        }
        let version = run(["--version"])
        #expect(version.status == 0)
        #expect(
            version.stdout.wholeMatch(of: #/journalctl-stream \d+\.\d+\.\d+ \(StreamJournal file format 1\)\n/#) != nil)
    }

    @Test func theJournalComesFromFileThenJournalFileThenTheDefault() throws {
        try Fixture.prepare(path)
        let fromEnvironment = run(["list", "-o", "json"], environment: ["JOURNAL_FILE": path])
        #expect(fromEnvironment.lines.count == 4)
        let missing = directory.file("missing.sj")
        let flagWins = run(["--file", missing, "list"], environment: ["JOURNAL_FILE": path])
        #expect(flagWins.status == 1)
        #expect(
            flagWins.stderr == "journalctl-stream: no journal at \(missing); pass --file PATH or set JOURNAL_FILE\n")
        // The default is ./journal.sj in the working directory, which the fixture is in.
        let command = "cd '\(directory.path)' && exec '\(CLIProcess.executable)' list -o json"
        let byDefault = CLIProcess(["-c", command], executable: "/bin/sh", directory: directory.path)
        #expect(byDefault.waitForExit() == 0)
        #expect(String(decoding: byDefault.stdoutBytes, as: UTF8.self).split(separator: "\n").count == 4)
    }

    @Test func colorsOnlyOnATerminalAndNeverWithNoColor() throws {
        try Fixture.prepare(path)
        // Output here goes to files: never a terminal, so never an escape sequence, even
        // with NO_COLOR unset.
        let result = run(["--file", path, "list"], environment: ["NO_COLOR": ""])
        #expect(!result.stdout.contains("\u{1B}["))
        #expect(!cli("verify").stdout.contains("\u{1B}["))
    }
}
