/// The bounds the request parser enforces; every one of them is a parameter so that tests can
/// drive each limit without a socket, and operators can tune them with flags.
struct HTTPLimits: Sendable, Equatable {
    /// Request line, header lines and the blank line together (431 beyond).
    var maxHeaderBytes = 16 * 1024
    /// Header fields in one request, and trailer fields after a chunked body (431 beyond).
    var maxHeaderCount = 100
    /// The request target as sent, percent-escapes included (414 beyond).
    var maxURIBytes = 8 * 1024
    /// The decoded request body (413 beyond, announced or discovered while reading).
    var maxBodyBytes = 4 << 20
    /// One chunk-size line of a chunked body, extensions included (400 beyond).
    var maxChunkLineBytes = 1024
    /// Blank lines accepted before a request line (RFC 9112 §2.2 asks servers to skip one).
    var maxLeadingBlankLines = 4
    /// The longest method token accepted.
    var maxMethodBytes = 32
}
