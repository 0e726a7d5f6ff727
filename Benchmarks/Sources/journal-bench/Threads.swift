// Plain pthreads for the concurrent-appender workload: N threads released together, each
// appending until a shared deadline.

import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Holds the closure a new thread runs.
private final class ThreadStart {
    let body: @Sendable (Int) -> Void
    let index: Int
    init(body: @escaping @Sendable (Int) -> Void, index: Int) {
        self.body = body
        self.index = index
    }
}

/// Runs `body(i)` on `count` new threads (i = 0..<count), calls `afterStart` on the calling
/// thread once they are all created (to open a `StartGate`), and waits for all of them.
/// Stacks are 512 KiB so that 512 threads stay cheap.
func runThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void, afterStart: () -> Void) {
    var threads: [pthread_t] = []
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    pthread_attr_setstacksize(&attributes, 512 << 10)
    defer { pthread_attr_destroy(&attributes) }
    for i in 0..<count {
        let start = Unmanaged.passRetained(ThreadStart(body: body, index: i)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, &attributes,
            { raw in
                let start = Unmanaged<ThreadStart>.fromOpaque(raw!).takeRetainedValue()
                start.body(start.index)
                return nil
            }, start)
        guard rc == 0 else {
            // The threads already started wait at a gate that will never open: give up.
            FileHandle.standardError.write(Data("pthread_create failed with \(rc) after \(i) threads\n".utf8))
            exit(2)
        }
        threads.append(thread)
    }
    afterStart()
    for t in threads { pthread_join(t, nil) }
}

/// Releases every worker at the same moment and tells them when to stop.
final class StartGate: @unchecked Sendable {
    private let condition = NSCondition()
    private var waiting = 0
    private var opened = false
    /// When the workers stop (monotonic ns); set when the gate opens.
    private(set) var deadline: UInt64 = 0
    /// When the gate opened (monotonic ns).
    private(set) var openedAt: UInt64 = 0

    /// Called by each worker: blocks until `open`.
    func wait() {
        condition.lock()
        waiting += 1
        condition.broadcast()
        while !opened { condition.wait() }
        condition.unlock()
    }

    /// Called by the coordinator: waits for `workers` to arrive, then releases them all to run
    /// for `seconds`.
    func open(afterWorkers workers: Int, runFor seconds: Double) {
        condition.lock()
        while waiting < workers { condition.wait() }
        openedAt = monotonicNanoseconds()
        deadline = openedAt + UInt64(seconds * 1e9)
        opened = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Per-worker results written without locks (each worker owns one slot), plus the first error.
final class WorkerResults: @unchecked Sendable {
    private let counts: UnsafeMutablePointer<Int>
    /// Number of workers.
    let workers: Int
    private let lock = NSLock()
    private var firstError: String?

    /// Slots for `workers` workers, all zero.
    init(workers: Int) {
        self.workers = workers
        counts = .allocate(capacity: workers)
        counts.initialize(repeating: 0, count: workers)
    }

    deinit { counts.deallocate() }

    /// Sets worker `i`'s count.
    func set(_ i: Int, _ count: Int) { counts[i] = count }
    /// Worker `i`'s count.
    func count(_ i: Int) -> Int { counts[i] }
    /// All workers' counts added up.
    var total: Int { (0..<workers).reduce(0) { $0 + counts[$1] } }

    /// Records `message` unless an error was recorded already.
    func fail(_ message: String) {
        lock.lock()
        if firstError == nil { firstError = message }
        lock.unlock()
    }

    /// The first error, if any.
    var error: String? {
        lock.lock()
        defer { lock.unlock() }
        return firstError
    }
}
