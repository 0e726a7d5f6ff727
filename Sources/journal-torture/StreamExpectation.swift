import Journal

/// What the journal may hold for one stream, as far as the ledger and the checks so far
/// can tell: bounds that are exact after every check and widen only by what a life attempted
/// without hearing the outcome.
struct StreamExpectation {
    /// The stream's id.
    let id: String
    /// The journal must hold the stream: its create was acknowledged, or a check or a
    /// recovery report saw it.
    var mustExist = false
    /// The journal may hold the stream: it must, or a create is in flight.
    var mayExist = true
    /// The statuses the journal may show for it.
    var possible: Set<StreamStatus> = [.open]
    /// Chunks that must be there: acknowledged, or seen by a check (a valid record stays).
    var floor = 0
    /// One past the highest index ever attempted: more chunks than this were invented.
    var ceiling = 0
    /// Chunks whose bytes a check has already compared with their payloads.
    var verified = 0
    /// The status the last check saw; nil before the stream was first seen.
    var observed: StreamStatus?
    /// Its last activity as of the last check: the last chunk's timestamp, or its creation's.
    var lastActivity: Int64 = 0

    /// A stream whose create is about to be attempted for the first time.
    init(id: String) { self.id = id }
}
