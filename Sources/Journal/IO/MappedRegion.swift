import CJournal

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A shared memory mapping of a journal file, unmapped when the last reference goes.
///
/// The mapping may be longer than the file: the engine reserves address space ahead of the
/// file so that appends rarely need a new mapping. Only bytes below the file's size may be
/// touched (beyond it is SIGBUS); the engine guarantees that by never reading past the
/// committed end and never shrinking a file. Readers keep a reference to the region they
/// started with, so replacing the engine's region never unmaps memory under a reader.
final class MappedRegion: @unchecked Sendable {
    /// The first mapped byte. Immutable after init; the bytes behind it are synchronised by
    /// the engine's publication of its committed end.
    let base: UnsafeMutableRawPointer
    /// The mapped length in bytes.
    let length: Int

    /// `mmap(2)` of `length` bytes of `fd` from offset 0, `MAP_SHARED`.
    init(fd: FileDescriptor, length: Int, writable: Bool) throws(Errno) {
        let protection = writable ? (PROT_READ | PROT_WRITE) : PROT_READ
        self.base = try fd.interposer.around(.map(length: length), descriptor: fd.rawValue) {
            () throws(Errno) in
            let pointer = mmap(nil, length, protection, MAP_SHARED, fd.rawValue, 0)
            if pointer == MAP_FAILED || pointer == nil { throw Errno.current }
            return pointer!
        }
        self.length = length
    }

    deinit {
        munmap(base, length)
    }

    /// Faults in the pages of `[offset, offset + count)` for writing, so the writer's stores
    /// there do not fault one page at a time. Best effort: errors (an old kernel) are ignored.
    func populateForWriting(offset: UInt64, count: Int) {
        let page = 4096
        let start = Int(offset) / page * page
        let length = (Int(offset) + count - start + page - 1) / page * page
        if length > 0 && start + length <= self.length { _ = cj_populate_write(base + start, length) }
    }

    /// Read-only view of `count` bytes at `offset`; the caller checks bounds.
    @inline(__always)
    func bytes(at offset: UInt64, count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + Int(offset), count: count)
    }
}
