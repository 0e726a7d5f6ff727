/// One event as the WHATWG event-stream interpretation dispatches it.
///
/// `data` stays raw bytes rather than a `String` so that a parser on the receiving end of our
/// own stream never loses bytes to U+FFFD replacement, and so binary chunks survive when they
/// travel as base64 (see `SSEEncoder.Mode`).
public struct SSEEvent: Sendable, Equatable {
    /// The stream's last event ID string when this event was dispatched (it persists across
    /// events until an `id` field changes it, as the spec says); nil while that string is empty,
    /// because an empty ID is what a client must not send back as `Last-Event-ID`.
    public var id: String?
    /// The event type buffer; nil when it was empty, which clients treat as `"message"`.
    public var event: String?
    /// The data buffer: the `data` field values joined by LF, without the final LF.
    public var data: [UInt8]
    /// The reconnection time (ms) from the last valid `retry` field seen since the previous
    /// dispatched event, so a consumer reading only events still learns about it.
    public var retry: Int?

    /// Builds an event by hand, mainly to compare against what the parser produced.
    public init(id: String? = nil, event: String? = nil, data: [UInt8], retry: Int? = nil) {
        self.id = id
        self.event = event
        self.data = data
        self.retry = retry
    }

    /// The same as `init(id:event:data:retry:)` with text data, for readable expectations.
    public init(id: String? = nil, event: String? = nil, text: String, retry: Int? = nil) {
        self.init(id: id, event: event, data: Array(text.utf8), retry: retry)
    }

    /// Which way `SSEEncoder` carried the payload, judged from the `.b64` event-name suffix.
    public var dataEncoding: SSEDataEncoding {
        event.map { $0.utf8.count >= 4 && $0.utf8.suffix(4).elementsEqual(SSEEvent.base64Suffix.utf8) } == true
            ? .base64 : .text
    }

    /// The chunk payload exactly as it was given to `SSEEncoder.chunk`: base64-decoded when the
    /// event name carries the `.b64` suffix, else `data` itself. Nil only when a `.b64` event's
    /// data is not canonical padded base64 (a damaged or foreign event): returning some other
    /// bytes would be silent corruption.
    public var decodedPayload: [UInt8]? {
        guard dataEncoding == .base64 else { return data }
        return data.withUnsafeBytes { Base64.decode($0) }
    }

    /// The event name the producer chose, with the encoding suffix removed; `"message"` when
    /// there was none, which is what an `EventSource` client would report too.
    public var payloadEventName: String {
        guard var name = event else { return "message" }
        if dataEncoding == .base64 {
            name = String(decoding: name.utf8.dropLast(SSEEvent.base64Suffix.utf8.count), as: UTF8.self)
        }
        return name.isEmpty ? "message" : name
    }

    /// The event-name suffix that marks base64 data; one place so encoder and parser agree.
    static let base64Suffix = ".b64"
}
