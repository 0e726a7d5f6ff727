import Journal

extension ServerConfiguration {
    /// One flag: its name, value placeholder (nil for a switch), help line and how it applies.
    struct Option: Sendable {
        /// `--name`.
        let flag: String
        /// Shown in the help after the flag; nil for a switch without a value.
        let placeholder: String?
        /// One line of help, with the default.
        let help: String
        /// Stores the value; throws a message when it is unacceptable.
        let apply: @Sendable (inout ServerConfiguration, String) throws(ConfigurationError) -> Void

        /// `JOURNAL_SERVER_` and the flag in upper case with `_` for `-`.
        var environmentName: String {
            "JOURNAL_SERVER_" + String(flag.dropFirst(2).uppercased().map { $0 == "-" ? "_" : $0 })
        }
    }

    /// Every flag, in help order.
    static let options: [Option] = [
        Option(flag: "--file", placeholder: "PATH", help: "journal file (default ./journal.sj)") { $0.file = $1 },
        Option(flag: "--host", placeholder: "H", help: "address to bind (default 127.0.0.1)") { $0.host = $1 },
        Option(flag: "--port", placeholder: "N", help: "port to bind, 0 picks a free one (default 8080)") {
            (config, value) throws(ConfigurationError) in
            guard let port = UInt16(value) else { throw ConfigurationError(message: "--port must be 0...65535") }
            config.port = port
        },
        Option(flag: "--token", placeholder: "T", help: "bearer token required for writes") { $0.token = $1 },
        Option(flag: "--read-token", placeholder: "T", help: "bearer token required for reads (optional)") {
            $0.readToken = $1
        },
        Option(flag: "--insecure", placeholder: nil, help: "allow a non-loopback address without --token") {
            (config, value) throws(ConfigurationError) in config.insecure = try flagValue(value, "--insecure")
        },
        Option(
            flag: "--durability", placeholder: "P",
            help: "every-ack (default: a 2xx means fdatasync'd), interval:DUR (e.g. interval:100ms) or none"
        ) { (config, value) throws(ConfigurationError) in
            switch value {
            case "every-ack", "every-acknowledgement": config.durability = .everyAcknowledgement
            case "none": config.durability = .none
            default:
                let text = value.hasPrefix("interval:") ? String(value.dropFirst(9)) : value
                guard let interval = DurationText.parse(text), interval > .zero else {
                    throw ConfigurationError(message: "--durability must be every-ack, none or interval:DURATION")
                }
                config.durability = .interval(interval)
            }
        },
        Option(
            flag: "--on-restart", placeholder: "P",
            help: "keep-open (default: open streams wait for their producers) or interrupt (end them at once)"
        ) { (config, value) throws(ConfigurationError) in
            guard let policy = RestartPolicy(rawValue: value) else {
                throw ConfigurationError(message: "--on-restart must be keep-open or interrupt")
            }
            config.onRestart = policy
        },
        Option(flag: "--stale-after", placeholder: "DUR", help: "end an open stream with no append this long (5m)") {
            (config, value) throws(ConfigurationError) in config.staleAfter = try duration(value, "--stale-after")
        },
        Option(
            flag: "--retention", placeholder: "DUR",
            help: "drop finished streams this long after they end, whatever their status; off keeps all "
                + "(default: 7d completed, 1d others)"
        ) { (config, value) throws(ConfigurationError) in
            if value == "off" {
                config.retention = .keepEverything
            } else {
                let age = try duration(value, "--retention")
                config.retention.completedMaxAge = age
                config.retention.unsuccessfulMaxAge = age
            }
        },
        Option(flag: "--max-connections", placeholder: "N", help: "open connections at most; more get 503 (16000)") {
            (config, value) throws(ConfigurationError) in
            config.maxConnections = try integer(value, "--max-connections", 1...1_000_000)
        },
        Option(flag: "--max-header-bytes", placeholder: "SIZE", help: "request line and headers (16KiB)") {
            (config, value) throws(ConfigurationError) in
            config.limits.maxHeaderBytes = try size(value, "--max-header-bytes", 256...(1 << 20))
        },
        Option(flag: "--max-header-count", placeholder: "N", help: "header fields per request (100)") {
            (config, value) throws(ConfigurationError) in
            config.limits.maxHeaderCount = try integer(value, "--max-header-count", 1...10_000)
        },
        Option(flag: "--max-uri-bytes", placeholder: "SIZE", help: "request target length (8KiB)") {
            (config, value) throws(ConfigurationError) in
            config.limits.maxURIBytes = try size(value, "--max-uri-bytes", 16...(1 << 20))
        },
        Option(flag: "--max-body-bytes", placeholder: "SIZE", help: "request body (4MiB)") {
            (config, value) throws(ConfigurationError) in
            config.limits.maxBodyBytes = try size(value, "--max-body-bytes", 0...(1 << 30))
        },
        Option(
            flag: "--max-chunk-bytes", placeholder: "SIZE",
            help: "one chunk; larger appends get 413 (1MiB; --max-body-bytes caps it too)"
        ) {
            (config, value) throws(ConfigurationError) in
            config.maxChunkBytes = try size(value, "--max-chunk-bytes", 1...(64 << 20))
        },
        Option(flag: "--idle-timeout", placeholder: "DUR", help: "close keep-alive connections idle this long (60s)") {
            (config, value) throws(ConfigurationError) in config.idleTimeout = try duration(value, "--idle-timeout")
        },
        Option(flag: "--header-timeout", placeholder: "DUR", help: "408 when a request head takes longer (10s)") {
            (config, value) throws(ConfigurationError) in config.headerTimeout = try duration(value, "--header-timeout")
        },
        Option(flag: "--request-timeout", placeholder: "DUR", help: "408 when a whole request takes longer (30s)") {
            (config, value) throws(ConfigurationError) in
            config.requestTimeout = try duration(value, "--request-timeout")
        },
        Option(flag: "--send-timeout", placeholder: "DUR", help: "close a connection whose output is stuck (5m)") {
            (config, value) throws(ConfigurationError) in config.sendTimeout = try duration(value, "--send-timeout")
        },
        Option(flag: "--heartbeat", placeholder: "DUR", help: "SSE heartbeat comment interval (15s)") {
            (config, value) throws(ConfigurationError) in config.heartbeat = try duration(value, "--heartbeat")
        },
        Option(flag: "--retry", placeholder: "DUR", help: "SSE reconnection delay sent as retry: (3s)") {
            (config, value) throws(ConfigurationError) in
            config.retryMilliseconds = Int(try duration(value, "--retry").microseconds / 1000)
        },
        Option(flag: "--output-buffer", placeholder: "SIZE", help: "pending output per connection (64KiB)") {
            (config, value) throws(ConfigurationError) in
            config.outputBufferBytes = try size(value, "--output-buffer", 4096...(64 << 20))
        },
        Option(flag: "--workers", placeholder: "N", help: "threads running journal writes (8)") {
            (config, value) throws(ConfigurationError) in config.workers = try integer(value, "--workers", 1...256)
        },
        Option(flag: "--shutdown-grace", placeholder: "DUR", help: "time to finish requests on SIGTERM (5s)") {
            (config, value) throws(ConfigurationError) in
            config.shutdownGrace = try duration(value, "--shutdown-grace")
        },
    ]

    /// Reads flags from `arguments` (without the program name), falling back to
    /// `environment`, then to the defaults; validates the result.
    static func parse(arguments: [String], environment: [String: String]) throws(ConfigurationError) -> ServerCommand {
        var config = ServerConfiguration()
        var given: [String: String] = [:]
        /// Flags whose value came from the environment, so an error names the variable.
        var fromEnvironment: Set<String> = []
        for option in options {
            if let value = environment[option.environmentName], !value.isEmpty {
                given[option.flag] = value
                fromEnvironment.insert(option.flag)
            }
        }
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--help" || argument == "-h" { return .help }
            var flag = argument
            var inline: String?
            if let equals = argument.firstIndex(of: "="), argument.hasPrefix("--") {
                flag = String(argument[..<equals])
                inline = String(argument[argument.index(after: equals)...])
            }
            guard let option = options.first(where: { $0.flag == flag }) else {
                throw ConfigurationError(message: "unknown argument \(argument); see --help")
            }
            fromEnvironment.remove(flag)
            if option.placeholder == nil {
                given[flag] = inline ?? "true"
                continue
            }
            if let inline {
                given[flag] = inline
            } else {
                guard index < arguments.count else { throw ConfigurationError(message: "\(flag) needs a value") }
                given[flag] = arguments[index]
                index += 1
            }
        }
        for option in options {
            guard let value = given[option.flag] else { continue }
            do {
                try option.apply(&config, value)
            } catch  where fromEnvironment.contains(option.flag) {
                throw ConfigurationError(message: "\(option.environmentName)=\(value): \(error.message)")
            }
        }
        try config.validate()
        return .run(config)
    }

    /// Checks combinations: a token for non-loopback addresses, limits that fit together.
    func validate() throws(ConfigurationError) {
        guard let address = SocketAddress(host: host, port: port) else {
            throw ConfigurationError(message: "--host must be a numeric IPv4 or IPv6 address or localhost")
        }
        if !address.isLoopback && token == nil && !insecure {
            throw ConfigurationError(
                message:
                    "refusing to bind \(host) (reachable from other machines) without --token; add --insecure to allow it"
            )
        }
        if limits.maxURIBytes > limits.maxHeaderBytes {
            throw ConfigurationError(message: "--max-uri-bytes cannot exceed --max-header-bytes")
        }
        if token?.isEmpty == true || readToken?.isEmpty == true {
            throw ConfigurationError(message: "tokens cannot be empty")
        }
    }

    /// The help text.
    static var usage: String {
        var text = """
            usage: journal-server [options]

            Serves a StreamJournal file over HTTP/1.1 with Server-Sent Events.
            Prints "listening on http://HOST:PORT" once it accepts connections; SIGINT,
            SIGTERM or SIGHUP stop it cleanly (exit 0), answering requests in progress for up
            to --shutdown-grace; a second signal stops it without waiting. Every option can
            also be set through the environment variable shown after it.

            options:

            """
        for option in options {
            let flag = option.flag + (option.placeholder.map { " " + $0 } ?? "")
            let padded = flag + String(repeating: " ", count: max(1, 24 - flag.count))
            text += "  \(padded)\(option.help)  [\(option.environmentName)]\n"
        }
        text += "  --help                  this text\n"
        text += "\ndurations: 250us, 500ms, 30s (or 30), 5m, 2h, 7d; sizes: 4096, 64KiB, 1MiB, 1GiB\n"
        return text
    }

    private static func duration(_ text: String, _ flag: String) throws(ConfigurationError) -> Duration {
        guard let value = DurationText.parse(text), value > .zero else {
            throw ConfigurationError(message: "\(flag) must be a positive duration such as 500ms, 30s or 5m")
        }
        return value
    }

    private static func integer(_ text: String, _ flag: String, _ range: ClosedRange<Int>) throws(ConfigurationError)
        -> Int
    {
        guard let value = Int(text), range.contains(value) else {
            throw ConfigurationError(message: "\(flag) must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    private static func size(_ text: String, _ flag: String, _ range: ClosedRange<Int>) throws(ConfigurationError)
        -> Int
    {
        guard let value = DurationText.parseBytes(text), range.contains(value) else {
            throw ConfigurationError(
                message: "\(flag) must be a size in \(range.lowerBound)...\(range.upperBound) bytes (e.g. 64KiB)")
        }
        return value
    }

    private static func flagValue(_ text: String, _ flag: String) throws(ConfigurationError) -> Bool {
        switch text.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigurationError(message: "\(flag) takes no value (or true/false in the environment)")
        }
    }
}
