@testable import Journal

#if canImport(Glibc)
    import Glibc
#endif

/// An I/O seam double that records, before every file operation, what a power cut at that
/// moment could leave on disk, so a test can rebuild each of those files and recover it.
///
/// The model (Linux page cache on a journaling file system, FORMAT.md §8):
/// - what was in the file when an `fdatasync`/`fsync` started is durable once it returns
///   (including the size: `fallocate` then `fdatasync` persists the new size);
/// - any page written since (through the mapping or `pwrite`) may or may not have reached
///   the disk, independently of the others and in any order (page-granular reordering);
/// - a page being written when the power goes may be torn at sector (512-byte) granularity;
/// - a size change not yet synced may or may not be durable.
/// Only the journal's own path is modelled (the workload runs without compaction, whose
/// second file and rename are covered by the failpoint crash tests).
final class PowerCutRecorder: IOInterposer {
    static let pageSize = 4096
    static let sectorSize = 512

    /// What the disk could hold if the power went at one moment.
    struct CutPoint: Sendable {
        /// Operation number (from 0) the cut comes before; `nil` for after the last one.
        let number: Int
        let operation: IOOperation?
        /// Nil when the path did not exist yet (or its name was not yet durable).
        let durable: [UInt8]?
        /// The file as the process sees it at the cut (nil: does not exist).
        let current: [UInt8]?
        /// What the workload had been acknowledged at that moment.
        let ledger: Ledger.State
    }

    private struct State {
        var count = 0
        var durable: [UInt8]?
        var nameDurable = false
        var syncing: [Int32: [UInt8]] = [:]
        var cuts: [CutPoint] = []
    }

    let path: String
    let ledger: Ledger
    private let state = Locked(State())

    init(path: String, ledger: Ledger) {
        self.path = path
        self.ledger = ledger
    }

    /// Every cut point recorded so far, plus one for "after the last operation".
    var cutPoints: [CutPoint] {
        state.withLock { state in
            state.cuts + [
                CutPoint(
                    number: state.count, operation: nil, durable: state.nameDurable ? state.durable : nil,
                    current: Self.read(path), ledger: ledger.snapshot)
            ]
        }
    }

    func willPerform(_ operation: IOOperation, descriptor: Int32) throws(Errno) {
        let content = Self.read(path)
        let acknowledged = ledger.snapshot
        state.withLock { state in
            state.cuts.append(
                CutPoint(
                    number: state.count, operation: operation, durable: state.nameDurable ? state.durable : nil,
                    current: content, ledger: acknowledged))
            state.count += 1
            switch operation {
            case .dataSync, .sync:
                // What the sync is sure to write: the file as it is when the sync starts.
                if descriptor >= 0, let content, Self.names(descriptor: descriptor, path: path) {
                    state.syncing[descriptor] = content
                }
            default: break
            }
        }
    }

    func didPerform(_ operation: IOOperation, descriptor: Int32) {
        state.withLock { state in
            switch operation {
            case .dataSync, .sync:
                if let content = state.syncing.removeValue(forKey: descriptor) { state.durable = content }
            case .syncDirectory:
                // The journal's name is durable once its directory is synced after the link;
                // before that a cut may leave no file at all.
                // The file was fsynced under its temporary name before the link, so its
                // content is durable too.
                if !state.nameDurable, let content = Self.read(path) {
                    state.nameDurable = true
                    if state.durable == nil { state.durable = content }
                }
            default: break
            }
        }
    }

    /// The whole file at `path`, or nil when there is none; read with plain system calls so
    /// the recorder never sees its own reads.
    static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(done)) }
            if n <= 0 { break }
            done += n
        }
        return Array(bytes[0..<done])
    }

    /// Whether `descriptor` refers to the file `path` names now.
    static func names(descriptor: Int32, path: String) -> Bool {
        var a = stat()
        var b = stat()
        return fstat(descriptor, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino
    }
}

extension PowerCutRecorder.CutPoint {
    /// Pages (by number) whose content differs between the durable image and the current
    /// file, counting pages past the durable size that are not all zeros.
    var dirtyPages: [Int] {
        guard let current else { return [] }
        let durable = self.durable ?? []
        let size = PowerCutRecorder.pageSize
        let zeros = [UInt8](repeating: 0, count: size)
        return current.withUnsafeBytes { new in
            durable.withUnsafeBytes { old in
                zeros.withUnsafeBytes { zero in
                    (0..<(new.count + size - 1) / size).filter { page in
                        let start = page * size
                        let count = min(size, new.count - start)
                        let reference = start + count <= old.count ? old.baseAddress! + start : zero.baseAddress!
                        return memcmp(new.baseAddress! + start, reference, count) != 0
                    }
                }
            }
        }
    }

    /// One file a power cut could leave: the durable image, extended to the current size
    /// or not, with the chosen dirty pages written back; `tear` writes only the first
    /// `sectors` sectors of one page.
    func image(pages: [Int], extend: Bool, tear: (page: Int, sectors: Int)? = nil) -> [UInt8]? {
        guard let current else { return durable }
        if durable == nil && pages.isEmpty && tear == nil { return nil }
        var image = durable ?? []
        let needed = (extend || durable == nil) ? current.count : image.count
        let size = PowerCutRecorder.pageSize
        var ranges = pages.map { $0 * size..<($0 + 1) * size }
        if let tear { ranges.append(tear.page * size..<tear.page * size + tear.sectors * PowerCutRecorder.sectorSize) }
        let length = ranges.reduce(needed) { max($0, min($1.upperBound, current.count)) }
        if image.count < length { image += [UInt8](repeating: 0, count: length - image.count) }
        image.withUnsafeMutableBytes { target in
            current.withUnsafeBytes { source in
                for range in ranges {
                    let range = range.clamped(to: 0..<current.count)
                    if range.isEmpty { continue }
                    memcpy(target.baseAddress! + range.lowerBound, source.baseAddress! + range.lowerBound, range.count)
                }
            }
        }
        return image
    }
}
