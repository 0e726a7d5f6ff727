// A child process for tests that need another process: one that is killed with SIGKILL
// mid-append, one that holds the writer lock, one that writes while the test reads, one that
// runs out of file-size quota. Each mode prints what it has acknowledged to stdout, one line
// per event, flushed, so the parent can hold it to account after killing it.

import Journal

#if canImport(Glibc)
    import Glibc
#endif

/// The payload of chunk `index` of stream `stream`: distinct, self-describing, varying length.
func payload(stream: Int, index: Int) -> [UInt8] {
    Array("s\(stream)-c\(index)-".utf8) + [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: index % 23)
}

func say(_ line: String) {
    print(line)
    fflush(nil)
}

func durability(_ name: String) -> Durability {
    switch name {
    case "none": return .none
    case "interval": return .interval(.milliseconds(5))
    default: return .everyAcknowledgement
    }
}

/// Blocks the main thread until a task signals.
final class Semaphore: @unchecked Sendable {
    private var semaphore = sem_t()
    init() { sem_init(&semaphore, 0, 0) }
    func signal() { sem_post(&semaphore) }
    func wait() { while sem_wait(&semaphore) != 0 {} }
}

func run() throws {
    let arguments = CommandLine.arguments
    guard arguments.count >= 3 else {
        say("usage: JournalTestChild MODE PATH [ARGS]")
        exit(64)
    }
    let mode = arguments[1]
    let path = arguments[2]
    switch mode {
    case "append-forever":
        // PATH STREAMS DURABILITY POLICY PREFIX: appends round-robin to streams PREFIX-0...
        // until killed, printing "ack S I" after each acknowledged append. Streams that exist
        // and are open are continued (a producer coming back); missing ones are created.
        let streams = Int(arguments[3])!
        var options = JournalOptions(durability: durability(arguments[4]))
        if arguments[5] == "keep-open" {
            options.openStreams = .keepOpen(staleAfter: .seconds(3600))
        }
        let prefix = arguments[6]
        let journal = try Journal(path: path, options: options)
        var ids: [StreamID] = []
        var next: [Int] = []
        for s in 0..<streams {
            let id = try StreamID("\(prefix)-\(s)")
            if let info = try? journal.info(id) {
                next.append(info.chunkCount)
            } else {
                try journal.createStream(id)
                next.append(0)
            }
            ids.append(id)
        }
        say("ready")
        var round = 0
        while true {
            let s = round % streams
            let index = try journal.append(payload(stream: s, index: next[s]), to: ids[s])
            say("ack \(s) \(index)")
            next[s] += 1
            round += 1
        }
    case "follow":
        // PATH ID FROM: follows a stream read-only, printing "chunk I HEX" per chunk and
        // "finished STATUS REASON" at the end; "following" once the sequence is running.
        let journal = try Journal.openReadOnly(path: path)
        let follower = try journal.follow(StreamID(arguments[3]), from: Int(arguments[4])!)
        say("following")
        let done = Semaphore()
        Task {
            do {
                for try await event in follower {
                    switch event {
                    case .chunk(let chunk):
                        say("chunk \(chunk.index) " + chunk.bytes.map { String($0, radix: 16) }.joined(separator: ","))
                    case .finished(let info):
                        say("finished \(info.status) \(info.reason ?? "")")
                    }
                }
            } catch {
                say("error \(error)")
            }
            done.signal()
        }
        done.wait()
    case "compact":
        // PATH FAILPOINT: compacts with retention that drops every finished stream, dying at
        // the named failpoint (debug builds); prints "compacted" if it survives.
        setenv("JOURNAL_FAILPOINT", arguments[3], 1)
        let journal = try Journal(
            path: path, options: JournalOptions(durability: .none, openStreams: .keepOpen(staleAfter: .seconds(3600))))
        var policy = RetentionPolicy()
        policy.completedMaxAge = .zero
        policy.unsuccessfulMaxAge = .zero
        say("compacting")
        let report = try journal.compact(policy: policy)
        say("compacted \(report.streamsDropped.count)")
        try journal.close()
    case "create":
        // PATH FAILPOINT: creates the journal, dying at the named failpoint (debug builds);
        // prints "created" if it survives.
        setenv("JOURNAL_FAILPOINT", arguments[3], 1)
        say("creating")
        try Journal(path: path).close()
        say("created")
    case "hold-lock":
        let journal = try Journal(path: path)
        say("locked \(getpid())")
        while readLine() != nil {}
        try journal.close()
    case "writer":
        // Appends on command from stdin: "create ID", "append ID N", "complete ID", "quit".
        let journal = try Journal(path: path, options: JournalOptions(durability: .none))
        say("ready")
        while let line = readLine() {
            let words = line.split(separator: " ").map(String.init)
            switch words.first {
            case "create":
                try journal.createStream(StreamID(words[1]))
            case "append":
                let id = try StreamID(words[1])
                for _ in 0..<Int(words[2])! {
                    let index = try journal.info(id).chunkCount
                    try journal.append(payload(stream: 0, index: index), to: id)
                }
            case "complete":
                try journal.complete(StreamID(words[1]))
            default:
                try journal.close()
                say("bye")
                return
            }
            say("done")
        }
        try journal.close()
    case "file-size-limit":
        // PATH BYTES: appends until the file-size limit stops it; prints each ack, the errors
        // of the failing append and of the one after it, then lifts the limit and appends
        // once more ("third-ack INDEX" or "third-error CODE").
        signal(SIGXFSZ, SIG_IGN)
        let journal = try Journal(path: path, options: JournalOptions(durability: .none))
        let id = try journal.createStream(StreamID("full"))
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &limit)
        let unlimited = limit.rlim_cur
        limit.rlim_cur = rlim_t(Int(arguments[3])!)
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limit)
        var index = 0
        while true {
            do {
                try journal.append([UInt8](repeating: 0x61, count: 4000) + payload(stream: 0, index: index), to: id)
                say("ack 0 \(index)")
                index += 1
            } catch {
                say("error \(error.code) \(error)")
                break
            }
        }
        do {
            // The same append again: it needs the same room (a smaller one may still fit).
            try journal.append([UInt8](repeating: 0x61, count: 4000) + payload(stream: 0, index: index), to: id)
            say("second-append succeeded")
        } catch {
            say("second-error \(error.code)")
        }
        limit.rlim_cur = unlimited
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limit)
        do {
            let chunk = [UInt8](repeating: 0x61, count: 4000) + payload(stream: 0, index: index)
            say("third-ack \(try journal.append(chunk, to: id))")
        } catch {
            say("third-error \(error.code) \(error)")
        }
        exit(0)
    default:
        say("unknown mode \(mode)")
        exit(64)
    }
}

do {
    try run()
} catch {
    say("fatal \(error)")
    exit(1)
}
