/// A mistake on the command line, with the message to print.
struct UsageError: Error, CustomStringConvertible {
    /// What was wrong.
    let description: String
}

/// The `--name value` pairs after the mode word.
struct Flags {
    private var values: [String: String] = [:]

    /// Parses `arguments`; every flag takes exactly one value.
    init(_ arguments: ArraySlice<String>) throws(UsageError) {
        var rest = arguments[...]
        while let name = rest.popFirst() {
            guard name.hasPrefix("--"), name.count > 2 else { throw UsageError(description: "unexpected \"\(name)\"") }
            guard let value = rest.popFirst() else { throw UsageError(description: "\(name) needs a value") }
            values[String(name.dropFirst(2))] = value
        }
    }

    /// The value of `--name`, or `fallback` when absent; absent without a fallback is an error.
    func string(_ name: String, default fallback: String? = nil) throws(UsageError) -> String {
        if let value = values[name] ?? fallback { return value }
        throw UsageError(description: "--\(name) is required")
    }

    /// The value of `--name` as an integer.
    func int(_ name: String, default fallback: Int? = nil) throws(UsageError) -> Int {
        let text = try string(name, default: fallback.map(String.init))
        guard let value = Int(text) else {
            throw UsageError(description: "--\(name) wants an integer, not \"\(text)\"")
        }
        return value
    }

    /// The value of `--name` as an unsigned 64-bit integer (seeds).
    func uint64(_ name: String, default fallback: UInt64? = nil) throws(UsageError) -> UInt64 {
        let text = try string(name, default: fallback.map { String($0) })
        guard let value = UInt64(text) else {
            throw UsageError(description: "--\(name) wants an unsigned integer, not \"\(text)\"")
        }
        return value
    }
}
