extension Journal {
    /// Journals an async sequence of text chunks (an LLM client's token stream) into an open
    /// stream, then ends the stream: **completed** when the sequence ends, **failed** with the
    /// error's description when it throws, **cancelled** when the producing task is cancelled.
    /// Returns the stream's final info; rethrows the sequence's error after recording it.
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
        do {
            for try await element in chunks {
                try Task.checkCancellation()
                let (_, end) = try bytes(element) { raw in try self.engine.appendWithoutAcknowledging(raw, to: stream) }
                if everyAck { try await engine.awaitDurable(upTo: end) }
            }
            try Task.checkCancellation()
            try await end(stream, .completed, reason: nil)
        } catch let error as JournalError {
            // A chunk the journal refuses (too large, the stream full) leaves it working: the
            // stream fails with the reason, rather than stay open for good. Any other error
            // is the journal's own, and the stream cannot be ended through it either.
            switch error {
            case .chunkTooLarge, .streamFull:
                // The refusal is what the caller needs to hear, even if ending fails too.
                try? await end(stream, .failed, reason: Journal.clipped(error.description))
            default:
                break
            }
            throw error
        } catch is CancellationError {
            try await end(stream, .cancelled, reason: "the producing task was cancelled")
            throw CancellationError()
        } catch {
            try await end(stream, .failed, reason: Journal.clipped(String(describing: error)))
            throw error
        }
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
