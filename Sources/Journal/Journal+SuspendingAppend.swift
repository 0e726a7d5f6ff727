extension Journal {
    /// The `async` counterpart of `append(_:to:)`: appends one chunk and returns its index once
    /// the durability policy acknowledges it, suspending the task instead of blocking its
    /// thread.
    ///
    /// Under `Durability.everyAcknowledgement` the chunk is durable when this returns. The
    /// maintenance thread runs the `fdatasync`, and one sync covers every chunk appended while
    /// the previous one ran (group commit), so any number of producer tasks share syncs without
    /// a thread each; the blocking `append(_:to:)` costs two thread switches per chunk instead.
    /// Under the other policies it returns as soon as the chunk is written.
    ///
    /// A failed sync throws `JournalError.io` here too, and the handle refuses further writes.
    @discardableResult
    public func appendSuspending(_ chunk: [UInt8], to stream: StreamID) async throws(JournalError) -> Int {
        let (index, end) = try chunk.withBytes { (raw) throws(JournalError) in
            try engine.appendWithoutAcknowledging(raw, to: stream)
        }
        try await acknowledge(end)
        return index
    }

    /// Appends the UTF-8 bytes of `text` as one chunk; see `appendSuspending(_:to:)`.
    @discardableResult
    public func appendSuspending(_ text: String, to stream: StreamID) async throws(JournalError) -> Int {
        let (index, end) = try text.withUTF8Bytes { (raw) throws(JournalError) in
            try engine.appendWithoutAcknowledging(raw, to: stream)
        }
        try await acknowledge(end)
        return index
    }

    /// Appends the bytes in `buffer` as one chunk without copying them first; see
    /// `appendSuspending(_:to:)`. The bytes are written before the first suspension, so the
    /// buffer only needs to outlive the call's start, not the wait for durability.
    @discardableResult
    public func appendSuspending(bytes buffer: UnsafeRawBufferPointer, to stream: StreamID) async throws(JournalError)
        -> Int
    {
        let (index, end) = try engine.appendWithoutAcknowledging(buffer, to: stream)
        try await acknowledge(end)
        return index
    }

    private func acknowledge(_ end: LogPosition) async throws(JournalError) {
        if engine.options.durability == .everyAcknowledgement { try await engine.awaitDurable(upTo: end) }
    }
}
