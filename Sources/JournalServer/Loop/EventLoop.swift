import Glibc
import Journal
import Synchronization

/// The single thread that owns every socket: one `epoll_wait`, then reads, parses, routes
/// and writes for whichever descriptors are ready; never blocks on anything else.
///
/// Journal writes go to `WorkerPool` and come back through `LoopInbox`; journal watches
/// ring the same inbox. Connections are edge-triggered (registered once with in, out and
/// read-hang-up), so the loop makes no `epoll_ctl` call per request.
final class EventLoop {
    /// Routing and handlers.
    let api: ServerAPI
    /// Limits, timeouts and flags.
    let configuration: ServerConfiguration
    /// The journal served (reads on this thread, writes on `workers`).
    let journal: Journal
    /// Threads for journal writes.
    let workers: WorkerPool
    /// Worker results and watch notifications, with the eventfd that announces them.
    let inbox: LoopInbox
    /// The one blocking call.
    let epoll: Epoll
    /// The listening socket; nil once shutdown has begun.
    var listener: ListeningSocket?
    /// SIGINT, SIGTERM and SIGHUP as a descriptor.
    let signals: SignalFD
    /// Per-connection timeouts in nanoseconds.
    let timeouts: ConnectionStateMachine.Timeouts

    /// Connections by slot (nil for a free slot).
    var connections: [Connection?] = []
    /// Each slot's current generation.
    var generations: [UInt32] = []
    /// Slots to reuse.
    var freeSlots: [Int] = []
    /// Connections counted against `--max-connections` (rejections excluded).
    var activeConnections = 0
    /// Over-limit connections being told 503.
    var rejections = 0
    /// Open event streams.
    var subscriberCount = 0
    /// The hub of each stream with subscribers.
    var hubs: [StreamID: StreamHub] = [:]
    /// The same hubs by watch key (a deleted stream's old hub stays here until it empties).
    var hubsByKey: [Int: StreamHub] = [:]
    /// Hubs with subscribers queued for delivery (served a slice per loop iteration).
    var busyHubs: [StreamHub] = []
    /// The last hub key handed out.
    var nextHubKey = 0
    /// The loop's counters for /metrics.
    var statistics = LoopStatistics()

    /// Scratch space for every `read`: connections keep only what they must.
    let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    /// A descriptor held in reserve so that at the file limit a pending connection can still
    /// be accepted and closed instead of spinning on a listener that stays readable.
    var reserveDescriptor: Int32
    /// How often timers are swept.
    let tickInterval: UInt64
    /// When the next sweep is due.
    var nextTick: UInt64
    /// When the next retention sweep is due.
    var nextRetentionSweep: UInt64
    /// One retention sweep at a time.
    let retentionGate = RetentionGate()
    /// Set when shutdown began: the time it gives up waiting.
    var shutdownDeadline: UInt64?
    /// Cleared to leave `run`.
    var running = true

    /// Epoll token of the listening socket (high bit set: never a connection).
    static let listenerToken: UInt64 = 1 << 63 | 1
    /// Epoll token of the inbox's eventfd.
    static let inboxToken: UInt64 = 1 << 63 | 2
    /// Epoll token of the signalfd.
    static let signalToken: UInt64 = 1 << 63 | 3
    /// How long a closing connection may keep sending before it is cut off.
    static let lingerNanoseconds: UInt64 = 2_000_000_000
    /// Over-limit connections answered with a polite 503 at once; beyond this they are closed.
    static let maxRejections = 256

    /// A loop serving `api` on `listener`, shutting down on `signals`.
    init(api: ServerAPI, listener: ListeningSocket, signals: consuming SignalFD) throws(Errno) {
        self.api = api
        configuration = api.configuration
        journal = api.journal
        workers = WorkerPool(threads: configuration.workers)
        inbox = LoopInbox(doorbell: try EventFD())
        epoll = try Epoll()
        timeouts = ConnectionStateMachine.Timeouts(
            idle: configuration.idleTimeout.nanoseconds, header: configuration.headerTimeout.nanoseconds,
            request: configuration.requestTimeout.nanoseconds)
        let shortest = [
            configuration.idleTimeout, configuration.headerTimeout, configuration.requestTimeout,
            configuration.sendTimeout, configuration.heartbeat,
        ].min()!
        // Timers are checked by a sweep; a quarter of the shortest timeout keeps them within 25%.
        tickInterval = min(max(shortest.nanoseconds / 4, 10_000_000), 250_000_000)
        let now = MonotonicClock.now()
        nextTick = now + tickInterval
        nextRetentionSweep = now + EventLoop.retentionInterval(configuration)
        reserveDescriptor = open("/dev/null", O_RDONLY | O_CLOEXEC)
        try epoll.add(listener.descriptor, events: .readable, token: EventLoop.listenerToken)
        try epoll.add(inbox.doorbell.descriptor, events: .readable, token: EventLoop.inboxToken)
        try epoll.add(signals.descriptor, events: .readable, token: EventLoop.signalToken)
        self.listener = listener
        self.signals = signals
    }

    deinit {
        readBuffer.deallocate()
        if reserveDescriptor >= 0 { Glibc.close(reserveDescriptor) }
    }

    /// Serves until a shutdown signal has been handled and every connection is done (or the
    /// grace period ran out); then stops the workers. The caller syncs and closes the journal.
    func run() {
        while running {
            let now = MonotonicClock.now()
            var wait = nextTick > now ? Int32(min((nextTick - now) / 1_000_000 + 1, 1000)) : 0
            // Deliveries still queued: look at the sockets without sleeping, then go on.
            if !busyHubs.isEmpty { wait = 0 }
            do {
                try epoll.wait(timeoutMilliseconds: wait) { token, events in handle(token: token, events: events) }
            } catch {
                log("epoll_wait failed: \(error); shutting down")
                beginShutdown()
            }
            _ = deliverSlices()
            let after = MonotonicClock.now()
            if after >= nextTick {
                tick(now: after)
                nextTick = after + tickInterval
            }
            if let deadline = shutdownDeadline, activeConnections + rejections == 0 || after >= deadline {
                for case let connection? in connections { close(connection) }
                running = false
            }
        }
        workers.shutdown()
        // Results of jobs that finished after their connection closed: nothing to deliver.
        _ = inbox.take()
    }

    private func handle(token: UInt64, events: Epoll.Events) {
        switch token {
        case EventLoop.listenerToken: acceptConnections()
        case EventLoop.inboxToken: drainInbox()
        case EventLoop.signalToken:
            while let signal = signals.next() {
                if shutdownDeadline != nil {
                    log("second signal \(signal): stopping without waiting")
                    shutdownDeadline = 0
                } else {
                    log("signal \(signal): shutting down")
                    beginShutdown()
                }
            }
        default:
            guard let id = ConnectionID(token: token), let connection = lookup(id) else { return }
            if events.contains(.error) || events.contains(.hangUp) && !events.contains(.readable) {
                close(connection)
                return
            }
            if events.contains(.readable) { connection.readable = true }
            if events.contains(.readHangUp) {
                connection.peerHalfClosed = true
                connection.readable = true
            }
            if events.contains(.writable) { connection.writable = true }
            service(connection)
        }
    }

    /// The live connection with this id, or nil when it closed.
    func lookup(_ id: ConnectionID) -> Connection? {
        guard id.slot < connections.count, generations[id.slot] == id.generation else { return nil }
        return connections[id.slot]
    }

    // MARK: Accepting

    private func acceptConnections() {
        guard let listener else { return }
        for _ in 0..<256 {
            let descriptor: Int32
            do {
                guard let accepted = try listener.accept() else { return }
                descriptor = accepted
            } catch {
                if error.rawValue == EMFILE || error.rawValue == ENFILE {
                    shedWithReserveDescriptor(listener)
                } else {
                    log("accept failed: \(error)")
                }
                return
            }
            let socket = Socket(descriptor: descriptor)
            let full = activeConnections >= configuration.maxConnections || shutdownDeadline != nil
            if full {
                statistics.rejectedFull += 1
                if rejections >= EventLoop.maxRejections {
                    socket.close()
                    continue
                }
            }
            register(socket, rejection: full)
        }
    }

    private func register(_ socket: Socket, rejection: Bool) {
        let now = MonotonicClock.now()
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
        } else {
            slot = connections.count
            connections.append(nil)
            generations.append(0)
        }
        let id = ConnectionID(slot: slot, generation: generations[slot])
        let connection = Connection(
            id: id, socket: socket, limits: configuration.limits, timeouts: timeouts,
            outputLimit: configuration.outputBufferBytes, now: now, isRejection: rejection)
        do {
            try epoll.add(
                socket.descriptor, events: [.readable, .writable, .readHangUp, .edgeTriggered], token: id.token)
        } catch {
            socket.close()
            freeSlots.append(slot)
            return
        }
        connections[slot] = connection
        socket.setNoDelay()
        if rejection {
            rejections += 1
            connection.machine.close()
            send(
                HTTPResponse.error(
                    503, code: "too_many_connections",
                    message: "the server is at its connection limit or shutting down; retry shortly",
                    headers: [HTTPHeader(name: "Retry-After", value: "1")]
                ).serialized(keepAlive: false), to: connection)
            connection.closeAfterFlush = true
            service(connection)
        } else {
            activeConnections += 1
            statistics.accepted += 1
        }
    }

    /// At the descriptor limit: frees the reserve, accepts and closes one connection (its
    /// client sees a closed connection rather than a hang), and takes the reserve back.
    private func shedWithReserveDescriptor(_ listener: ListeningSocket) {
        guard reserveDescriptor >= 0 else { return }
        Glibc.close(reserveDescriptor)
        if let descriptor = try? listener.accept() { Glibc.close(descriptor) }
        statistics.rejectedFull += 1
        reserveDescriptor = open("/dev/null", O_RDONLY | O_CLOEXEC)
    }

    // MARK: Inbox

    private func drainInbox() {
        inbox.doorbell.drain()
        let (completions, hubKeys) = inbox.take()
        let now = MonotonicClock.now()
        for completion in completions {
            guard let connection = lookup(completion.connection) else { continue }
            respond(completion.response, to: connection, now: now)
            service(connection)
        }
        var seen = Set<Int>()
        for key in hubKeys where seen.insert(key).inserted {
            if let hub = hubsByKey[key] { refresh(hub) }
        }
    }

    // MARK: Timers

    private func tick(now: UInt64) {
        let heartbeat = configuration.heartbeat.nanoseconds
        let sendTimeout = configuration.sendTimeout.nanoseconds
        for case let connection? in connections {
            if let deadline = connection.lingerDeadline {
                if now >= deadline { close(connection) }
                continue
            }
            if !connection.output.isEmpty {
                if now &- connection.lastProgress >= sendTimeout {
                    statistics.timeouts += 1
                    close(connection)
                }
                continue
            }
            if var subscription = connection.subscription {
                if !subscription.ended && now &- subscription.lastWrite >= heartbeat {
                    subscription.lastWrite = now
                    connection.subscription = subscription
                    send(EventLoop.heartbeatBytes, to: connection)
                }
                continue
            }
            switch connection.machine.tick(now: now) {
            case .close:
                statistics.timeouts += 1
                close(connection)
            case .fail(let response):
                statistics.timeouts += 1
                sendFinal(response, to: connection)
                service(connection)
            default:
                break
            }
        }
        if now >= nextRetentionSweep {
            nextRetentionSweep = now + EventLoop.retentionInterval(configuration)
            sweepRetention()
        }
    }

    /// `:` and a blank line: an SSE comment that keeps proxies and clients from timing out.
    static let heartbeatBytes = Array(":\n\n".utf8)

    // MARK: Shutdown

    /// Stops accepting, ends every event stream with a final heartbeat comment, closes idle
    /// connections, and lets requests in flight finish (their responses say `Connection:
    /// close`) within `--shutdown-grace`.
    func beginShutdown() {
        guard shutdownDeadline == nil else { return }
        // Saturating: a grace of centuries (`--shutdown-grace 106751991d`) means "wait for
        // every connection", not an overflow trap on the signal.
        let (deadline, overflow) = MonotonicClock.now().addingReportingOverflow(configuration.shutdownGrace.nanoseconds)
        shutdownDeadline = overflow ? .max : deadline
        if let listener {
            epoll.remove(listener.descriptor)
            listener.close()
        }
        listener = nil
        for case let connection? in connections {
            if connection.subscription != nil {
                connection.subscription!.ended = true
                send(Array(": server shutting down\n\n".utf8), to: connection)
                connection.machine.close()
                connection.closeAfterFlush = true
                service(connection)
                continue
            }
            switch connection.machine.state {
            case .idle, .receiving:
                // A reply still queued for a slow reader goes out first, within the grace:
                // closing at once cut a keep-alive response off mid-body (and could drop a
                // durable append's acknowledgement, inviting a retry that stores it twice).
                if connection.output.isEmpty {
                    close(connection)
                } else {
                    connection.machine.close()
                    connection.closeAfterFlush = true
                    service(connection)
                }
            case .processing, .closing, .streaming: break
            }
        }
    }

    // MARK: Retention

    /// A quarter of the shortest age, between 1 s and 1 min; never when nothing expires.
    private static func retentionInterval(_ configuration: ServerConfiguration) -> UInt64 {
        let ages = [configuration.retention.completedMaxAge, configuration.retention.unsuccessfulMaxAge].compactMap {
            $0
        }
        guard let shortest = ages.min() else { return .max / 2 }
        return min(max(shortest.nanoseconds / 4, 1_000_000_000), 60_000_000_000)
    }

    /// Deletes finished streams past their retention age on a worker (deletes are writes), so
    /// they leave the API when due rather than whenever compaction next runs; compaction then
    /// reclaims their bytes.
    private func sweepRetention() {
        let policy = configuration.retention
        if retentionGate.running.exchange(true, ordering: .acquiringAndReleasing) { return }
        let journal = self.journal
        let metrics = api.metrics
        let gate = retentionGate
        workers.submit {
            defer { gate.running.store(false, ordering: .releasing) }
            let now = WallClock.microseconds()
            guard let streams = try? journal.streams() else { return }
            for info in streams where info.status.isFinished {
                let age = info.status == .completed ? policy.completedMaxAge : policy.unsuccessfulMaxAge
                guard let age, let finishedAt = info.finishedAt, finishedAt <= now - age.microseconds else { continue }
                if (try? journal.deleteStream(info.id)) != nil {
                    metrics.retentionDeletes.add(1, ordering: .relaxed)
                }
            }
        }
    }
}

/// Writes one line to standard error, prefixed with the program name.
func log(_ message: String) {
    var line = Array("journal-server: \(message)\n".utf8)
    _ = line.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

/// Lets one retention sweep run at a time (set on the loop, cleared by the worker).
final class RetentionGate: Sendable {
    /// A sweep is queued or running.
    let running = Atomic<Bool>(false)
}
