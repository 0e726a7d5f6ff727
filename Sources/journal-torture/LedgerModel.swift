import Journal

/// The parent's picture of one journal: a `StreamExpectation` per stream the ledger ever
/// named, updated line by line as a dead child's ledger is read, and pinned to the truth by
/// each check (`JournalAudit`).
///
/// Lines are applied in the order the child wrote them, which for one stream is the order of
/// its calls. Each line both narrows the expectations and is checked against them: an
/// acknowledged append on a stream that had ended, a create that succeeds for a stream that
/// existed, or a recovery report that misses a stream open in the file are violations
/// found before the journal is even opened.
struct LedgerModel {
    /// Every stream the ledger named, by id.
    private(set) var streams: [String: StreamExpectation] = [:]
    /// Streams a completed recovery kept open, to be checked against their last activity
    /// once the check can read it: (stream, wall time the open started, stale time), µs.
    private(set) var keptOpen: [(id: String, openStarted: Int64, staleAfter: Int64)] = []
    /// The stale time (µs) of the life whose ledger is being applied; nil under `interrupt`.
    private(set) var staleAfter: Int64?
    /// Whether the current life's last open had not returned when the ledger ended.
    private(set) var openInFlight = false
    private var pendingOpen: PendingOpen?

    /// A recovery that has started: what must and may be open in the file as it begins, and
    /// what was possible for each of those streams before it.
    private struct PendingOpen {
        var certainlyOpen: Set<String>
        var maybeOpen: Set<String>
        var possibleBefore: [String: Set<StreamStatus>]
    }

    /// An empty journal.
    init() {}

    /// Starts applying the ledger of a new life whose open-stream policy is `keepOpen` with
    /// this stale time (µs), or `interrupt` when nil.
    mutating func beginLife(staleAfter: Int64?) {
        self.staleAfter = staleAfter
        pendingOpen = nil
        openInFlight = false
    }

    /// Whether the current life runs under `keepOpen`: its maintenance thread may end any
    /// open stream as stale at any time, and its recoveries may keep streams open.
    private var keepsOpen: Bool { staleAfter != nil }

    /// Applies one ledger line; throws the first broken rule.
    mutating func apply(_ entry: LedgerEntry) throws(Violation) {
        let keepsOpen = self.keepsOpen
        switch entry {
        case .openTry:
            beginRecovery()
        case .openOK(_, let started, _, _, let interrupted, let kept):
            try finishRecovery(started: started, interrupted: interrupted, kept: kept)
        case .createTry(let id):
            var stream = streams[id] ?? StreamExpectation(id: id)
            stream.mayExist = true
            if !stream.mustExist { stream.possible.insert(.open) }
            if keepsOpen { stream.possible.insert(.interrupted) }
            streams[id] = stream
        case .createOK(let id):
            try update(id) { (stream) throws(Violation) in
                if stream.mustExist {
                    throw Violation("createStream(\(id)) succeeded, but the stream already existed")
                }
                stream.mustExist = true
                stream.possible = keepsOpen ? [.open, .interrupted] : [.open]
            }
        case .createDuplicate(let id):
            try update(id) { (stream) throws(Violation) in
                if !stream.mayExist {
                    throw Violation("createStream(\(id)) found the stream existing, but it cannot exist")
                }
                stream.mustExist = true
            }
        case .appendTry(let id, let first, let count):
            try update(id) { $0.ceiling = max($0.ceiling, first + count) }
        case .appendOK(let id, let first, let count):
            try update(id) { (stream) throws(Violation) in
                try Self.requireOpen(stream, "chunks \(first)..<\(first + count) were acknowledged")
                stream.mustExist = true
                stream.floor = max(stream.floor, first + count)
            }
        case .retryTry(let id, let index):
            try update(id) { $0.ceiling = max($0.ceiling, index + 1) }
        case .retryOK(let id, let index, let duplicate):
            try update(id) { (stream) throws(Violation) in
                // A duplicate is allowed on an ended stream: the chunk is there.
                if !duplicate { try Self.requireOpen(stream, "chunk \(index) was stored by append(at:)") }
                stream.mustExist = true
                stream.floor = max(stream.floor, index + 1)
            }
        case .finishTry(let id, let status):
            try update(id) { $0.possible.insert(status) }
        case .finishOK(let id, let status):
            try update(id) { (stream) throws(Violation) in
                try Self.requireOpen(stream, "\(status) was acknowledged")
                stream.mustExist = true
                stream.possible = [status]
            }
        case .ended(let id, let status):
            try update(id) { (stream) throws(Violation) in
                guard stream.possible.contains(status) else {
                    throw Violation(
                        "the journal refused an operation on \(id) because it is \(status), but it can only be "
                            + Self.list(stream.possible))
                }
                stream.mustExist = true
                stream.possible = [status]
            }
        case .missing(let id):
            try update(id) { (stream) throws(Violation) in
                if stream.mustExist {
                    throw Violation("the journal says there is no stream \(id), but its creation was acknowledged")
                }
                stream.mayExist = false
                stream.possible = [.open]
            }
        case .violation(let text):
            throw Violation("the writer's own check failed: \(text)")
        case .failure(let text):
            throw Violation("the writer failed: \(text)")
        case .snapshotTry, .snapshotOK, .compactTry, .compactOK, .closeTry, .closeOK:
            break
        }
    }

    /// An open begins: every stream that may be open in the file may now be interrupted.
    private mutating func beginRecovery() {
        var pending = PendingOpen(certainlyOpen: [], maybeOpen: [], possibleBefore: [:])
        for (id, stream) in streams where stream.mayExist && stream.possible.contains(.open) {
            pending.maybeOpen.insert(id)
            pending.possibleBefore[id] = stream.possible
            if stream.mustExist && stream.possible == [.open] { pending.certainlyOpen.insert(id) }
            streams[id]!.possible.insert(.interrupted)
        }
        pendingOpen = pending
        openInFlight = true
    }

    /// An open returned with its report: the streams open in the file when it began are
    /// exactly those it interrupted or kept, so the report must lie within the bounds, and it
    /// resolves every create and finish whose outcome was unknown.
    private mutating func finishRecovery(started: Int64, interrupted: [String], kept: [String]) throws(Violation) {
        guard let pending = pendingOpen else { throw Violation("the ledger has an open-ok without an open-try") }
        pendingOpen = nil
        openInFlight = false
        let interruptedSet = Set(interrupted)
        let keptSet = Set(kept)
        let listed = interruptedSet.union(keptSet)
        if let both = interruptedSet.intersection(keptSet).first {
            throw Violation("the recovery report lists \(both) as both interrupted and kept open")
        }
        if !keepsOpen, let stream = kept.first {
            throw Violation("under the interrupt policy the recovery kept \(stream) open")
        }
        if let forgotten = pending.certainlyOpen.subtracting(listed).sorted().first {
            throw Violation(
                "\(forgotten) was open in the file when recovery began, but the recovery report neither "
                    + "interrupted nor kept it")
        }
        if let stranger = listed.subtracting(pending.maybeOpen).sorted().first {
            throw Violation("the recovery report lists \(stranger), which cannot have been open when it began")
        }
        for id in interruptedSet {
            streams[id]!.mustExist = true
            streams[id]!.possible = [.interrupted]
        }
        for id in keptSet {
            streams[id]!.mustExist = true
            streams[id]!.possible = [.open]
            if let staleAfter { keptOpen.append((id, started, staleAfter)) }
        }
        for id in pending.maybeOpen.subtracting(listed) {
            // Not open when recovery began: a pending finish landed (or an earlier stale
            // interruption did), or a pending create never did.
            var rest = pending.possibleBefore[id]!
            rest.remove(.open)
            if rest.isEmpty {
                streams[id]!.mayExist = false
                streams[id]!.possible = [.open]
            } else {
                streams[id]!.possible = rest
            }
        }
        if keepsOpen {
            // From now on the maintenance thread may end any open stream once it is stale.
            for (id, stream) in streams where stream.possible.contains(.open) {
                streams[id]!.possible.insert(.interrupted)
            }
        }
    }

    private static func requireOpen(_ stream: StreamExpectation, _ what: String) throws(Violation) {
        if !stream.possible.contains(.open) {
            throw Violation("\(what) on \(stream.id), which had already ended (\(list(stream.possible)))")
        }
    }

    private mutating func update(
        _ id: String, _ change: (inout StreamExpectation) throws(Violation) -> Void
    ) throws(Violation) {
        guard var stream = streams[id] else {
            throw Violation("the ledger names \(id) before any create-try (harness bug)")
        }
        try change(&stream)
        streams[id] = stream
    }

    /// "a or b": statuses for messages.
    static func list(_ statuses: Set<StreamStatus>) -> String {
        statuses.map(\.rawValue).sorted().joined(separator: " or ")
    }

    /// Replaces what the check learnt about a stream.
    mutating func pin(_ stream: StreamExpectation) { streams[stream.id] = stream }

    /// The check is done with the kept-open assertions.
    mutating func clearKeptOpen() { keptOpen.removeAll() }
}
