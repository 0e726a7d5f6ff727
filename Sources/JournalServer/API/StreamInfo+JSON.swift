import Journal

extension StreamInfo {
    /// Writes the stream's metadata and status as one JSON object (times in microseconds
    /// since the Unix epoch, metadata keys sorted so the output is stable).
    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("id")
        json.string(id.rawValue)
        json.key("status")
        json.string(status.rawValue)
        json.key("chunkCount")
        json.int(chunkCount)
        json.key("byteCount")
        json.int(byteCount)
        json.key("createdAt")
        json.int(Int(createdAt))
        json.key("updatedAt")
        json.int(Int(updatedAt))
        json.key("finishedAt")
        if let finishedAt { json.int(Int(finishedAt)) } else { json.null() }
        json.key("reason")
        json.optionalString(reason)
        json.key("metadata")
        json.beginObject()
        for key in metadata.keys.sorted() {
            json.key(key)
            json.string(metadata[key]!)
        }
        json.endObject()
        json.endObject()
    }

    /// The object alone, as a response body.
    var json: [UInt8] {
        var writer = JSONWriter()
        write(to: &writer)
        return writer.bytes
    }
}
