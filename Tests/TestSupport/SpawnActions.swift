import CTestSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Makes a child spawned with `actions` inherit nothing but the descriptors below 3 (its
/// stdin, stdout and stderr, set up by the actions added before this one).
///
/// Tests run in parallel and spawn children concurrently, and pipes are created without
/// close-on-exec (the Glibc module lacks `pipe2`): a child that inherited another test's
/// write end would keep that pipe from reaching end of file until it exits. (The journal
/// opens its own files with `O_CLOEXEC`.) Where glibc has no closefrom action (before 2.34)
/// this does nothing, so callers still close their own pipe ends explicitly.
public func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
    let result = cts_spawn_close_from(&actions, 3)
    precondition(result == 0, "posix_spawn_file_actions_addclosefrom_np failed: \(result)")
}
