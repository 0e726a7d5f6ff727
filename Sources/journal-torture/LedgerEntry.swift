import Journal

/// One line of the ledger: what the writer child was about to do (`…Try`) or what the journal
/// acknowledged (`…OK`, `createDuplicate`, `retryOK`, `ended`, `missing`).
///
/// The child writes a `…Try` line before each call and the outcome after it returns, before
/// it starts anything else on that stream. So after a SIGKILL the ledger bounds the journal:
/// everything acknowledged must be there (no loss), nothing beyond what was attempted may be
/// (no invention), and an operation with a `…Try` and no outcome may or may not have landed.
enum LedgerEntry: Equatable {
    /// Session `session` of this life is about to open (and so recover) the journal.
    case openTry(session: Int)
    /// The open returned. `started`/`finished` bracket it in wall time (µs), so the parent
    /// can bound the `now` recovery used for stale decisions; the lists are the report's.
    case openOK(
        session: Int, started: Int64, finished: Int64, recoveryNanoseconds: UInt64, interrupted: [String],
        kept: [String])
    /// `createStream` of `stream` is about to run (first time, or a retry after a restart).
    case createTry(String)
    /// `createStream` returned: the stream exists.
    case createOK(String)
    /// A retried `createStream` found the stream already there (the earlier try landed).
    case createDuplicate(String)
    /// Chunks `first..<first+count` are about to be appended (one append, or one batch).
    case appendTry(String, first: Int, count: Int)
    /// Those chunks were acknowledged at exactly those indices.
    case appendOK(String, first: Int, count: Int)
    /// An idempotent `append(_:to:at:)` of chunk `index` is about to run.
    case retryTry(String, index: Int)
    /// It returned: `duplicate` when the journal already held those bytes at `index`.
    case retryOK(String, index: Int, duplicate: Bool)
    /// `complete`, `fail` or `cancel` is about to run.
    case finishTry(String, StreamStatus)
    /// The terminal record was acknowledged.
    case finishOK(String, StreamStatus)
    /// The journal refused an operation because the stream had ended with this status.
    case ended(String, StreamStatus)
    /// The journal has no such stream (a create that never landed).
    case missing(String)
    /// `writeSnapshot` is about to run, or returned.
    case snapshotTry, snapshotOK
    /// `compact(policy: .keepEverything)` is about to run, or returned.
    case compactTry, compactOK
    /// `close` is about to run, or returned.
    case closeTry, closeOK
    /// The child's own check failed (e.g. an append acknowledged at an unexpected index).
    case violation(String)
    /// The journal threw something the workload never expects; the child exits.
    case failure(String)

    /// The line, without its line feed. Stream ids contain no spaces (`StreamID` forbids
    /// them), so fields are separated by single spaces.
    var line: String {
        switch self {
        case .openTry(let session): return "open-try \(session)"
        case .openOK(let session, let started, let finished, let nanoseconds, let interrupted, let kept):
            return
                "open-ok \(session) \(started) \(finished) \(nanoseconds) \(Self.list(interrupted)) \(Self.list(kept))"
        case .createTry(let id): return "create-try \(id)"
        case .createOK(let id): return "create-ok \(id)"
        case .createDuplicate(let id): return "create-dup \(id)"
        case .appendTry(let id, let first, let count): return "append-try \(id) \(first) \(count)"
        case .appendOK(let id, let first, let count): return "append-ok \(id) \(first) \(count)"
        case .retryTry(let id, let index): return "retry-try \(id) \(index)"
        case .retryOK(let id, let index, let duplicate): return "retry-ok \(id) \(index) \(duplicate ? "dup" : "new")"
        case .finishTry(let id, let status): return "finish-try \(id) \(status)"
        case .finishOK(let id, let status): return "finish-ok \(id) \(status)"
        case .ended(let id, let status): return "ended \(id) \(status)"
        case .missing(let id): return "missing \(id)"
        case .snapshotTry: return "snapshot-try"
        case .snapshotOK: return "snapshot-ok"
        case .compactTry: return "compact-try"
        case .compactOK: return "compact-ok"
        case .closeTry: return "close-try"
        case .closeOK: return "close-ok"
        case .violation(let text): return "violation \(text)"
        case .failure(let text): return "failure \(text)"
        }
    }

    /// Parses a line written by `line`; nil when it is not one.
    init?(line: String) {
        let words = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard let tag = words.first else { return nil }
        let rest = words.dropFirst()
        func text() -> String { rest.joined(separator: " ") }
        func int(_ position: Int) -> Int? { position < words.count ? Int(words[position]) : nil }
        func status(_ position: Int) -> StreamStatus? {
            position < words.count ? StreamStatus(rawValue: words[position]) : nil
        }
        switch (tag, words.count) {
        case ("open-try", 2):
            guard let session = int(1) else { return nil }
            self = .openTry(session: session)
        case ("open-ok", 7):
            guard let session = int(1), let started = Int64(words[2]), let finished = Int64(words[3]),
                let nanoseconds = UInt64(words[4])
            else { return nil }
            self = .openOK(
                session: session, started: started, finished: finished, recoveryNanoseconds: nanoseconds,
                interrupted: Self.list(words[5]), kept: Self.list(words[6]))
        case ("create-try", 2): self = .createTry(words[1])
        case ("create-ok", 2): self = .createOK(words[1])
        case ("create-dup", 2): self = .createDuplicate(words[1])
        case ("append-try", 4), ("append-ok", 4):
            guard let first = int(2), let count = int(3) else { return nil }
            self =
                tag == "append-try"
                ? .appendTry(words[1], first: first, count: count) : .appendOK(words[1], first: first, count: count)
        case ("retry-try", 3):
            guard let index = int(2) else { return nil }
            self = .retryTry(words[1], index: index)
        case ("retry-ok", 4):
            guard let index = int(2), words[3] == "dup" || words[3] == "new" else { return nil }
            self = .retryOK(words[1], index: index, duplicate: words[3] == "dup")
        case ("finish-try", 3), ("finish-ok", 3), ("ended", 3):
            guard let status = status(2) else { return nil }
            switch tag {
            case "finish-try": self = .finishTry(words[1], status)
            case "finish-ok": self = .finishOK(words[1], status)
            default: self = .ended(words[1], status)
            }
        case ("missing", 2): self = .missing(words[1])
        case ("snapshot-try", 1): self = .snapshotTry
        case ("snapshot-ok", 1): self = .snapshotOK
        case ("compact-try", 1): self = .compactTry
        case ("compact-ok", 1): self = .compactOK
        case ("close-try", 1): self = .closeTry
        case ("close-ok", 1): self = .closeOK
        case ("violation", _): self = .violation(text())
        case ("failure", _): self = .failure(text())
        default: return nil
        }
    }

    /// Ids joined by commas; "-" for none (a field is never empty).
    private static func list(_ ids: [String]) -> String { ids.isEmpty ? "-" : ids.joined(separator: ",") }

    private static func list(_ field: String) -> [String] {
        field == "-" ? [] : field.split(separator: ",").map(String.init)
    }
}
