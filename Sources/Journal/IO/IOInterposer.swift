/// One file operation the engine is about to perform or has performed.
///
/// These are all the operations that change a file or a directory, plus the ones that can
/// fail for lack of resources (`open`, `map`, `startThread`). Stores through the writable mapping are not
/// operations: they cannot fail with an error (a failed write-back is reported by the next
/// sync) and an interposer sees their effect by reading the file.
enum IOOperation: Sendable, Equatable {
    case open(path: String)
    case create(path: String)
    case write(offset: UInt64, length: Int)
    case dataSync
    case sync
    case allocate(offset: UInt64, length: UInt64)
    case zeroRange(offset: UInt64, length: UInt64)
    case map(length: Int)
    case link(from: String, to: String)
    case unlink(path: String)
    case rename(from: String, to: String)
    case syncDirectory(path: String)
    /// A writer's background thread (`maintenance`, `prefault`, `compaction`).
    case startThread(name: String)

    /// The operation's name without arguments, for counting and filtering.
    var kind: Kind {
        switch self {
        case .open: .open
        case .create: .create
        case .write: .write
        case .dataSync: .dataSync
        case .sync: .sync
        case .allocate: .allocate
        case .zeroRange: .zeroRange
        case .map: .map
        case .link: .link
        case .unlink: .unlink
        case .rename: .rename
        case .syncDirectory: .syncDirectory
        case .startThread: .startThread
        }
    }

    /// `IOOperation` without its arguments.
    enum Kind: String, Sendable, CaseIterable {
        case open, create, write, dataSync, sync, allocate, zeroRange, map, link, unlink, rename, syncDirectory,
            startThread
    }
}

/// The engine's I/O seam: an object that sees every file operation before and after the
/// system performs it, and may fail it instead.
///
/// Tests use it to inject `EIO` or `ENOSPC` at any chosen call, and to record writes and
/// syncs so that they can rebuild the file as a power cut at any point would have left it.
/// Production code passes none, which costs one nil check per system call (appends do not
/// make system calls; they store into the mapping).
protocol IOInterposer: AnyObject, Sendable {
    /// Called before `operation` on `descriptor` (-1 for path operations); throwing makes
    /// the operation fail with that error without being performed.
    func willPerform(_ operation: IOOperation, descriptor: Int32) throws(Errno)
    /// Called after `operation` succeeded; for `open` and `create`, `descriptor` is the new one.
    func didPerform(_ operation: IOOperation, descriptor: Int32)
}

/// An interposer held in `JournalOptions`, compared by identity so the options stay
/// `Equatable`.
struct Interposition: Sendable, Equatable {
    let interposer: any IOInterposer

    static func == (lhs: Interposition, rhs: Interposition) -> Bool {
        ObjectIdentifier(lhs.interposer) == ObjectIdentifier(rhs.interposer)
    }
}

extension Optional where Wrapped == any IOInterposer {
    /// Runs `body` between the interposer's two calls (or just runs it when there is none).
    @inline(__always)
    func around<T>(
        _ operation: @autoclosure () -> IOOperation, descriptor: Int32, _ body: () throws(Errno) -> T
    ) throws(Errno) -> T {
        guard let interposer = self else { return try body() }
        let operation = operation()
        try interposer.willPerform(operation, descriptor: descriptor)
        let result = try body()
        interposer.didPerform(operation, descriptor: descriptor)
        return result
    }
}
