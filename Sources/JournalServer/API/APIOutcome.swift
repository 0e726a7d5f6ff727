import Journal

/// What the API decided for a request; the event loop carries it out.
enum APIOutcome: Sendable {
    /// Answer at once (reads, errors).
    case respond(HTTPResponse)
    /// Run on a worker thread (it may block in `fdatasync`), then answer with its result.
    case work(@Sendable () -> HTTPResponse)
    /// Turn the connection into an event stream.
    case subscribe(SubscriptionPlan)
    /// Answer with the metrics page, which needs the loop's own figures.
    case metrics
}

/// Where a new event stream starts, decided from `Last-Event-ID` / `lastEventId` / `from`.
struct SubscriptionPlan: Sendable, Equatable {
    /// The stream.
    var stream: StreamID
    /// First chunk index to send.
    var start: Int
    /// When the resume id could not be honoured: the `reset` event to send first.
    var reset: (earliest: Int, reason: String)?

    /// Compares all fields.
    static func == (lhs: SubscriptionPlan, rhs: SubscriptionPlan) -> Bool {
        lhs.stream == rhs.stream && lhs.start == rhs.start && lhs.reset?.earliest == rhs.reset?.earliest
            && lhs.reset?.reason == rhs.reset?.reason
    }
}
