// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "StreamJournal",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Journal", targets: ["Journal"]),
        .executable(name: "journal-demo", targets: ["journal-demo"]),
    ],
    targets: [
        // The only C in the package: CRC-32C with the SSE4.2 instruction, and the few Linux
        // calls Glibc does not export to Swift (fallocate, fdatasync portability shims).
        .target(name: "CJournal"),
        .target(
            name: "Journal",
            dependencies: ["CJournal"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The README's main command: write, read back, leave a stream in flight, recover.
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
        .testTarget(
            name: "JournalTests",
            dependencies: ["Journal", "CJournal"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
