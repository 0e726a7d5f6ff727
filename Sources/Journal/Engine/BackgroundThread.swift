#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Starts a plain pthread running `body`. The engine's background work (syncs, stale checks,
/// snapshots, polling another process's commits) blocks in system calls, which must stay off
/// Swift's cooperative pool. Throws `pthread_create`'s error when the thread could not start.
func startBackgroundThread(_ body: @escaping () -> Void) throws(Errno) -> pthread_t {
    final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body))
    #if canImport(Glibc)
        var thread = pthread_t()
    #else
        var thread: pthread_t?
    #endif
    let result = pthread_create(
        &thread, nil,
        { raw in
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, box.toOpaque())
    if result != 0 {
        box.release()
        throw Errno(rawValue: result)
    }
    #if canImport(Glibc)
        return thread
    #else
        return thread!  // set by a pthread_create that returned 0
    #endif
}
