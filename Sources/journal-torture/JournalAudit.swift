import Journal

#if canImport(Glibc)
    import Glibc
#endif

/// The check after each kill: opens the journal read-only (no recovery: the next child must
/// do that, and be killed doing it) and holds it to the ledger's bounds.
///
/// - No loss: every stream whose creation was acknowledged exists; every stream holds at
///   least its acknowledged chunks; an ended stream stays ended the same way.
/// - No invention: every stream was attempted; no stream holds more chunks than attempted;
///   every chunk's bytes equal its payload, which names its stream and index, so a chunk out
///   of order or in the wrong stream cannot pass.
/// - Statuses: each stream's status is one the ledger allows. A stream newly interrupted was
///   interrupted by this life: under `interrupt` only by its recovery, under `keepOpen` only
///   when stale (the interruption came at least the stale time after its last activity), and
///   every stream a recovery kept open was not stale when that recovery began.
/// - `Journal.verify` finds nothing wrong.
///
/// Afterwards the expectations are pinned to what was found: a valid record, once in the
/// file, must stay there through every later recovery.
enum JournalAudit {
    /// What one check looked at.
    struct Counts {
        /// Streams in the journal.
        var streams = 0
        /// Chunks whose bytes were compared with their payloads.
        var chunksVerified = 0
        /// Streams found newly interrupted as stale (keep-open lives).
        var staleInterruptions = 0
        /// Streams found newly interrupted by a recovery under the interrupt policy.
        var recoveryInterruptions = 0
    }

    /// Checks the journal at `path` against `model`, comparing the bytes of chunks not
    /// compared before (all of them when `everything`), and pins `model` to what it found.
    static func check(path: String, model: inout LedgerModel, everything: Bool = false) throws(Violation) -> Counts {
        var counts = Counts()
        if access(path, F_OK) != 0 {
            // Killed before the file was linked into place (it is created under another name).
            if let lost = model.streams.values.first(where: \.mustExist) {
                throw Violation("the journal file does not exist, but the creation of \(lost.id) was acknowledged")
            }
            return counts
        }
        let verification: VerificationReport
        do { verification = try Journal.verify(path: path) } catch {
            throw Violation("verify could not read \(path): \(error)")
        }
        if !verification.isClean {
            let problems = verification.problems.prefix(5).map(\.description).joined(separator: "; ")
            throw Violation("verify found \(verification.problems.count) problem(s): \(problems)")
        }
        let reader: Journal
        let infos: [StreamInfo]
        do {
            reader = try Journal.openReadOnly(path: path)
            infos = try reader.streams()
        } catch {
            throw Violation("cannot open \(path) read-only: \(error)")
        }
        defer { try? reader.close() }
        var keptChecks: [String: [(openStarted: Int64, staleAfter: Int64)]] = [:]
        for check in model.keptOpen { keptChecks[check.id, default: []].append((check.openStarted, check.staleAfter)) }

        var seen = Set<String>()
        for info in infos {
            let id = info.id.rawValue
            seen.insert(id)
            counts.streams += 1
            guard var stream = model.streams[id] else {
                throw Violation("invented stream: the journal holds \(id), which the ledger never tried to create")
            }
            guard stream.mayExist else {
                throw Violation("invented stream: \(id) exists, but its create had not landed and was not retried")
            }
            try checkCount(info, stream, reader)

            // Bytes, and the timestamps the stale rules need.
            let wanted = keptChecks[id] ?? []
            var lastBefore = wanted.map { _ in stream.observed == nil ? info.createdAt : stream.lastActivity }
            var lastActivity = stream.observed == nil || everything ? info.createdAt : stream.lastActivity
            let start = everything ? 0 : min(stream.verified, info.chunkCount)
            do {
                var cursor = try reader.chunks(of: info.id, from: start)
                while let chunk = try cursor.next() {
                    let found = chunk.bytes
                    let expected = Payload.bytes(stream: id, index: chunk.index)
                    if found != expected {
                        throw Violation(
                            "stream \(id) chunk \(chunk.index): expected \(Payload.describe(expected)), found "
                                + Payload.describe(found))
                    }
                    counts.chunksVerified += 1
                    lastActivity = max(lastActivity, chunk.timestamp)
                    for (position, check) in wanted.enumerated() where chunk.timestamp < check.openStarted {
                        lastBefore[position] = max(lastBefore[position], chunk.timestamp)
                    }
                }
            } catch let error as Violation {
                throw error
            } catch {
                throw Violation("reading the chunks of \(id) failed: \(error)")
            }

            guard stream.possible.contains(info.status) else {
                throw Violation(
                    "stream \(id) is \(info.status)\(info.reason.map { " (\"\($0)\")" } ?? ""), expected "
                        + LedgerModel.list(stream.possible))
            }
            if info.status == .interrupted && stream.observed != .interrupted {
                try checkInterruption(info, lastActivity: lastActivity, staleAfter: model.staleAfter, counts: &counts)
            }
            for (position, check) in wanted.enumerated()
            where check.openStarted - lastBefore[position] >= check.staleAfter {
                throw Violation(
                    "a recovery that began at \(check.openStarted) µs kept \(id) open, but its last activity was at "
                        + "\(lastBefore[position]) µs, \(check.openStarted - lastBefore[position]) µs earlier: stale after "
                        + "\(check.staleAfter) µs, it should have been interrupted")
            }

            stream.mustExist = true
            stream.mayExist = true
            stream.possible = [info.status]
            stream.floor = info.chunkCount
            stream.ceiling = info.chunkCount
            stream.verified = info.chunkCount
            stream.observed = info.status
            stream.lastActivity = lastActivity
            model.pin(stream)
        }
        for var stream in model.streams.values where !seen.contains(stream.id) {
            if stream.mustExist {
                throw Violation(
                    "lost stream: the creation of \(stream.id) was acknowledged, the journal has no such stream")
            }
            stream.mayExist = false
            stream.possible = [.open]
            stream.floor = 0
            stream.ceiling = 0
            model.pin(stream)
        }
        model.clearKeptOpen()
        return counts
    }

    /// Acknowledged chunks are all there, and no chunk beyond the attempted ones is.
    private static func checkCount(_ info: StreamInfo, _ stream: StreamExpectation, _ reader: Journal) throws(Violation)
    {
        let id = info.id.rawValue
        if info.chunkCount < stream.floor {
            throw Violation(
                "lost chunks: stream \(id) holds \(info.chunkCount) chunks, but \(stream.floor) were acknowledged "
                    + "(chunk \(info.chunkCount): expected \(Payload.describe(Payload.bytes(stream: id, index: info.chunkCount))), "
                    + "found nothing)")
        }
        if info.chunkCount > stream.ceiling {
            var found = "unreadable"
            if var cursor = try? reader.chunks(of: info.id, from: stream.ceiling), let chunk = try? cursor.next() {
                found = Payload.describe(chunk.bytes)
            }
            throw Violation(
                "invented chunks: stream \(id) holds \(info.chunkCount) chunks, but only \(stream.ceiling) were ever "
                    + "attempted (chunk \(stream.ceiling): expected nothing, found \(found))")
        }
    }

    /// An interruption made by the life just killed must follow its policy: under `interrupt`
    /// only recovery interrupts; under `keepOpen` only staleness does.
    private static func checkInterruption(
        _ info: StreamInfo, lastActivity: Int64, staleAfter: Int64?, counts: inout Counts
    ) throws(Violation) {
        let id = info.id.rawValue
        let reason = info.reason ?? ""
        guard let stale = staleAfter else {
            guard reason.contains("interrupted by recovery") else {
                throw Violation("\(id) was interrupted under the interrupt policy with reason \"\(reason)\"")
            }
            counts.recoveryInterruptions += 1
            return
        }
        guard reason.contains("stale") else {
            throw Violation("\(id) was interrupted under keep-open with reason \"\(reason)\", not as stale")
        }
        let finishedAt = info.finishedAt ?? 0
        if finishedAt - lastActivity < stale {
            throw Violation(
                "\(id) was interrupted as stale at \(finishedAt) µs, only \(finishedAt - lastActivity) µs after its "
                    + "last activity at \(lastActivity) µs; the stale time is \(stale) µs")
        }
        counts.staleInterruptions += 1
    }
}
