// libFuzzer target: hostile bytes into the HTTP/1.1 request parser (Fuzz/run.sh builds it).
//
// Compiled with the few JournalServer files the parser needs. The parser is incremental, so
// the same bytes are fed whole, split at a point the input chooses, and one byte at a time:
// all three must yield the same requests and the same error. Small limits, chosen by the
// input, let short inputs reach every limit check.

private func limits(_ selector: UInt8) -> HTTPLimits {
    var limits = HTTPLimits()
    if selector & 1 != 0 {
        limits.maxHeaderBytes = 64 + Int(selector >> 1)
        limits.maxHeaderCount = Int(selector & 0x0F)
        limits.maxURIBytes = 8 + Int(selector >> 3)
        limits.maxBodyBytes = Int(selector)
        limits.maxChunkLineBytes = 4 + Int(selector >> 4)
        limits.maxLeadingBlankLines = Int(selector & 3)
        limits.maxMethodBytes = 1 + Int(selector >> 5)
    }
    return limits
}

/// Feeds `bytes` in pieces ending at each of `cuts`, collecting requests until an error.
private func parse(_ bytes: ArraySlice<UInt8>, cuts: [Int], limits: HTTPLimits) -> [HTTPRequestParser.Result] {
    var parser = HTTPRequestParser(limits: limits)
    var results: [HTTPRequestParser.Result] = []
    var start = bytes.startIndex
    for cut in cuts + [bytes.endIndex] where cut >= start {
        parser.append(Array(bytes[start..<cut]))
        start = cut
        while true {
            let result = parser.next()
            switch result {
            case .incomplete:
                break
            case .request(let request):
                results.append(result)
                require(request.body.count <= limits.maxBodyBytes, "a body over the limit was returned")
                _ = request.keepAlive
                _ = try? RequestTarget(request.target)
                continue
            case .failure:
                results.append(result)
                require(parser.next() == result, "the parser did not stay failed")
                return results
            }
            break
        }
        // Chunk data is in both the input buffer and the body until 16 KiB of it are
        // consumed, so twice what was fed is the bound, not once.
        let fed = start - bytes.startIndex
        require(parser.heldByteCount <= 2 * fed, "the parser holds more than twice the bytes it was given")
    }
    return results
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let limits = limits(input[0])
    let bytes = input[2...]
    let split = bytes.startIndex + Int(input[1]) % (bytes.count + 1)
    let whole = parse(bytes, cuts: [], limits: limits)
    let halves = parse(bytes, cuts: [split], limits: limits)
    require(whole == halves, "whole and split-at-\(split - 2) parses differ: \(whole) vs \(halves)")
    if bytes.count <= 4096 {
        let single = parse(bytes, cuts: Array(bytes.indices), limits: limits)
        require(whole == single, "whole and byte-by-byte parses differ: \(whole) vs \(single)")
    }
    return 0
}

/// `precondition` that prints its message in optimized builds too (the fuzzer's report).
private func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}
