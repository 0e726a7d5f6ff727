import TestSupport
import Testing

@testable import Journal

#if canImport(Glibc)
    import Glibc
#endif

/// Tests with a second, real process: killed mid-append, holding the lock, writing while
/// this process reads, or running out of file-size quota.
@Suite(.serialized) struct ProcessTests {
    /// Iterations of the kill loop; CI may raise it with `JOURNAL_KILL_ITERATIONS`.
    static var killIterations: Int {
        getenv("JOURNAL_KILL_ITERATIONS").flatMap { Int(String(cString: $0)) } ?? 24
    }

    @Test(arguments: ["every-interrupt", "every-keep-open", "none-interrupt", "interval-interrupt"])
    func killingAWriterLosesNoAcknowledgedChunk(variant: String) throws {
        let durability = String(variant.prefix { $0 != "-" })
        let keepOpen = variant.hasSuffix("keep-open")
        let path = TestDirectory().file("kill.sj")
        let streams = 3
        var generator = SystemRandomNumberGenerator()
        var acknowledged = [Int](repeating: 0, count: streams)
        var previousPrefix: String?
        for iteration in 0..<Self.killIterations {
            // Under keep-open the same producer comes back to the same streams; otherwise
            // each life of the writer starts new ones and recovery ends the old ones.
            let prefix = keepOpen ? "stream" : "life\(iteration)"
            if !keepOpen { acknowledged = [Int](repeating: 0, count: streams) }
            let child = ChildProcess([
                "append-forever", path, "\(streams)", durability, keepOpen ? "keep-open" : "interrupt", prefix,
            ])
            #expect(child.readLine(startingWith: "ready") != nil, "iteration \(iteration): child did not start")
            let target = Int.random(in: 1...300, using: &generator)
            var seen = 0
            while seen < target, let line = child.readLine() {
                let words = line.split(separator: " ")
                guard words.first == "ack" else { continue }
                let stream = Int(words[1])!
                let index = Int(words[2])!
                #expect(index == acknowledged[stream], "iteration \(iteration): acks out of order")
                acknowledged[stream] = index + 1
                seen += 1
            }
            child.kill()
            // Acks already in the pipe were acknowledged before the kill: count them too.
            while let line = child.readLine() {
                let words = line.split(separator: " ")
                if words.first == "ack" { acknowledged[Int(words[1])!] = Int(words[2])! + 1 }
            }
            #expect(child.waitForExit() == 128 + SIGKILL, "iteration \(iteration)")

            let reader = try Journal.openReadOnly(path: path)
            for s in 0..<streams {
                let id = try StreamID("\(prefix)-\(s)")
                let info = try reader.info(id)
                // Every acknowledged chunk survives; one more may have been written unacknowledged.
                #expect(info.chunkCount >= acknowledged[s] && info.chunkCount <= acknowledged[s] + 1)
                #expect(info.status == .open)
                var cursor = try reader.chunks(of: id)
                var index = 0
                while let chunk = try cursor.next() {
                    #expect(chunk.bytes == childPayload(stream: s, index: index), "iteration \(iteration)")
                    index += 1
                }
                #expect(index == info.chunkCount)
                acknowledged[s] = info.chunkCount
            }
            if let previousPrefix {
                // The previous life's streams were ended by this life's recovery.
                for s in 0..<streams {
                    let info = try reader.info(StreamID("\(previousPrefix)-\(s)"))
                    #expect(info.status == .interrupted, "iteration \(iteration)")
                }
            }
            if !keepOpen { previousPrefix = prefix }
            #expect(try Journal.verify(path: path).isClean, "iteration \(iteration)")
        }
        // The last writer died with its streams open: recovery decides their fate.
        let options = JournalOptions(
            durability: .none, openStreams: keepOpen ? .keepOpen(staleAfter: .seconds(3600)) : .interrupt)
        let recovered = try Journal(path: path, options: options)
        let lastPrefix = keepOpen ? "stream" : "life\(Self.killIterations - 1)"
        for s in 0..<streams {
            let status = try recovered.info(StreamID("\(lastPrefix)-\(s)")).status
            #expect(status == (keepOpen ? .open : .interrupted))
        }
        try recovered.close()
    }

    @Test func aReaderInAnotherProcessSeesChunksCommittedAfterItOpened() throws {
        let path = TestDirectory().file("shared.sj")
        let child = ChildProcess(["writer", path])
        #expect(child.readLine() == "ready")
        child.send("create live")
        #expect(child.readLine() == "done")
        child.send("append live 5")
        #expect(child.readLine() == "done")
        let reader = try Journal.openReadOnly(path: path)
        let id = try StreamID("live")
        #expect(try reader.info(id).chunkCount == 5)
        // Enough to grow the file past the reader's first look at its size.
        child.send("append live 3000")
        #expect(child.readLine() == "done")
        #expect(try reader.info(id).chunkCount == 3005)
        var cursor = try reader.chunks(of: id, from: 2990)
        #expect(try cursor.collect().map(\.bytes) == (2990..<3005).map { childPayload(stream: 0, index: $0) })
        child.send("complete live")
        #expect(child.readLine() == "done")
        #expect(try reader.info(id).status == .completed)
        child.send("quit")
        #expect(child.readLine() == "bye")
        #expect(child.waitForExit() == 0)
    }

    @Test func aWriterInAnotherProcessHoldsTheLockAndIsNamed() throws {
        let path = TestDirectory().file("held.sj")
        let child = ChildProcess(["hold-lock", path])
        let line = child.readLine(startingWith: "locked")
        #expect(line == "locked \(child.pid)")
        #expect(throws: JournalError.locked(path: path, pid: child.pid)) { try Journal(path: path) }
        #expect(throws: Never.self) { try Journal.openReadOnly(path: path) }
        child.closeInput()
        #expect(child.waitForExit() == 0)
        try Journal(path: path).close()
    }

    /// The limit makes `fallocate` fail with EFBIG, as a full disk fails it with ENOSPC: the
    /// append that needed the room fails, and so does the next while the limit holds, but
    /// the handle is not poisoned (FORMAT.md §10): once the limit is lifted it appends again.
    @Test func runningOutOfSpaceFailsTheAppendsThatNeedRoomAndNotTheWriter() throws {
        let path = TestDirectory().file("full.sj")
        // Limit the file to 4 MiB: the first growth of the preallocation hits it.
        let child = ChildProcess(["file-size-limit", path, "\(4 << 20)"])
        var acked = 0
        var failure: String?
        var second: String?
        var third: String?
        while let line = child.readLine() {
            if line.hasPrefix("ack ") { acked += 1 }
            if line.hasPrefix("error ") { failure = line }
            if line.hasPrefix("second-") { second = line }
            if line.hasPrefix("third-") { third = line }
        }
        #expect(child.waitForExit() == 0)
        #expect(acked > 0)
        #expect(failure?.hasPrefix("error io ") == true, "\(failure ?? "no error")")
        #expect(failure?.contains("fallocate") == true)
        #expect(failure?.contains("free some space, then retry") == true)
        #expect(second == "second-error io")
        #expect(third == "third-ack \(acked)")
        let journal = try Journal(path: path)
        let id = try StreamID("full")
        #expect(try journal.info(id).chunkCount == acked + 1)
        #expect(try journal.info(id).status == .interrupted)
        #expect(try Journal.verify(path: path).isClean)
        try journal.close()
    }
}
