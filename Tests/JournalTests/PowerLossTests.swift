import TestSupport
import Testing

@testable import Journal

#if canImport(Glibc)
    import Glibc
#endif

/// Power-loss simulation: the workload runs once with `PowerCutRecorder` on the I/O seam;
/// then, for cut points before file operations, every file a power cut there could leave
/// (unsynced pages dropped, written back in any order, the last page torn, the size change
/// lost) is recovered and held to the ledger as it stood at the cut. Acknowledged data
/// (every-ack durability) must survive; everything else must be intact or cleanly cut.
@Suite("Power-loss simulation")
struct PowerLossTests {
    /// A directory on tmpfs when there is one: recovery syncs cost nothing there, and the
    /// images are synthetic anyway.
    static func scratch() -> TestDirectory {
        TestDirectory(base: access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp")
    }

    static func record(rounds: Int, snapshotInterval: Int) -> (PowerCutRecorder, TestDirectory) {
        let directory = TestDirectory()
        let path = directory.file("j")
        let ledger = Ledger()
        let recorder = PowerCutRecorder(path: path, ledger: ledger)
        var options = JournalOptions(
            durability: .everyAcknowledgement, openStreams: .keepOpen(staleAfter: .seconds(3600)))
        options.autoCompaction = nil
        options.snapshotInterval = snapshotInterval
        options.interposition = Interposition(interposer: recorder)
        // The same file operations, and so the same cut points, on every run.
        options.checkpointAtEverySync()
        let workload = LedgerWorkload(path: path, options: options, ledger: ledger, compacts: false, rounds: rounds)
        let outcome = workload.run()
        precondition(outcome == nil, "the recorded workload failed: \(String(describing: outcome?.error))")
        return (recorder, directory)
    }

    /// The files a cut could leave: a fixed set of orders plus `randomSubsets` random
    /// write-back subsets (all subsets when there are at most `exhaustiveUpTo` dirty pages).
    static func images(
        of cut: PowerCutRecorder.CutPoint, exhaustiveUpTo: Int, randomSubsets: Int,
        rng: inout some RandomNumberGenerator
    ) -> [(String, [UInt8]?)] {
        let dirty = cut.dirtyPages
        var images: [(String, [UInt8]?)] = [
            ("nothing unsynced", cut.image(pages: [], extend: false)),
            ("new size only", cut.image(pages: [], extend: true)),
            ("everything", cut.image(pages: dirty, extend: true)),
        ]
        if dirty.count <= exhaustiveUpTo {
            for mask in 1..<max(1, (1 << dirty.count) - 1) {
                let pages = dirty.indices.filter { mask & (1 << $0) != 0 }.map { dirty[$0] }
                images.append(("pages \(pages)", cut.image(pages: pages, extend: true)))
            }
        } else {
            for _ in 0..<randomSubsets {
                let pages = dirty.filter { _ in Bool.random(using: &rng) }
                images.append(("pages \(pages)", cut.image(pages: pages, extend: true)))
            }
        }
        for page in Set([dirty.first, dirty.last].compactMap { $0 }) {
            for sectors in [1, 4, 7] {
                images.append(
                    (
                        "in order, page \(page) torn after \(sectors) sectors",
                        cut.image(pages: dirty.filter { $0 < page }, extend: true, tear: (page, sectors))
                    ))
            }
        }
        return images
    }

    /// Recovers each image and returns the violations found, plus the number of images tried.
    static func check(_ cuts: [PowerCutRecorder.CutPoint], exhaustiveUpTo: Int, randomSubsets: Int) -> ([String], Int) {
        var rng = SystemRandomNumberGenerator()
        let directory = scratch()
        let path = directory.file("image")
        var violations: [String] = []
        var tried = 0
        for cut in cuts {
            let what = cut.operation.map { "before operation \(cut.number) (\($0))" } ?? "after the last operation"
            for (name, image) in images(
                of: cut, exhaustiveUpTo: exhaustiveUpTo, randomSubsets: randomSubsets, rng: &rng)
            {
                unlink(path)
                if let image { write(image, to: path) }
                tried += 1
                violations += ledgerViolations(path: path, ledger: cut.ledger, context: "cut \(what), \(name)")
                if violations.count > 20 { return (violations, tried) }
            }
        }
        return (violations, tried)
    }

    static func write(_ bytes: [UInt8], to path: String) {
        let fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0o644)
        precondition(fd >= 0, "cannot create \(path)")
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        precondition(written == bytes.count, "short write to \(path)")
    }

    @Test("every cut point of a small workload, every write-back order up to 8 dirty pages")
    func everyCutPoint() async throws {
        let (violations, tried, cuts) = try await onOwnThread { () -> ([String], Int, Int) in
            let (recorder, _) = Self.record(rounds: 12, snapshotInterval: 1 << 30)
            let cuts = recorder.cutPoints
            let (violations, tried) = Self.check(cuts, exhaustiveUpTo: 8, randomSubsets: 16)
            return (violations, tried, cuts.count)
        }
        print("power-loss simulation (exhaustive): \(cuts) cut points, \(tried) images recovered")
        #expect(cuts > 50)
        for violation in violations { Issue.record(Comment(rawValue: violation)) }
    }

    @Test("random cut points of a larger workload with snapshots on the maintenance thread")
    func randomCutPoints() async throws {
        let (violations, tried, cuts) = try await onOwnThread { () -> ([String], Int, Int) in
            let (recorder, _) = Self.record(rounds: 150, snapshotInterval: 16 << 10)
            let all = recorder.cutPoints
            let sample = Array(all.shuffled().prefix(120))
            let (violations, tried) = Self.check(sample, exhaustiveUpTo: 3, randomSubsets: 6)
            return (violations, tried, all.count)
        }
        print("power-loss simulation (random): \(min(120, cuts)) of \(cuts) cut points, \(tried) images recovered")
        #expect(cuts > 300)
        for violation in violations { Issue.record(Comment(rawValue: violation)) }
    }
}
