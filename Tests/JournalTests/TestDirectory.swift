#if canImport(Glibc)
    import Glibc
#endif

/// A fresh temporary directory per test, removed when the process exits cleanly.
struct TestDirectory {
    let path: String

    init(base: String = "/tmp") {
        var template = Array("\(base)/sj-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func file(_ name: String) -> String { path + "/" + name }
}
