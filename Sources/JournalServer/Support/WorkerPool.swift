import Glibc

/// Threads that run the journal calls that may block (every write: under `every-ack` an
/// append waits for `fdatasync`), so the event loop never does.
///
/// Plain pthreads, not Swift tasks: a task blocked in `fdatasync` would hold one of the
/// cooperative pool's few threads. Several workers blocked at once share one sync through the
/// journal's group commit, which is where concurrent appends get their throughput.
final class WorkerPool: @unchecked Sendable {
    /// A unit of work; it reports its own result (through the loop's completion queue).
    typealias Job = @Sendable () -> Void

    private let lock = ConditionLock()
    // Guarded by `lock`.
    private var queue: [Job] = []
    private var head = 0
    private var stopping = false
    private var threads: [pthread_t] = []
    private var busy = 0

    /// Starts `count` threads.
    init(threads count: Int) {
        for _ in 0..<count {
            var thread = pthread_t()
            let box = Unmanaged.passRetained(self).toOpaque()
            let result = pthread_create(
                &thread, nil,
                { raw in
                    let pool = Unmanaged<WorkerPool>.fromOpaque(raw!).takeRetainedValue()
                    pool.run()
                    return nil
                }, box)
            if result == 0 {
                threads.append(thread)
            } else {
                Unmanaged<WorkerPool>.fromOpaque(box).release()
            }
        }
    }

    /// Queues `job`; it runs on the next free worker.
    func submit(_ job: @escaping Job) {
        lock.withLock {
            queue.append(job)
            lock.signal()
        }
    }

    /// Jobs queued or running, for metrics.
    var pending: Int { lock.withLock { queue.count - head + busy } }

    /// Lets the queued jobs finish, then stops and joins every thread.
    func shutdown() {
        let joining: [pthread_t] = lock.withLock {
            stopping = true
            lock.broadcast()
            defer { threads = [] }
            return threads
        }
        for thread in joining { pthread_join(thread, nil) }
    }

    private func run() {
        while let job = take() {
            job()
            lock.withLock { busy -= 1 }
        }
    }

    private func take() -> Job? {
        lock.withLock {
            while head == queue.count && !stopping { lock.wait() }
            if head == queue.count { return nil }
            let job = queue[head]
            head += 1
            busy += 1
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 1024 && head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            return job
        }
    }
}
