import Synchronization

@testable import Journal

/// An I/O seam double that counts every file operation and fails the one with a chosen
/// number (countdown style) with a chosen `errno`, once; every other call goes through.
final class FaultInjector: IOInterposer {
    private struct State {
        var operations: [IOOperation] = []
        var injected: IOOperation?
    }

    /// Number (from 0) of the operation to fail; nil only counts.
    let failing: Int?
    let error: Errno
    private let state = Mutex(State())

    init(failing: Int? = nil, with error: Errno = Errno(rawValue: 5)) {
        self.failing = failing
        self.error = error
    }

    /// Every operation seen so far, in order, including the failed one.
    var operations: [IOOperation] { state.withLock { $0.operations } }
    /// The operation that was made to fail, if it was reached.
    var injected: IOOperation? { state.withLock { $0.injected } }

    func willPerform(_ operation: IOOperation, descriptor: Int32) throws(Errno) {
        let fail = state.withLock { state -> Bool in
            state.operations.append(operation)
            guard state.operations.count - 1 == failing else { return false }
            state.injected = operation
            return true
        }
        if fail { throw error }
    }

    func didPerform(_ operation: IOOperation, descriptor: Int32) {}
}
