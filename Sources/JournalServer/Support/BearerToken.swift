/// A secret compared in constant time, so the time a comparison takes reveals nothing about
/// how many leading bytes of a guess were right.
struct BearerToken: Sendable, Equatable {
    private let secret: [UInt8]

    /// Wraps a configured token.
    init(_ text: String) {
        secret = Array(text.utf8)
    }

    /// Whether `candidate` equals the token. Runs over every byte of the secret whatever the
    /// candidate is; only the secret's length (not its content) influences the time.
    func matches(_ candidate: String) -> Bool {
        var difference = secret.count ^ candidate.utf8.count
        var iterator = candidate.utf8.makeIterator()
        for byte in secret {
            // A shorter candidate is padded with zeros; the length check above already failed it.
            let other = iterator.next() ?? 0
            difference |= Int(byte ^ other)
        }
        return difference == 0
    }

    /// Whether an `Authorization` header value carries this token as `Bearer <token>`
    /// (scheme case-insensitive, RFC 9110 §11.1).
    func matches(authorization: String?) -> Bool {
        guard let authorization else { return false }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        return matches(String(parts[1].trimmingSpaces))
    }
}
