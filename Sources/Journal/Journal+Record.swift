extension Journal {
    /// Journals an async sequence of text chunks (an LLM client's token stream) into an open
    /// stream, then ends the stream: **completed** when the sequence ends, **failed** with the
    /// error's description when it throws, **cancelled** when the producing task is cancelled
    /// (also when the sequence reports that cancellation by throwing an error of its own, as
    /// HTTP clients do). Returns the stream's final info; rethrows the sequence's error after
    /// recording it, and it is that error the caller gets even if the stream could not be
    /// ended (someone else ended it first, or the journal closed).
    ///
    /// Under `Durability.everyAcknowledgement` each chunk is durable before the next element
    /// is requested; the wait suspends the task instead of blocking a thread in `fdatasync`.
    @discardableResult
    public func record<S: AsyncSequence>(_ chunks: S, into stream: StreamID) async throws -> StreamInfo
    where S.Element == String {
        try await record(chunks, into: stream) { text, body in
            var text = text
            return try text.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
        }
    }

    /// Journals an async sequence of byte chunks into an open stream; see the `String`
    /// version for how the stream ends.
    @discardableResult
    public func record<S: AsyncSequence>(_ chunks: S, into stream: StreamID) async throws -> StreamInfo
    where S.Element == [UInt8] {
        try await record(chunks, into: stream) { bytes, body in try bytes.withUnsafeBytes { try body($0) } }
    }

    private func record<S: AsyncSequence>(
        _ chunks: S, into stream: StreamID,
        bytes: (S.Element, (UnsafeRawBufferPointer) throws -> (Int, LogPosition)) throws -> (Int, LogPosition)
    ) async throws -> StreamInfo {
        let everyAck = engine.options.durability == .everyAcknowledgement
        let cancelledReason = "the producing task was cancelled"
        var iterator = chunks.makeAsyncIterator()
        while true {
            // The sequence's errors and the journal's are told apart by where they are thrown,
            // not by type: a sequence relaying another journal (a follower of it) throws
            // `JournalError`s of its own, and catching those as this journal's left the stream
            // open for good.
            let next: S.Element?
            do {
                next = try await iterator.next()
            } catch {
                // A client library that meets its task's cancellation throws its own error
                // (URLError.cancelled, ...): the stream was cancelled, not failed.
                let cancelled = Task.isCancelled || error is CancellationError
                // The sequence's error is what the caller needs to hear, even if ending the
                // stream fails too (someone else ended it, or the journal closed).
                try? await end(
                    stream, cancelled ? .cancelled : .failed,
                    reason: cancelled ? cancelledReason : Journal.clipped(String(describing: error)))
                throw error
            }
            guard let element = next else { break }
            if Task.isCancelled {
                try? await end(stream, .cancelled, reason: cancelledReason)
                throw CancellationError()
            }
            do {
                let (_, end) = try bytes(element) { raw in try self.engine.appendWithoutAcknowledging(raw, to: stream) }
                if everyAck { try await engine.awaitDurable(upTo: end) }
            } catch let error as JournalError {
                // A chunk the journal refuses (too large, the stream full, no room on the disk)
                // leaves it working: the stream fails with the reason, rather than stay open
                // for good (the terminal record is small and usually fits where the chunk did
                // not). Any other error is the journal's own, and the stream cannot be ended
                // through it either.
                switch error {
                case .chunkTooLarge, .streamFull:
                    try? await end(stream, .failed, reason: Journal.clipped(error.description))
                case .io(_, _, let errno) where errno.isOutOfRoom:
                    try? await end(stream, .failed, reason: Journal.clipped(error.description))
                default:
                    break
                }
                throw error
            }
        }
        // An iterator that meets cancellation may simply end (AsyncStream does).
        if Task.isCancelled {
            try? await end(stream, .cancelled, reason: cancelledReason)
            throw CancellationError()
        }
        try await end(stream, .completed, reason: nil)
        return try info(stream)
    }

    /// `text` cut at a character boundary to fit `maxReasonBytes`, saying so: an error's
    /// description can be anything, and the stream must end whatever it is.
    static func clipped(_ text: String) -> String {
        if text.utf8.count <= maxReasonBytes { return text }
        let note = " [cut to \(maxReasonBytes) bytes from \(text.utf8.count)]"
        var kept = Substring(text)
        // Whole characters from the end until the rest and the note fit.
        while kept.utf8.count + note.utf8.count > maxReasonBytes {
            kept = kept.dropLast(max(1, (kept.utf8.count + note.utf8.count - maxReasonBytes) / 4))
        }
        return kept + note
    }

    /// Writes the terminal record and waits for it without blocking a thread.
    private func end(_ stream: StreamID, _ status: StreamStatus, reason: String?) async throws(JournalError) {
        let end = try engine.finish(stream, status: status, reason: reason, durable: false)
        if engine.options.durability == .everyAcknowledgement { try await engine.awaitDurable(upTo: end) }
    }
}
