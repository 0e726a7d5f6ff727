// journal-demo: the library's main job in one run, on ./journal.sj (or the path given).
//
// Each run recovers the journal (reporting streams the previous run left in flight), streams
// a canned "LLM answer" token by token into a new stream, reads it back from the middle as a
// resuming client would, leaves a second stream in flight, and exits without closing — as a
// crashed process would. Run it twice to watch recovery interrupt the abandoned stream.

import Journal

#if canImport(Glibc)
    import Glibc
#endif

let arguments = CommandLine.arguments.dropFirst()
if arguments.contains("-h") || arguments.contains("--help") {
    print(
        """
        usage: journal-demo [PATH]

        Writes a demo stream to PATH (default ./journal.sj), reads it back from chunk 5,
        leaves a second stream in flight and exits without closing, like a crash. The next
        run shows recovery ending that stream as interrupted.
        """)
    exit(0)
}
let path = arguments.first ?? "journal.sj"

do {
    let journal = try Journal(path: path, options: JournalOptions(durability: .everyAcknowledgement))
    let report = journal.recoveryReport
    print("opened \(path) in \(report.durationNanoseconds / 1000) µs; log ends at byte \(report.logEnd)")
    if let torn = report.tornTailOffset { print("  dropped a torn tail at byte \(torn)") }
    for id in report.interruptedStreams { print("  recovery interrupted stream \(id), left in flight by the last run") }

    let answer = [
        "A ", "journal ", "is ", "one ", "file: ", "streams ", "survive ", "crashes, ", "and ", "readers ",
        "resume ", "exactly.",
    ]
    let id = try journal.createStream(metadata: ["model": "demo", "content-type": "text/plain"])
    for token in answer { try journal.append(token, to: id) }
    try journal.complete(id)
    print("wrote stream \(id): \(answer.count) chunks, completed")

    var cursor = try journal.chunks(of: id, from: 5)
    var resumed = ""
    while let chunk = try cursor.next() { resumed += chunk.text }
    print("a client resuming after chunk 4 receives: \"\(resumed)\"")

    let inFlight = try journal.createStream(metadata: ["model": "demo"])
    try journal.append("this answer never finishes", to: inFlight)
    let all = try journal.streams()
    let counts = Dictionary(grouping: all, by: \.status).mapValues(\.count)
    print(
        "journal holds \(all.count) streams: "
            + counts.sorted { $0.key.rawValue < $1.key.rawValue }
            .map { "\($0.value) \($0.key)" }.joined(separator: ", "))
    print("leaving stream \(inFlight) in flight and exiting without close; run again to see it recovered")
    exit(0)
} catch {
    let message = Array("journal-demo: \(error)\n".utf8)
    _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(1)
}
