// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "StreamJournal",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Journal", targets: ["Journal"]),
        .executable(name: "journal-demo", targets: ["journal-demo"]),
        .executable(name: "journalctl-stream", targets: ["journalctl-stream"]),
        .executable(name: "journal-server", targets: ["JournalServer"]),
    ],
    targets: [
        // The library's only C (the server has CJournalServer, the tests CTestSupport): CRC-32C
        // with the SSE4.2 instruction, and the few Linux calls Glibc does not export to Swift
        // (fallocate, fdatasync portability shims).
        .target(name: "CJournal"),
        .target(
            name: "Journal",
            dependencies: ["CJournal"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The README's library demo: write, read back, leave a stream in flight, recover.
        .executableTarget(
            name: "journal-demo",
            dependencies: ["Journal"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // A child process for the crash and multi-process tests: it is killed with SIGKILL,
        // which a test cannot do to itself.
        .executableTarget(
            name: "JournalTestChild",
            dependencies: ["Journal"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The kill loop (issue 8): `loop` kills a writer child (this binary in `child` mode)
        // with SIGKILL at random moments and checks the journal against its ledger each time.
        .executableTarget(
            name: "journal-torture",
            dependencies: ["Journal"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // What the three test targets share: per-test temporary directories removed at exit.
        // glibc's closefrom spawn action, which the Glibc module does not export.
        .target(name: "CTestSupport", path: "Tests/CTestSupport"),
        .target(
            name: "TestSupport",
            dependencies: ["CTestSupport"],
            path: "Tests/TestSupport",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "JournalTests",
            dependencies: ["Journal", "CJournal", "TestSupport"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The CLI (issue 6): a thin shell over the library's public API.
        .executableTarget(
            name: "journalctl-stream",
            dependencies: ["Journal"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Runs the built journalctl-stream binary as a user would.
        .testTarget(
            name: "CLITests",
            dependencies: ["Journal", "TestSupport"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // journal-server (issue 5): epoll, eventfd, accept4 and signalfd, which Glibc lacks.
        .target(name: "CJournalServer"),
        // The HTTP/1.1 + SSE server; its protocol types are unit-tested by ServerTests.
        .executableTarget(
            name: "JournalServer",
            dependencies: ["Journal", "CJournalServer"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Parser and state-machine unit tests, and end-to-end tests against the built binary.
        .testTarget(
            name: "ServerTests",
            dependencies: ["JournalServer", "Journal", "TestSupport"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
