import Journal

/// Everything `journal-server` can be told, with the defaults documented in `usage`.
///
/// A value type so that flag parsing, validation and defaults are testable without starting a
/// server. Each flag has an environment variable (`--stale-after` is
/// `JOURNAL_SERVER_STALE_AFTER`); a flag wins over its variable.
struct ServerConfiguration: Sendable, Equatable {
    /// What opening the journal does with streams a previous run left open.
    enum RestartPolicy: String, Sendable, Equatable {
        /// Keep them open for producers that come back; end those idle for `staleAfter`.
        case keepOpen = "keep-open"
        /// End them all as interrupted at once.
        case interrupt
    }

    /// The journal file.
    var file = "journal.sj"
    /// Address to bind.
    var host = "127.0.0.1"
    /// Port to bind; 0 picks a free one (printed in the `listening on` line).
    var port: UInt16 = 8080
    /// Bearer token required for writes (and accepted for reads); nil leaves writes open.
    var token: String?
    /// Bearer token required for reads when set (the write token is accepted too).
    var readToken: String?
    /// Allows binding a non-loopback address without a token.
    var insecure = false
    /// Sync policy; the default makes every 2xx append durable.
    var durability: Durability = .everyAcknowledgement
    /// What a restart does to open streams.
    var onRestart = RestartPolicy.keepOpen
    /// How long an open stream may go without an append before it ends as interrupted.
    var staleAfter: Duration = .seconds(300)
    /// How long finished streams are kept: the journal's compaction drops them by this policy,
    /// and the server deletes them when it is due so the API agrees. Defaults to the library's
    /// (completed 7 days, failed/cancelled/interrupted 1 day); `--retention off` keeps all.
    var retention = RetentionPolicy()
    /// Open connections at most; one more gets a 503 and is closed.
    var maxConnections = 16_000
    /// Request-parsing limits (header bytes and count, URI length, body size).
    var limits = HTTPLimits()
    /// Largest chunk accepted, in bytes (the journal's `maxChunkSize`).
    var maxChunkBytes = 1 << 20
    /// A keep-alive connection with no request for this long is closed.
    var idleTimeout: Duration = .seconds(60)
    /// A request whose head has not fully arrived this long after its first byte gets 408.
    var headerTimeout: Duration = .seconds(10)
    /// A request not fully received (head and body) this long after its first byte gets 408.
    var requestTimeout: Duration = .seconds(30)
    /// A connection whose pending output makes no progress for this long is closed.
    var sendTimeout: Duration = .seconds(300)
    /// Interval of SSE heartbeat comments.
    var heartbeat: Duration = .seconds(15)
    /// The `retry:` value sent once at the start of each event stream, in milliseconds.
    var retryMilliseconds = 3000
    /// Bound on one connection's pending output; an SSE subscriber refills from the journal
    /// only when its output drains below a quarter of this.
    var outputBufferBytes = 64 * 1024
    /// Threads that run journal writes (they block in `fdatasync`; more of them share syncs).
    var workers = 8
    /// How long shutdown waits for in-flight requests and pending output.
    var shutdownGrace: Duration = .seconds(5)
    /// Most chunks one `GET /streams/{id}/chunks` returns.
    var maxReadChunks = 1000
    /// About the most JSON bytes one `GET /streams/{id}/chunks` or `GET /streams` returns (at
    /// least one chunk or stream): a response is queued whole, so this bounds what a client
    /// that does not read holds in memory.
    var maxReadBytes = 1 << 20
    /// `listen(2)` backlog.
    var backlog: Int32 = 4096

    /// The options for the journal this configuration describes.
    var journalOptions: JournalOptions {
        var options = JournalOptions(
            durability: durability,
            openStreams: onRestart == .interrupt ? .interrupt : .keepOpen(staleAfter: staleAfter))
        options.maxChunkSize = maxChunkBytes
        options.retention = retention
        return options
    }

    /// The durability policy as a flag value.
    var durabilityText: String {
        switch durability {
        case .none: return "none"
        case .everyAcknowledgement: return "every-ack"
        case .interval(let interval): return "interval:" + DurationText.format(interval)
        }
    }
}

/// A command line that cannot be run, with the message to print (exit status 64).
struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, one sentence.
    var message: String
    /// The message.
    var description: String { message }
}

/// What the command line asks for.
enum ServerCommand: Sendable, Equatable {
    /// Serve with this configuration.
    case run(ServerConfiguration)
    /// Print `usage` and exit 0.
    case help
}
