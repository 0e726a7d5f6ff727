import Journal

/// Event streams: starting them, delivering new chunks to caught-up subscribers from one
/// shared encoding in slices between the loop's other work, letting lagging subscribers catch
/// up from the journal as their sockets drain, and ending them.
extension EventLoop {
    /// Response head of every event stream; a HEAD of one gets the same fields.
    static let eventStreamHead = HTTPResponse.eventStream.serialized(keepAlive: false)

    /// Subscribers served per loop iteration across all busy hubs: small enough that a
    /// producer's acknowledgement is never stuck behind a fan-out to thousands, large enough
    /// that the extra `epoll_wait` between slices costs nothing noticeable.
    static let deliverySlice = 32

    /// Turns the connection into an event stream starting at `plan.start`.
    func startSubscription(_ plan: SubscriptionPlan, on connection: Connection, now: UInt64) {
        guard let hub = hub(for: plan.stream) else {
            respond(JournalError.unknownStream(plan.stream).response, to: connection, now: now)
            return
        }
        statistics.responsesByClass[2] += 1
        statistics.subscriptionsStarted += 1
        connection.machine.startStreaming()
        var head = EventLoop.eventStreamHead
        SSEEncoder.retry(milliseconds: configuration.retryMilliseconds, into: &head)
        if let reset = plan.reset { SSEEncoder.reset(earliest: reset.earliest, reason: reset.reason, into: &head) }
        connection.subscription = Subscription(hub: hub, next: plan.start, lastWrite: now)
        hub.subscribers += 1
        subscriberCount += 1
        arm(hub)
        send(head, to: connection)
    }

    /// The hub for `stream`, created for the first subscriber.
    private func hub(for stream: StreamID) -> StreamHub? {
        guard let info = try? journal.info(stream) else { return nil }
        if let hub = hubs[stream] {
            if !hub.deleted && hub.createdAt == info.createdAt { return hub }
            // The id names a stream created since the hub was made. A finished stream's hub
            // has no watch, so nothing told it of the delete: refreshing now marks it deleted
            // and ends its subscribers; the new stream gets a hub of its own.
            retire(hub)
        }
        nextHubKey += 1
        let hub = StreamHub(info: info, key: nextHubKey)
        hubs[stream] = hub
        hubsByKey[hub.key] = hub
        return hub
    }

    /// Registers the hub's journal watch beyond the count it knows, unless no more can come
    /// or nobody listens. The callback only queues the hub's key and rings the loop.
    private func arm(_ hub: StreamHub) {
        guard hub.watch == nil, !hub.isFinished, hub.subscribers > 0 else { return }
        let inbox = self.inbox
        let key = hub.key
        do {
            hub.watch = try journal.watch(hub.id, beyond: hub.knownCount) { inbox.hubChanged(key) }
        } catch {
            // Deleted (or the journal closed) between two looks: the refresh finds out.
            inbox.hubChanged(key)
        }
    }

    /// Marks a hub whose stream was deleted (and perhaps created again under its id) as such:
    /// its waiting subscribers end with `deleted`, lagging ones when they next read, and the
    /// id's next subscriber gets a new hub.
    private func retire(_ hub: StreamHub) {
        hub.watch?.cancel()
        hub.watch = nil
        hub.deleted = true
        refresh(hub)
    }

    /// A subscriber left; the last one takes the hub and its watch with it.
    func release(_ hub: StreamHub) {
        hub.subscribers -= 1
        if hub.subscribers == 0 {
            hub.watch?.cancel()
            hub.watch = nil
            hub.waiting = []
            hub.queue = []
            hub.queueHead = 0
            hub.clearSegment(next: hub.knownCount)
            hubsByKey[hub.key] = nil
            if hubs[hub.id] === hub { hubs[hub.id] = nil }
        } else if hub.waiting.count > 2 * hub.subscribers + 64 {
            hub.waiting.removeAll { lookup($0)?.subscription?.parked != .waiting }
        }
    }

    // MARK: Rotating delivery

    /// The hub's watch fired: reads the new chunks once, encodes them once into the segment,
    /// moves every waiting subscriber to the delivery queue and re-arms the watch.
    func refresh(_ hub: StreamHub) {
        // Cancelled, not only dropped: a watch armed after a failed one was queued this
        // refresh would otherwise stay registered and wake the hub twice.
        hub.watch?.cancel()
        hub.watch = nil
        do {
            let info = try journal.info(hub.id)
            var cursor = try journal.chunks(of: hub.id, from: hub.knownCount)
            // Both looks must find the hub's stream: it may be deleted and created again
            // under the same id in between.
            if hub.deleted || info.createdAt != hub.createdAt || cursor.streamCreatedAt != hub.createdAt {
                hub.deleted = true
            } else {
                while let chunk = try cursor.next() {
                    if hub.subscribers > 0 {
                        hub.appendToSegment(index: chunk.index) { segment in
                            chunk.withUnsafeBytes {
                                _ = SSEEncoder.chunk(index: chunk.index, payload: $0, into: &segment)
                            }
                        }
                    }
                    hub.knownCount = chunk.index + 1
                }
                // The status is read before the chunks: a stream that ended in between shows
                // as open here, and the watch armed below fires at once for it.
                hub.status = info.status
                hub.reason = info.reason
            }
        } catch {
            hub.deleted = true
        }
        if hub.deleted, hubs[hub.id] === hub {
            // A new subscriber to a recreated stream of the same id gets a new hub.
            hubs[hub.id] = nil
        }
        let cap = 4 * configuration.outputBufferBytes
        if hub.segment.count > cap {
            // Too far ahead of the slowest queued subscriber: it reads from the journal instead.
            var first = hub.segmentFirst
            while hub.segmentHolds(first) && hub.segment.count - hub.segmentOffsets[first - hub.segmentFirst] > cap {
                first += 1
            }
            hub.trimSegment(before: first)
        }
        for id in hub.waiting {
            guard let connection = lookup(id), var subscription = connection.subscription,
                subscription.parked == .waiting, subscription.hub === hub
            else { continue }
            subscription.parked = .queued
            connection.subscription = subscription
            hub.queue.append(id)
        }
        hub.waiting = []
        if hub.queueHead < hub.queue.count {
            if !hub.isBusy {
                hub.isBusy = true
                busyHubs.append(hub)
            }
        } else {
            // Nobody to deliver to (all behind, reading from the journal): keep no copy.
            hub.clearSegment(next: hub.knownCount)
        }
        arm(hub)
    }

    /// Serves one slice of every busy hub's queue; returns whether any hub is still busy.
    func deliverSlices() -> Bool {
        guard !busyHubs.isEmpty else { return false }
        let budget = max(EventLoop.deliverySlice / busyHubs.count, 8)
        let now = MonotonicClock.now()
        for hub in busyHubs { deliver(hub, budget: budget, now: now) }
        busyHubs.removeAll { !$0.isBusy }
        return !busyHubs.isEmpty
    }

    /// Serves up to `budget` subscribers from the front of the hub's queue.
    private func deliver(_ hub: StreamHub, budget: Int, now: UInt64) {
        var served = 0
        while served < budget && hub.queueHead < hub.queue.count {
            let id = hub.queue[hub.queueHead]
            hub.queueHead += 1
            guard let connection = lookup(id), var subscription = connection.subscription,
                subscription.parked == .queued, subscription.hub === hub, !subscription.ended
            else { continue }
            served += 1
            subscription.parked = .none
            connection.subscription = subscription
            if subscription.next < hub.knownCount
                && (!hub.segmentHolds(subscription.next) || !connection.output.isEmpty || !connection.writable)
            {
                // Its events were trimmed from the segment, or its socket is full (a heartbeat
                // is pending): it catches up from the journal as the socket drains.
                service(connection)
                continue
            }
            while !connection.isClosed && subscription.next < hub.knownCount && connection.output.isEmpty
                && connection.writable
            {
                subscription = sendFromSegment(hub, to: connection, subscription, now: now)
            }
            guard !connection.isClosed, connection.output.isEmpty, connection.writable else {
                // A full socket: the rest goes out as it drains (`service` and `pump`).
                continue
            }
            if hub.isFinished {
                endSubscription(connection)
                service(connection)
            } else {
                wait(connection, on: hub)
            }
        }
        if hub.queueHead == hub.queue.count {
            hub.queue.removeAll(keepingCapacity: hub.queue.capacity <= 1024)
            hub.queueHead = 0
            hub.isBusy = false
            hub.clearSegment(next: hub.knownCount)
            return
        }
        if hub.queueHead > 1024 && hub.queueHead * 2 > hub.queue.count {
            hub.queue.removeSubrange(0..<hub.queueHead)
            hub.queueHead = 0
        }
        // Queued subscribers joined in order of position: the head's is the lowest needed.
        if let head = lookup(hub.queue[hub.queueHead])?.subscription, head.hub === hub {
            hub.trimSegment(before: head.next)
        }
    }

    /// Sends the subscriber the segment's events from its position, at most one output
    /// buffer's worth (and at least one event), so what the socket does not take stays within
    /// the per-connection bound. Returns the advanced subscription (already stored).
    private func sendFromSegment(
        _ hub: StreamHub, to connection: Connection, _ subscription: Subscription, now: UInt64
    ) -> Subscription {
        var subscription = subscription
        let first = subscription.next - hub.segmentFirst
        let start = hub.segmentOffsets[first]
        // The last event ending within the bound: offsets ascend, so bisect.
        var low = first + 1
        var high = hub.knownCount - hub.segmentFirst
        while low < high {
            let middle = (low + high + 1) / 2
            if hub.segmentOffsets[middle] - start <= connection.output.limit { low = middle } else { high = middle - 1 }
        }
        let end = hub.segmentOffsets[low]
        statistics.eventsSent += low - first
        statistics.sseBytesSent += end - start
        subscription.next = hub.segmentFirst + low
        subscription.lastWrite = now
        connection.subscription = subscription
        hub.segment.withUnsafeBytes { send(UnsafeRawBufferPointer(rebasing: $0[start..<end]), to: connection) }
        return subscription
    }

    private func wait(_ connection: Connection, on hub: StreamHub) {
        guard var subscription = connection.subscription, subscription.parked == .none else { return }
        subscription.parked = .waiting
        connection.subscription = subscription
        hub.waiting.append(connection.id)
    }

    // MARK: Catching up from the journal

    /// Refills a subscriber that is behind (new, resuming, or whose socket was full) from the
    /// journal while its output is below the low-water mark; parks it in the hub when it has
    /// caught up, ends it when the stream has ended.
    func pump(_ connection: Connection) {
        while !connection.isClosed, connection.output.canRefill, connection.writable,
            var subscription = connection.subscription, !subscription.ended, subscription.parked == .none
        {
            let hub = subscription.hub
            if subscription.next >= hub.knownCount || hub.deleted {
                if hub.isFinished {
                    endSubscription(connection)
                } else {
                    wait(connection, on: hub)
                }
                return
            }
            do {
                var cursor = try journal.chunks(of: hub.id, from: subscription.next)
                guard cursor.streamCreatedAt == hub.createdAt, cursor.endIndex > subscription.next else {
                    // The id names a newer stream (deleted and created again while this
                    // subscriber lagged, unseen by the hub): never send its chunks as this
                    // stream's, and never loop on a cursor that has nothing to give.
                    retire(hub)
                    continue
                }
                var events = 0
                var bytes = 0
                let room = connection.output.limit - connection.output.count
                try connection.output.withAppending { (out) throws(JournalError) in
                    let before = out.count
                    while subscription.next < hub.knownCount && out.count - before < room,
                        let chunk = try cursor.next()
                    {
                        chunk.withUnsafeBytes { payload in
                            _ = SSEEncoder.chunk(index: chunk.index, payload: payload, into: &out)
                        }
                        subscription.next = chunk.index + 1
                        events += 1
                    }
                    bytes = out.count - before
                }
                subscription.lastWrite = MonotonicClock.now()
                connection.subscription = subscription
                statistics.eventsSent += events
                statistics.sseBytesSent += bytes
            } catch .unknownStream, .indexOutOfRange {
                // Deleted before the hub's watch saw it: end with the same `deleted` event a
                // subscriber gets when the watch is first. (Closing without an end event
                // here failed the soak test once: a resumer saw its stream vanish silently.)
                // An index beyond the stream under this id means the same: this stream had
                // at least `next` chunks, so the id names a newer, shorter one.
                retire(hub)
                continue
            } catch {
                // Damage: the client reconnects and learns it from the error response.
                log("event stream for \(hub.id) ended: \(error)")
                close(connection)
                return
            }
            flush(connection)
        }
    }

    /// Queues the final `end` event (or `deleted`) and closes after it.
    private func endSubscription(_ connection: Connection) {
        guard var subscription = connection.subscription, !subscription.ended else { return }
        subscription.ended = true
        connection.subscription = subscription
        let hub = subscription.hub
        var bytes: [UInt8] = []
        if hub.deleted {
            SSEEncoder.end(status: "deleted", reason: "the stream was deleted", into: &bytes)
        } else {
            SSEEncoder.end(status: hub.status.rawValue, reason: hub.reason, into: &bytes)
        }
        connection.machine.close()
        connection.closeAfterFlush = true
        send(bytes, to: connection)
    }
}
