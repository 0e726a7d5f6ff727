import CJournal

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A shared memory mapping of a journal file, unmapped when the last reference to it or to
/// any of its aliases goes.
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
    /// For an alias, the region that owns the mapping (and unmaps it); nil for that region.
    /// Two live regions share a `base` exactly when they are handles on one mapping.
    private let owner: MappedRegion?

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
        self.owner = nil
    }

    /// Another handle on `region`'s mapping, which it keeps alive.
    ///
    /// Why: every `Chunk` holds its region. Were it the engine's, a thousand followers of one
    /// stream would retain and release that one object for every delivery, from every core,
    /// and its reference count's cache line would move between cores on each chunk: fan-out
    /// to 1,000 followers measured a median 3.0 M deliveries/s that way and 5.7 M with
    /// aliases (`journal-bench --only follow`, five alternated runs each, two cores). A
    /// follower reads through its own alias, whose count only its own task touches.
    init(aliasing region: MappedRegion) {
        self.base = region.base
        self.length = region.length
        self.owner = region.owner ?? region
    }

    deinit {
        if owner == nil { munmap(base, length) }
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
