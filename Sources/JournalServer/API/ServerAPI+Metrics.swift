import Glibc
import Journal

/// `GET /metrics`.
extension ServerAPI {
    /// The Prometheus text page: the loop's figures (`loop`, `connections`, `subscribers`,
    /// `bufferedOutput`), the workers' counters and histograms, and the journal's streams by
    /// status and file size.
    func metricsPage(
        loop: LoopStatistics, connections: Int, subscribers: Int, bufferedOutput: Int, pendingJobs: Int
    ) -> HTTPResponse {
        var page = PrometheusText()
        page.metric("journal_server_connections", "gauge", "Open client connections.", connections)
        page.metric(
            "journal_server_connections_accepted_total", "counter", "Connections accepted since start.", loop.accepted)
        page.metric(
            "journal_server_connections_rejected_total", "counter",
            "Connections refused with 503 at --max-connections.", loop.rejectedFull)
        page.metric("journal_server_sse_subscribers", "gauge", "Open event streams.", subscribers)
        page.metric(
            "journal_server_sse_subscriptions_total", "counter", "Event streams started.", loop.subscriptionsStarted)
        page.metric(
            "journal_server_sse_events_total", "counter", "Chunk events written to subscribers.", loop.eventsSent)
        page.metric("journal_server_sse_bytes_total", "counter", "Bytes written to subscribers.", loop.sseBytesSent)
        page.metric(
            "journal_server_output_buffered_bytes", "gauge",
            "Bytes waiting in per-connection output buffers (an event stream's bounded by --output-buffer, "
                + "a response's by its size: about 1 MiB plus one stream or chunk).", bufferedOutput)
        page.metric("journal_server_requests_total", "counter", "Requests parsed and routed.", loop.requests)
        page.metric(
            "journal_server_responses_total", "counter", "Responses by status class.", loop.responsesByClass[1],
            labels: "{class=\"1xx\"}")
        for statusClass in 2...5 {
            page.sample(
                "journal_server_responses_total", loop.responsesByClass[statusClass],
                labels: "{class=\"\(statusClass)xx\"}")
        }
        page.metric(
            "journal_server_parse_errors_total", "counter", "Requests refused by the HTTP parser.", loop.parseErrors)
        page.metric(
            "journal_server_timeouts_total", "counter", "Connections ended by idle, slow-request or send timeouts.",
            loop.timeouts)
        page.metric("journal_server_worker_jobs", "gauge", "Journal writes queued or running.", pendingJobs)
        page.metric(
            "journal_server_appends_total", "counter", "Chunks stored by appends.",
            metrics.appends.load(ordering: .relaxed))
        page.metric(
            "journal_server_append_bytes_total", "counter", "Payload bytes stored by appends.",
            metrics.appendBytes.load(ordering: .relaxed))
        page.metric(
            "journal_server_append_duplicates_total", "counter", "Idempotent appends that were retries.",
            metrics.duplicateAppends.load(ordering: .relaxed))
        page.metric(
            "journal_server_write_errors_total", "counter", "Journal writes that failed.",
            metrics.writeErrors.load(ordering: .relaxed))
        page.metric(
            "journal_server_retention_deletes_total", "counter",
            "Finished streams deleted when their retention age passed.",
            metrics.retentionDeletes.load(ordering: .relaxed))
        var histograms = ""
        metrics.writeDuration.render(
            "journal_server_write_duration_seconds",
            help: "Journal writes on worker threads; under every-ack this is the fdatasync (group commit) latency.",
            into: &histograms)
        metrics.syncDuration.render(
            "journal_server_sync_duration_seconds", help: "Explicit journal syncs (shutdown).", into: &histograms)
        page.raw(histograms)
        if let streams = try? journal.streams() {
            var counts: [StreamStatus: Int] = [:]
            for info in streams { counts[info.status, default: 0] += 1 }
            page.metric(
                "journal_streams", "gauge", "Streams in the journal by status.", counts[.open] ?? 0,
                labels: "{status=\"open\"}")
            for status in StreamStatus.allCases where status != .open {
                page.sample("journal_streams", counts[status] ?? 0, labels: "{status=\"\(status.rawValue)\"}")
            }
        }
        var info = stat()
        if stat(journal.path, &info) == 0 {
            page.metric("journal_file_bytes", "gauge", "Size of the journal file.", Int(info.st_size))
        }
        page.metric(
            "journal_dead_bytes", "gauge", "Log bytes compaction would reclaim (deleted streams, old snapshots).",
            Int(journal.deadBytes))
        page.metric(
            "journal_recovery_interrupted_streams", "gauge", "Streams the last open ended as interrupted.",
            journal.recoveryReport.interruptedStreams.count)
        return HTTPResponse(
            status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(page.text.utf8))
    }
}
