import CTestSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Makes a child spawned with `actions` inherit nothing but the descriptors below 3 (its
/// stdin, stdout and stderr, set up by the actions added before this one).
///
/// Tests run in parallel and spawn children concurrently: a child that inherited another
/// test's pipe end keeps that pipe from ever reaching end of file, and one that inherited
/// a journal's descriptor keeps its writer lock past that journal's close.
public func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
    let result = cts_spawn_close_from(&actions, 3)
    precondition(result == 0, "posix_spawn_file_actions_addclosefrom_np failed: \(result)")
}
