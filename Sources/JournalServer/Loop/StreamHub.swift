import Journal

/// Everything the loop shares between the subscribers of one stream: the one journal watch,
/// the chunk count the loop knows, the subscribers waiting for news, the delivery queue and
/// the new events encoded once for all of them.
///
/// Delivery rotates: when the stream changes, every waiting subscriber joins the back of
/// `queue`; the loop serves the queue a slice at a time between its other events, sending
/// each subscriber everything it lacks straight from `segment` in one `send`. Chunks appended
/// while a round is under way are added to the segment, so subscribers later in the queue
/// take several events in one write: under a fast producer the cost per event falls instead of
/// the producer waiting for the fan-out. The queue is ordered by position (subscribers join it
/// in the order they caught up), so the segment is trimmed from the front as the head moves.
///
/// Subscribers that fell behind (their socket was full) are in neither list; they read from
/// the journal with their own cursor as their socket drains, and wait again once caught up.
final class StreamHub {
    /// The stream.
    let id: StreamID
    /// Key for watch notifications (`LoopInbox.hubChanged`).
    let key: Int
    /// The stream's creation time: a deleted and recreated stream of the same id differs.
    let createdAt: Int64
    /// Chunks the loop has seen (every subscriber's reads stop here).
    var knownCount: Int
    /// The stream's status when last looked at.
    var status: StreamStatus
    /// Its reason, once finished.
    var reason: String?
    /// The stream was deleted (subscribers end with status `deleted`).
    var deleted = false
    /// Connections subscribed (in any state).
    var subscribers = 0
    /// Caught-up subscribers waiting for the next change (ids of connections that closed
    /// since may linger; they are skipped when used).
    var waiting: [ConnectionID] = []
    /// Subscribers due for delivery, served from `queueHead` on.
    var queue: [ConnectionID] = []
    /// First unserved entry of `queue`.
    var queueHead = 0
    /// Listed in the loop's busy hubs (the queue is being served).
    var isBusy = false
    /// The armed journal watch, if any.
    var watch: StreamWatch?
    /// Encoded events `segmentFirst ..< knownCount` (or fewer after trimming: see `segmentFirst`).
    var segment: [UInt8] = []
    /// `segmentOffsets[i]` is where event `segmentFirst + i` starts in `segment`; the last
    /// entry is the end. Empty when the segment is.
    var segmentOffsets: [Int] = []
    /// Index of the first event in `segment`.
    var segmentFirst = 0

    /// A hub for a stream as `info` describes it.
    init(info: StreamInfo, key: Int) {
        id = info.id
        self.key = key
        createdAt = info.createdAt
        knownCount = info.chunkCount
        status = info.status
        reason = info.reason
        segmentFirst = info.chunkCount
    }

    /// Whether no more chunks will come.
    var isFinished: Bool { status.isFinished || deleted }

    /// Whether event `index` is in the segment.
    func segmentHolds(_ index: Int) -> Bool {
        !segmentOffsets.isEmpty && index >= segmentFirst && index < segmentFirst + segmentOffsets.count - 1
    }

    /// Adds one encoded event (the next index) to the segment.
    func appendToSegment(index: Int, encode: (inout [UInt8]) -> Void) {
        if segmentOffsets.isEmpty {
            segmentFirst = index
            segmentOffsets.append(segment.count)
        }
        encode(&segment)
        segmentOffsets.append(segment.count)
    }

    /// Forgets events before `index` once that frees enough to be worth a copy (half the
    /// segment), or everything when `index` is past the end.
    func trimSegment(before index: Int) {
        guard !segmentOffsets.isEmpty, index > segmentFirst else { return }
        let end = segmentFirst + segmentOffsets.count - 1
        if index >= end {
            clearSegment(next: index)
            return
        }
        let cut = segmentOffsets[index - segmentFirst]
        guard cut * 2 >= segment.count else { return }
        segment.removeSubrange(0..<cut)
        segmentOffsets.removeSubrange(0..<(index - segmentFirst))
        for position in segmentOffsets.indices { segmentOffsets[position] -= cut }
        segmentFirst = index
    }

    /// Empties the segment; storage beyond a small size is released.
    func clearSegment(next: Int) {
        if segment.capacity > 64 * 1024 { segment = [] } else { segment.removeAll(keepingCapacity: true) }
        segmentOffsets.removeAll(keepingCapacity: segmentOffsets.capacity <= 4096)
        segmentFirst = next
    }
}
