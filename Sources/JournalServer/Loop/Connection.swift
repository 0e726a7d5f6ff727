/// One client connection as the event loop sees it: the socket, the protocol state machine,
/// pending output and, for an event stream, the subscription.
///
/// A class because the loop's table, the stream hubs' wait lists and worker completions all
/// refer to the same connection; only the loop thread touches it. Idle connections hold no
/// buffers: the parser and output release their storage when empty.
final class Connection {
    /// Slot and generation.
    let id: ConnectionID
    /// The socket (owned: closed by the loop exactly once).
    let socket: Socket
    /// HTTP state.
    var machine: ConnectionStateMachine
    /// Bytes waiting for the socket.
    var output: OutputBuffer
    /// Edge-triggered bookkeeping: the socket may have input we have not read.
    var readable = false
    /// Edge-triggered bookkeeping: the last send did not hit a full buffer.
    var writable = true
    /// The peer shut down its sending side (EPOLLRDHUP or a read at EOF): answer every complete
    /// request it sent, then close.
    var peerHalfClosed = false
    /// Close once `output` is written.
    var closeAfterFlush = false
    /// While lingering after `shutdown(SHUT_WR)`: when to give up waiting for the peer's close.
    var lingerDeadline: UInt64?
    /// Last time output made progress (the send timeout's clock).
    var lastProgress: UInt64
    /// The event stream this connection became, if any.
    var subscription: Subscription?
    /// A refused connection (over the limit) that only says 503 and closes.
    let isRejection: Bool
    /// Set by the loop when the connection is gone.
    var isClosed = false

    /// A new connection accepted at `now`.
    init(
        id: ConnectionID, socket: Socket, limits: HTTPLimits, timeouts: ConnectionStateMachine.Timeouts,
        outputLimit: Int, now: UInt64, isRejection: Bool = false
    ) {
        self.id = id
        self.socket = socket
        machine = ConnectionStateMachine(limits: limits, timeouts: timeouts, now: now)
        output = OutputBuffer(limit: outputLimit)
        lastProgress = now
        self.isRejection = isRejection
    }
}

/// An event stream's position: the next chunk index to send and when it last sent anything.
struct Subscription {
    /// The stream's hub.
    let hub: StreamHub
    /// Next chunk index to send.
    var next: Int
    /// Where the subscriber is parked in its hub.
    var parked = Parked.none
    /// Last write (heartbeats are due `--heartbeat` after it).
    var lastWrite: UInt64
    /// The final `end` event has been queued; the connection closes after it.
    var ended = false

    /// A subscriber's place in its hub.
    enum Parked: Equatable {
        /// In neither list: catching up from the journal, or its socket is full.
        case none
        /// In `hub.waiting`: caught up.
        case waiting
        /// In `hub.queue`: due for delivery.
        case queued
    }
}
