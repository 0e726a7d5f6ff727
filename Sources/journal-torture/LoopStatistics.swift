import Journal

/// Totals for the summary line, counted from the ledgers and the checks.
struct LoopStatistics {
    /// Lives run.
    var iterations = 0
    /// Lives that ended by the loop's SIGKILL.
    var kills = 0
    /// Kills sent right after spawn.
    var killedAtSpawn = 0
    /// Lives whose last open had not returned when the kill came (recovery was killed).
    var killedInRecovery = 0
    /// Lives killed while a compaction was running.
    var killedInCompaction = 0
    /// Lives killed inside `close` (final snapshot, header, sync).
    var killedInClose = 0
    /// Journal files used.
    var journals = 0
    /// Chunks acknowledged to a producer (appends, batches, idempotent appends that stored).
    var chunksAcknowledged = 0
    /// Idempotent appends answered `.duplicate` (retries of chunks already stored).
    var duplicatesAcknowledged = 0
    /// Chunks whose bytes a check compared with their payloads.
    var chunksVerified = 0
    /// Streams created (acknowledged).
    var streamsCreated = 0
    /// Streams an earlier life left open that a later life's producer continued with a newly
    /// stored chunk (idempotent resume after a restart), counted once per life.
    var streamsContinued = 0
    /// Streams completed, failed or cancelled by their producers (acknowledged).
    var streamsFinished = 0
    /// Completed opens, with the recovery time each reported.
    var recoveryNanoseconds: [UInt64] = []
    /// Streams recoveries reported interrupted.
    var reportedInterrupted = 0
    /// Streams recoveries reported kept open.
    var reportedKept = 0
    /// Interruptions found by checks under keep-open, all as stale (by recovery or by the
    /// maintenance thread).
    var staleInterruptions = 0
    /// Interruptions found by checks under the interrupt policy.
    var recoveryInterruptions = 0
    /// Snapshots acknowledged (asked for by a producer or before a close).
    var snapshots = 0
    /// Compactions acknowledged.
    var compactions = 0
    /// Clean closes acknowledged.
    var closes = 0
    /// Ledger lines torn by a kill.
    var tornLedgerLines = 0
    /// Lives per "durability/policy".
    var configurations: [String: Int] = [:]
    /// The largest journal file seen, in bytes.
    var largestJournal: Int = 0

    /// The most recent recovery time, to aim kills inside recovery (1 ms before any).
    var recentRecovery: UInt64 { recoveryNanoseconds.last ?? 1_000_000 }

    /// Counts one ledger line.
    mutating func count(_ entry: LedgerEntry) {
        switch entry {
        case .appendOK(_, _, let count): chunksAcknowledged += count
        case .retryOK(_, _, let duplicate):
            if duplicate { duplicatesAcknowledged += 1 } else { chunksAcknowledged += 1 }
        case .createOK: streamsCreated += 1
        case .finishOK: streamsFinished += 1
        case .openOK(_, _, _, let nanoseconds, let interrupted, let kept):
            recoveryNanoseconds.append(nanoseconds)
            reportedInterrupted += interrupted.count
            reportedKept += kept.count
        case .snapshotOK: snapshots += 1
        case .compactOK: compactions += 1
        case .closeOK: closes += 1
        default: break
        }
    }

    /// Adds what a check looked at.
    mutating func add(_ counts: JournalAudit.Counts) {
        chunksVerified += counts.chunksVerified
        staleInterruptions += counts.staleInterruptions
        recoveryInterruptions += counts.recoveryInterruptions
    }

    /// The summary: one line of totals, then one of coverage.
    func summary(elapsedNanoseconds: UInt64, failures: Int) -> String {
        let sorted = recoveryNanoseconds.sorted()
        func percentile(_ fraction: Double) -> String {
            guard !sorted.isEmpty else { return "-" }
            let index = min(sorted.count - 1, Int(Double(sorted.count - 1) * fraction + 0.5))
            return Time.milliseconds(sorted[index])
        }
        let mean = sorted.isEmpty ? "-" : Time.milliseconds(sorted.reduce(0, +) / UInt64(sorted.count))
        let totals =
            "kill-loop: iterations=\(iterations) kills=\(kills) chunks_acknowledged=\(chunksAcknowledged) "
            + "chunks_verified=\(chunksVerified) recoveries=\(sorted.count) recovery_ms_mean=\(mean) "
            + "recovery_ms_p50=\(percentile(0.5)) recovery_ms_p99=\(percentile(0.99)) "
            + "recovery_ms_max=\(percentile(1)) failures=\(failures) elapsed_s=\(elapsedNanoseconds / 1_000_000_000)"
        let mix = configurations.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let coverage =
            "kill-loop: killed_in_recovery=\(killedInRecovery) killed_in_compaction=\(killedInCompaction) "
            + "killed_in_close=\(killedInClose) killed_at_spawn=\(killedAtSpawn) "
            + "streams_created=\(streamsCreated) streams_finished=\(streamsFinished) "
            + "streams_continued=\(streamsContinued) "
            + "duplicates_acknowledged=\(duplicatesAcknowledged) recovery_interrupted=\(reportedInterrupted) "
            + "recovery_kept_open=\(reportedKept) stale_interruptions=\(staleInterruptions) "
            + "snapshots=\(snapshots) compactions=\(compactions) closes=\(closes) torn_ledger_lines=\(tornLedgerLines) "
            + "journals=\(journals) largest_journal_mb=\(largestJournal >> 20) lives: \(mix)"
        return totals + "\n" + coverage
    }
}
