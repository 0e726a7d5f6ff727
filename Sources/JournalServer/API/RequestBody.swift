import Journal

/// Decoders for the JSON request bodies, each returning a value or a 400 response that says
/// what was wrong. Bodies come from the network: unknown fields are refused (a typo should
/// not be silently ignored) and every value's type is checked.
enum RequestBody {
    /// Stream metadata from `{"metadata": {"key": "value", ...}}`; an empty body is none.
    static func metadata(_ body: [UInt8]) -> Result<[String: String], BodyProblem> {
        guard let object = objectOrEmpty(body) else { return .failure(notAnObject(body)) }
        if let unknown = object.keys.first(where: { $0 != "metadata" }) {
            return .failure(BodyProblem("unknown field \"\(unknown.prefix(40))\"; expected {\"metadata\": {...}}"))
        }
        guard let metadata = object["metadata"] else { return .success([:]) }
        guard let members = metadata.objectValue else {
            return .failure(BodyProblem("\"metadata\" must be an object of strings"))
        }
        var result: [String: String] = [:]
        for (key, value) in members {
            guard let text = value.stringValue else {
                return .failure(BodyProblem("metadata value \"\(key.prefix(40))\" must be a string"))
            }
            result[key] = text
        }
        return .success(result)
    }

    /// An optional reason from `{"reason": "..."}`; an empty body is none.
    static func reason(_ body: [UInt8]) -> Result<String?, BodyProblem> {
        guard let object = objectOrEmpty(body) else { return .failure(notAnObject(body)) }
        if let unknown = object.keys.first(where: { $0 != "reason" }) {
            return .failure(BodyProblem("unknown field \"\(unknown.prefix(40))\"; expected {\"reason\": \"...\"}"))
        }
        guard let reason = object["reason"] else { return .success(nil) }
        guard let text = reason.stringValue else { return .failure(BodyProblem("\"reason\" must be a string")) }
        return .success(text)
    }

    /// Chunks from `{"chunks": [...], "encoding": "text" | "base64"}` (text by default).
    static func batch(_ body: [UInt8]) -> Result<[[UInt8]], BodyProblem> {
        guard !body.isEmpty, let object = objectOrEmpty(body) else { return .failure(notAnObject(body)) }
        if let unknown = object.keys.first(where: { $0 != "chunks" && $0 != "encoding" }) {
            return .failure(BodyProblem("unknown field \"\(unknown.prefix(40))\"; expected chunks and encoding"))
        }
        let encoding = object["encoding"]?.stringValue ?? "text"
        guard encoding == "text" || encoding == "base64", object["encoding"].map({ $0.stringValue != nil }) ?? true
        else { return .failure(BodyProblem("\"encoding\" must be \"text\" or \"base64\"")) }
        guard let elements = object["chunks"]?.arrayValue, !elements.isEmpty else {
            return .failure(BodyProblem("\"chunks\" must be a non-empty array of strings"))
        }
        var chunks: [[UInt8]] = []
        chunks.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            guard let text = element.stringValue else {
                return .failure(BodyProblem("chunk \(index) is not a string"))
            }
            if encoding == "base64" {
                guard let bytes = Base64.decode(text) else {
                    return .failure(BodyProblem("chunk \(index) is not canonical padded base64"))
                }
                chunks.append(bytes)
            } else {
                chunks.append(Array(text.utf8))
            }
        }
        return .success(chunks)
    }

    /// The body's object, `[:]` for an empty body, nil when it is not a JSON object.
    private static func objectOrEmpty(_ body: [UInt8]) -> [String: JSONValue]? {
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return [:] }
        return (try? JSONValue.parse(body))?.objectValue
    }

    private static func notAnObject(_ body: [UInt8]) -> BodyProblem {
        do {
            _ = try JSONValue.parse(body)
            return BodyProblem("the body must be a JSON object")
        } catch {
            return BodyProblem(error.description)
        }
    }
}

/// A body that could not be used; becomes a 400 `invalid_body` response.
struct BodyProblem: Error, Sendable, Equatable {
    /// What was wrong.
    var message: String
    /// The error code of the response: `invalid_body`, or `invalid_query` for the URL's query.
    var code: String
    /// Wraps a message.
    init(_ message: String, code: String = "invalid_body") {
        self.message = message
        self.code = code
    }

    /// The 400 response.
    var response: HTTPResponse { .error(400, code: code, message: message) }
}
