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
    /// When set, `failing` counts only operations of this kind.
    let kind: IOOperation.Kind?
    let error: Errno
    private let state = Locked(State())

    init(failing: Int? = nil, of kind: IOOperation.Kind? = nil, with error: Errno = Errno(rawValue: 5)) {
        self.failing = failing
        self.kind = kind
        self.error = error
    }

    /// Every operation seen so far, in order, including the failed one.
    var operations: [IOOperation] { state.withLock { $0.operations } }
    /// The operation that was made to fail, if it was reached.
    var injected: IOOperation? { state.withLock { $0.injected } }

    func willPerform(_ operation: IOOperation, descriptor: Int32) throws(Errno) {
        let fail = state.withLock { state -> Bool in
            state.operations.append(operation)
            let number =
                kind.map { kind in state.operations.lazy.filter { $0.kind == kind }.count - 1 }
                ?? state.operations.count - 1
            guard number == failing, kind == nil || operation.kind == kind else { return false }
            state.injected = operation
            return true
        }
        if fail { throw error }
    }

    func didPerform(_ operation: IOOperation, descriptor: Int32) {}
}
