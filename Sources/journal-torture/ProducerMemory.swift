import Journal

#if canImport(Glibc)
    import Glibc
#endif

/// What the producers know when a new life starts: for each stream they have not seen end,
/// the next index they believe they must send and whether a create or finish was in flight.
///
/// It is derived from the ledger, that is from acknowledgements only, never from the journal:
/// a real producer coming back after a crash knows what it was told, not what the file holds.
/// So its first appends are idempotent retries from its last acknowledged index, and the
/// journal must answer `.duplicate` for chunks that landed unacknowledged.
struct ProducerMemory {
    /// Where a remembered stream stands.
    enum State: Equatable {
        /// A create was attempted and not acknowledged: retry it.
        case creating
        /// Open as far as the producer knows: resume with idempotent appends.
        case open
        /// A finish was attempted and not acknowledged: retry it.
        case finishing(StreamStatus)
    }

    /// One remembered stream.
    struct Stream: Equatable {
        /// The stream's id.
        var id: String
        /// The next chunk index the producer believes it must send.
        var next: Int
        /// Where the stream stands.
        var state: State
    }

    /// Remembered streams in the order they were first created.
    private(set) var streams: [Stream] = []
    private var positions: [String: Int] = [:]

    /// No streams.
    init() {}

    /// Folds one ledger line into what the producer knows.
    mutating func apply(_ entry: LedgerEntry) {
        switch entry {
        case .createTry(let id):
            if positions[id] == nil {
                positions[id] = streams.count
                streams.append(Stream(id: id, next: 0, state: .creating))
            }
        case .createOK(let id), .createDuplicate(let id):
            update(id) { $0.state = .open }
        case .appendOK(let id, let first, let count):
            update(id) { $0.next = max($0.next, first + count) }
        case .retryOK(let id, let index, _):
            update(id) { $0.next = max($0.next, index + 1) }
        case .finishTry(let id, let status):
            update(id) { $0.state = .finishing(status) }
        case .finishOK(let id, _), .ended(let id, _), .missing(let id):
            forget(id)
        default:
            break
        }
    }

    private mutating func update(_ id: String, _ change: (inout Stream) -> Void) {
        if let position = positions[id] { change(&streams[position]) }
    }

    private mutating func forget(_ id: String) {
        guard let position = positions.removeValue(forKey: id) else { return }
        streams.remove(at: position)
        for index in position..<streams.count { positions[streams[index].id] = index }
    }

    /// One line per stream: "ID NEXT creating|open|finishing:STATUS".
    var text: String {
        streams.map { stream in
            let state: String
            switch stream.state {
            case .creating: state = "creating"
            case .open: state = "open"
            case .finishing(let status): state = "finishing:\(status)"
            }
            return "\(stream.id) \(stream.next) \(state)\n"
        }.joined()
    }

    /// Writes `text` to `path`, replacing it.
    func save(to path: String) throws(Violation) {
        let bytes = Array(text.utf8)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Violation("cannot write producer memory \(path): errno \(errno)") }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { throw Violation("cannot write producer memory \(path): errno \(errno)") }
            written += result
        }
    }

    /// Reads a file written by `save`; a missing file is an empty memory (a journal's first life).
    static func load(from path: String) throws(UsageError) -> [Stream] {
        guard let file = fopen(path, "r") else {
            if errno == ENOENT { return [] }
            throw UsageError(description: "cannot read producer memory \(path): errno \(errno)")
        }
        defer { fclose(file) }
        var streams: [Stream] = []
        while let line = readLine(from: file) {
            let words = line.split(separator: " ").map(String.init)
            guard words.count == 3, let next = Int(words[1]) else {
                throw UsageError(description: "bad producer memory line \"\(line)\"")
            }
            let state: State
            if words[2] == "creating" {
                state = .creating
            } else if words[2] == "open" {
                state = .open
            } else if words[2].hasPrefix("finishing:"),
                let status = StreamStatus(rawValue: String(words[2].dropFirst(10)))
            {
                state = .finishing(status)
            } else {
                throw UsageError(description: "bad producer memory state \"\(words[2])\"")
            }
            streams.append(Stream(id: words[0], next: next, state: state))
        }
        return streams
    }

    private static func readLine(from file: UnsafeMutablePointer<FILE>) -> String? {
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        let count = getline(&line, &capacity, file)
        guard count > 0, let line else { return nil }
        let text = String(cString: line)
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }
}
