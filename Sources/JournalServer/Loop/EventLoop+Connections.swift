import Glibc
import Journal

/// Per-connection I/O: reading into the state machine, carrying out its actions, writing
/// and closing.
extension EventLoop {
    /// Moves a connection forward as far as it can go without blocking: writes pending
    /// output, refills an event stream, dispatches pipelined requests, reads new input.
    /// Called after anything that may let it progress (readiness, a worker's answer, a wake).
    func service(_ connection: Connection) {
        while !connection.isClosed {
            if !connection.output.isEmpty {
                if connection.writable { flush(connection) }
                if connection.isClosed { return }
            }
            if connection.closeAfterFlush {
                if connection.output.isEmpty { finishClose(connection) }
                if connection.lingerDeadline != nil { discardInput(connection) }
                return
            }
            if connection.subscription != nil {
                if connection.output.canRefill && connection.writable { pump(connection) }
                if !connection.isClosed && !connection.closeAfterFlush { discardInput(connection) }
                if connection.closeAfterFlush && connection.output.isEmpty && !connection.isClosed { continue }
                return
            }
            // Backpressure: no new request while the previous answer is mostly unsent.
            guard connection.output.canRefill else { return }
            let now = MonotonicClock.now()
            switch connection.machine.state {
            case .idle where connection.machine.bufferedInput > 0:
                let action = connection.machine.resume(now: now)
                if action == .none { continue }
                perform(action, on: connection, now: now)
            case .idle, .receiving:
                if connection.readable {
                    guard let action = readRequestBytes(connection, now: now) else { return }
                    perform(action, on: connection, now: now)
                } else {
                    // The peer finished sending and every complete request it sent has been
                    // answered: nothing more can arrive, so a partial request never completes.
                    guard connection.peerHalfClosed else { return }
                    connection.machine.close()
                    connection.closeAfterFlush = true
                }
            case .processing, .streaming, .closing:
                return
            }
        }
    }

    /// One `read` fed to the state machine; nil when the connection closed.
    private func readRequestBytes(_ connection: Connection, now: UInt64) -> ConnectionStateMachine.Action? {
        switch connection.socket.read(into: readBuffer) {
        case .bytes(let count):
            // A short read drained the socket; the next edge reports new data.
            if count < readBuffer.count { connection.readable = false }
            return connection.machine.received(UnsafeRawBufferPointer(rebasing: readBuffer[..<count]), now: now)
        case .wouldBlock:
            connection.readable = false
            return ConnectionStateMachine.Action.none
        case .endOfFile:
            // Not closed here: answers already queued are still written (see `service`).
            connection.readable = false
            connection.peerHalfClosed = true
            return ConnectionStateMachine.Action.none
        case .failed:
            close(connection)
            return nil
        }
    }

    /// Reads and drops whatever arrives (event streams, lingering closes); closes at EOF.
    func discardInput(_ connection: Connection) {
        while connection.readable && !connection.isClosed {
            switch connection.socket.read(into: readBuffer) {
            case .bytes(let count):
                if count < readBuffer.count { connection.readable = false }
            case .wouldBlock:
                connection.readable = false
            case .endOfFile, .failed:
                close(connection)
            }
        }
        if connection.peerHalfClosed && !connection.isClosed && connection.lingerDeadline == nil
            && connection.subscription != nil
        {
            // An event-stream client that half-closed is gone for good.
            close(connection)
        }
    }

    /// Carries out a state-machine action.
    func perform(_ action: ConnectionStateMachine.Action, on connection: Connection, now: UInt64) {
        switch action {
        case .none:
            break
        case .dispatch(let request):
            statistics.requests += 1
            route(request, on: connection, now: now)
        case .sendContinue:
            send(HTTPResponse.continueBytes, to: connection)
        case .fail(let response):
            statistics.parseErrors += 1
            sendFinal(response, to: connection)
        case .close:
            close(connection)
        }
    }

    private func route(_ request: HTTPRequest, on connection: Connection, now: UInt64) {
        switch api.handle(request) {
        case .respond(let response):
            respond(response, to: connection, now: now)
        case .metrics:
            respond(metricsResponse(), to: connection, now: now)
        case .work(let job):
            let id = connection.id
            let inbox = self.inbox
            workers.submit { inbox.complete(id, job()) }
        case .subscribe(let plan):
            startSubscription(plan, on: connection, now: now)
        }
    }

    /// Writes the response to the dispatched request; closes after it when the request or
    /// the server's state says so.
    func respond(_ response: HTTPResponse, to connection: Connection, now: UInt64) {
        guard connection.machine.state == .processing else { return }
        statistics.responsesByClass[min(max(response.status / 100, 1), 5)] += 1
        // A half-closed peer may have pipelined more complete requests before its FIN; each
        // is answered, and only the answer with nothing buffered behind it says close.
        // (`readable`: EPOLLRDHUP can come while requests are still unread in the socket.)
        let lastFromPeer =
            connection.peerHalfClosed && !connection.readable && connection.machine.bufferedInput == 0
        let forceClose = shutdownDeadline != nil || lastFromPeer
        let (bytes, close) = connection.machine.respond(response, now: now, forceClose: forceClose)
        send(bytes, to: connection)
        if close { connection.closeAfterFlush = true }
    }

    /// Writes a response after which the connection closes (parse errors, timeouts).
    func sendFinal(_ response: HTTPResponse, to connection: Connection) {
        statistics.responsesByClass[min(max(response.status / 100, 1), 5)] += 1
        connection.machine.close()
        send(response.serialized(keepAlive: false), to: connection)
        connection.closeAfterFlush = true
    }

    /// Sends `bytes` now as far as the socket takes them; queues the rest.
    func send(_ bytes: [UInt8], to connection: Connection) {
        bytes.withUnsafeBytes { send($0, to: connection) }
    }

    /// Sends `bytes` now as far as the socket takes them; queues the rest.
    func send(_ bytes: UnsafeRawBufferPointer, to connection: Connection) {
        guard !connection.isClosed else { return }
        if !connection.output.isEmpty || !connection.writable {
            connection.output.append(bytes)
            return
        }
        let sent = write(bytes, to: connection)
        if connection.isClosed { return }
        if sent < bytes.count { connection.output.append(UnsafeRawBufferPointer(rebasing: bytes[sent...])) }
    }

    /// Writes as much of `bytes` as the socket accepts; returns the count. Marks the
    /// connection not writable on a short write, closes it on an error.
    @discardableResult
    func write(_ bytes: UnsafeRawBufferPointer, to connection: Connection) -> Int {
        var total = 0
        while total < bytes.count {
            switch connection.socket.send(UnsafeRawBufferPointer(rebasing: bytes[total...])) {
            case .sent(let count):
                total += count
                if total < bytes.count {
                    connection.writable = false
                    break
                }
            case .wouldBlock:
                connection.writable = false
            case .failed:
                close(connection)
                return total
            }
            if !connection.writable { break }
        }
        if total > 0 { connection.lastProgress = MonotonicClock.now() }
        return total
    }

    /// Writes queued output.
    func flush(_ connection: Connection) {
        connection.output.drain { pending in write(pending, to: connection) }
    }

    /// After the last byte of a closing connection: half-close and linger, reading and
    /// dropping input until the client closes (or `lingerNanoseconds`), so a client still
    /// sending does not get a reset that would destroy the response it has not read yet.
    private func finishClose(_ connection: Connection) {
        guard connection.lingerDeadline == nil else { return }
        if connection.peerHalfClosed {
            close(connection)
            return
        }
        connection.socket.shutdownWrite()
        connection.lingerDeadline = MonotonicClock.now() + EventLoop.lingerNanoseconds
    }

    /// Closes the socket and forgets the connection (its slot's generation changes, so late
    /// reports for it are ignored).
    func close(_ connection: Connection) {
        guard !connection.isClosed else { return }
        connection.isClosed = true
        connection.socket.close()
        let slot = connection.id.slot
        connections[slot] = nil
        generations[slot] = (generations[slot] &+ 1) & 0x7FFF_FFFF
        freeSlots.append(slot)
        if connection.isRejection {
            rejections -= 1
        } else {
            activeConnections -= 1
        }
        if let subscription = connection.subscription {
            connection.subscription = nil
            subscriberCount -= 1
            release(subscription.hub)
        }
    }

    private func metricsResponse() -> HTTPResponse {
        var buffered = 0
        for case let connection? in connections { buffered += connection.output.count }
        return api.metricsPage(
            loop: statistics, connections: activeConnections, subscribers: subscriberCount, bufferedOutput: buffered,
            pendingJobs: workers.pending)
    }
}
