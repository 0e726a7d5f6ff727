import CJournal

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A thin, typed wrapper over an open file descriptor: one method per system call, each
/// retrying `EINTR` and throwing `Errno`. No policy lives here.
struct FileDescriptor: Sendable {
    let rawValue: Int32
    /// Sees every call that changes the file (tests only; nil in production).
    var interposer: (any IOInterposer)? = nil

    /// Access modes for `open`.
    enum Access {
        case readOnly
        case readWrite
    }

    /// `open(2)` of an existing file, with `O_CLOEXEC`.
    ///
    /// Opened with `O_NONBLOCK`, cleared at once: opening a FIFO for reading waits for a
    /// writer, so `verify`, `dump` or a read-only open given one hung for good instead of
    /// reaching the callers' regular-file check. Regular files ignore the flag, except that
    /// an open under a conflicting lease (a Samba or NFS server's) fails with EWOULDBLOCK
    /// instead of waiting for the lease to break: that open is made again without it.
    static func open(_ path: String, _ access: Access, interposer: (any IOInterposer)? = nil) throws(Errno)
        -> FileDescriptor
    {
        let flags = (access == .readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC
        try interposer?.willPerform(.open(path: path), descriptor: -1)
        let fd: Int32
        do throws(Errno) {
            fd = try retryingOnInterrupt { cj_open(path, flags | O_NONBLOCK, 0) }
        } catch {
            guard error.rawValue == EWOULDBLOCK else { throw error }
            fd = try retryingOnInterrupt { cj_open(path, flags, 0) }
        }
        interposer?.didPerform(.open(path: path), descriptor: fd)
        let status = fcntl(fd, F_GETFL)
        if status >= 0 { _ = fcntl(fd, F_SETFL, status & ~O_NONBLOCK) }
        return FileDescriptor(rawValue: fd, interposer: interposer)
    }

    /// `open(2)` with `O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC`: a new file that must not exist.
    static func createExclusive(
        _ path: String, permissions: mode_t = 0o644, interposer: (any IOInterposer)? = nil
    ) throws(Errno) -> FileDescriptor {
        try interposer?.willPerform(.create(path: path), descriptor: -1)
        let fd = try retryingOnInterrupt {
            cj_open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, permissions)
        }
        interposer?.didPerform(.create(path: path), descriptor: fd)
        return FileDescriptor(rawValue: fd, interposer: interposer)
    }

    /// `close(2)`. Errors are ignored: after close the descriptor is gone either way, and
    /// durability is decided by the earlier `fdatasync`, never by close.
    func close() {
        _ = systemClose(rawValue)
    }

    /// `pread(2)` until `buffer` is full or end of file; returns the bytes read.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(Errno) -> Int {
        var done = 0
        while done < buffer.count {
            let n = try retryingOnInterrupt {
                pread(rawValue, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// `pwrite(2)` of all of `buffer` at `offset`.
    func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(Errno) {
        try interposer.around(.write(offset: offset, length: buffer.count), descriptor: rawValue) {
            () throws(Errno) in try writeAll(buffer, at: offset)
        }
    }

    private func writeAll(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(Errno) {
        var done = 0
        while done < buffer.count {
            let n = try retryingOnInterrupt {
                pwrite(rawValue, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            }
            done += n
        }
    }

    /// `fdatasync(2)` (`F_FULLFSYNC` on Darwin). Never retried after a failure other than
    /// `EINTR`: the kernel may have dropped the dirty pages, so a second success proves nothing.
    func dataSync() throws(Errno) {
        try interposer.around(.dataSync, descriptor: rawValue) { () throws(Errno) in
            _ = try retryingOnInterrupt { cj_datasync(rawValue) }
        }
    }

    /// `fsync(2)`: data and all metadata, used after the file size changes.
    func sync() throws(Errno) {
        try interposer.around(.sync, descriptor: rawValue) { () throws(Errno) in
            _ = try retryingOnInterrupt { fsync(rawValue) }
        }
    }

    /// `fallocate(2)`: reserves blocks so later writes through the mapping cannot fail
    /// with `ENOSPC` (which would be a SIGBUS, not an error).
    /// A range past what `off_t` holds is `EFBIG`, as the kernel answers a range past the
    /// file system's limit (a conversion trapped here).
    func allocate(offset: UInt64, length: UInt64) throws(Errno) {
        try interposer.around(.allocate(offset: offset, length: length), descriptor: rawValue) {
            () throws(Errno) in
            guard let start = off_t(exactly: offset), let count = off_t(exactly: length),
                count <= off_t.max - start
            else { throw Errno(rawValue: EFBIG) }
            let result = cj_allocate(rawValue, start, count)
            if result != 0 { throw Errno(rawValue: result) }
        }
    }

    /// The file's size from `fstat(2)`.
    func size() throws(Errno) -> UInt64 {
        var info = stat()
        _ = try retryingOnInterrupt { fstat(rawValue, &info) }
        return UInt64(info.st_size)
    }

    /// The size of the regular file this descriptor names; `EISDIR` for a directory and
    /// `ENODEV` for anything else that is not a regular file (neither can be mapped as one).
    func regularFileSize() throws(Errno) -> UInt64 {
        var info = stat()
        _ = try retryingOnInterrupt { fstat(rawValue, &info) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return UInt64(info.st_size)
        case S_IFDIR: throw .isDirectory
        default: throw Errno(rawValue: ENODEV)
        }
    }

    /// Device and inode from `fstat(2)`, to tell whether a path still names this file.
    func identity() throws(Errno) -> FileIdentity {
        var info = stat()
        _ = try retryingOnInterrupt { fstat(rawValue, &info) }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// `flock(2)` with `LOCK_EX | LOCK_NB`; returns false when another open file holds it.
    func tryLockExclusive() throws(Errno) -> Bool {
        do {
            _ = try retryingOnInterrupt { flock(rawValue, LOCK_EX | LOCK_NB) }
            return true
        } catch {
            if error == .wouldBlock { return false }
            throw error
        }
    }
}

extension FileDescriptor {
    /// `flock(2)` with `LOCK_UN`. Needed before close: a mapping of the file keeps the open
    /// file description, and so its lock, alive after the descriptor is closed.
    func unlock() {
        _ = try? retryingOnInterrupt { flock(rawValue, LOCK_UN) }
    }
}

/// A file's identity (device and inode), stable across renames.
struct FileIdentity: Hashable, Sendable {
    let device: UInt64
    let inode: UInt64
}

/// Path-level system calls.
enum FileSystem {
    /// Bytes an unprivileged writer can still allocate on the file system holding `path`
    /// (`statvfs(2)`: available blocks times the fragment size); nil when it cannot say.
    static func availableBytes(at path: String) -> UInt64? {
        var info = statvfs()
        var result: Int32
        repeat { result = statvfs(path, &info) } while result != 0 && errno == EINTR
        guard result == 0 else { return nil }
        let (bytes, overflow) = UInt64(info.f_bavail).multipliedReportingOverflow(by: UInt64(info.f_frsize))
        return overflow ? .max : bytes
    }

    /// `link(2)`: gives `source` the additional name `destination`, failing with `EEXIST`
    /// when the destination exists. Used to publish a new file without replacing anything.
    static func link(_ source: String, _ destination: String, interposer: (any IOInterposer)? = nil) throws(Errno) {
        try interposer.around(.link(from: source, to: destination), descriptor: -1) { () throws(Errno) in
            _ = try retryingOnInterrupt { systemLink(source, destination) }
        }
    }

    /// `unlink(2)`.
    static func unlink(_ path: String, interposer: (any IOInterposer)? = nil) throws(Errno) {
        try interposer.around(.unlink(path: path), descriptor: -1) { () throws(Errno) in
            _ = try retryingOnInterrupt { systemUnlink(path) }
        }
    }

    /// `rename(2)`: atomically replaces `destination`.
    static func rename(_ source: String, _ destination: String, interposer: (any IOInterposer)? = nil) throws(Errno) {
        try interposer.around(.rename(from: source, to: destination), descriptor: -1) { () throws(Errno) in
            _ = try retryingOnInterrupt { systemRename(source, destination) }
        }
    }

    /// The directory holding `path` ("." for a bare name, "/" for a name in the root) and the
    /// name within it.
    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }

    /// `path` with every symbolic link in it resolved, made absolute: the name of the file
    /// itself. A last component that is a link to a file not there yet resolves to where it
    /// points (a journal created through the link goes there, as `open(O_CREAT)` would put
    /// it). When the directory cannot be resolved (it does not exist, or a link loops),
    /// `path` comes back unchanged, and the open that follows reports the problem.
    static func resolvingLinks(_ path: String) -> String {
        var current = path
        // The kernel's own limit on links followed in one lookup (ELOOP).
        for _ in 0..<40 {
            if let real = realpath(current, nil) {
                defer { free(real) }
                return String(cString: real)
            }
            guard errno == ENOENT else { return path }
            var info = stat()
            guard lstat(current, &info) == 0, info.st_mode & S_IFMT == S_IFLNK else {
                // The last component does not exist: resolve the directory it goes in.
                let (directory, name) = split(current)
                guard let real = realpath(directory, nil) else { return path }
                defer { free(real) }
                let resolved = String(cString: real)
                return (resolved == "/" ? "" : resolved) + "/" + name
            }
            // A link to something missing: follow it by hand, relative to its directory.
            var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let count = readlink(current, &target, target.count - 1)
            guard count > 0 else { return path }
            let text = String(decoding: target[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            current = text.hasPrefix("/") ? text : split(current).directory + "/" + text
        }
        return path
    }

    /// `stat(2)` identity of a path, or nil when it does not exist.
    static func identity(of path: String) throws(Errno) -> FileIdentity? {
        var info = stat()
        do {
            _ = try retryingOnInterrupt { stat(path, &info) }
        } catch {
            if error == .noEntry { return nil }
            throw error
        }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// Opens the directory holding `path` and `fsync(2)`s it, so a new name is durable.
    static func syncDirectory(containing path: String, interposer: (any IOInterposer)? = nil) throws(Errno) {
        try interposer.around(.syncDirectory(path: path), descriptor: -1) { () throws(Errno) in
            let fd = try FileDescriptor.open(FileSystem.split(path).directory, .readOnly)
            defer { fd.close() }
            try fd.sync()
        }
    }
}

// The names below are shadowed inside the wrappers, hence the module-qualified calls.
#if canImport(Glibc)
    private func systemClose(_ fd: Int32) -> Int32 { Glibc.close(fd) }
    private func systemLink(_ a: String, _ b: String) -> Int32 { Glibc.link(a, b) }
    private func systemUnlink(_ a: String) -> Int32 { Glibc.unlink(a) }
    private func systemRename(_ a: String, _ b: String) -> Int32 { Glibc.rename(a, b) }
#else
    private func systemClose(_ fd: Int32) -> Int32 { Darwin.close(fd) }
    private func systemLink(_ a: String, _ b: String) -> Int32 { Darwin.link(a, b) }
    private func systemUnlink(_ a: String) -> Int32 { Darwin.unlink(a) }
    private func systemRename(_ a: String, _ b: String) -> Int32 { Darwin.rename(a, b) }
#endif

extension FileDescriptor {
    /// `fallocate(2)` with `FALLOC_FL_ZERO_RANGE` (or an equivalent): the range reads as zeros,
    /// the size is unchanged, and a reader's mapping stays valid.
    func zeroRange(offset: UInt64, length: UInt64) throws(Errno) {
        try interposer.around(.zeroRange(offset: offset, length: length), descriptor: rawValue) {
            () throws(Errno) in
            let result = cj_zero_range(rawValue, off_t(offset), off_t(length))
            if result != 0 { throw Errno(rawValue: result) }
        }
    }
}
