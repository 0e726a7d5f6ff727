#if canImport(Glibc)
    import Glibc
#endif

/// A plain pthread. The producers block in `fdatasync` (every-ack durability), which must not
/// happen on Swift's cooperative pool: with two cores it would serialise the producers and
/// hide the group commit a kill should land in.
struct NativeThread {
    private let thread: pthread_t

    /// Starts a thread running `body`.
    init(_ body: @escaping @Sendable () -> Void) {
        final class Box {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        let box = Unmanaged.passRetained(Box(body))
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { raw in
                Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
                return nil
            }, box.toOpaque())
        precondition(result == 0, "pthread_create failed: \(result)")
        self.thread = thread
    }

    /// Waits for the thread to return.
    func join() { pthread_join(thread, nil) }
}
