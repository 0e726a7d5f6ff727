// swift-tools-version:6.0
// Benchmarks for StreamJournal, kept out of the root package so that the library itself stays
// free of dependencies: this package links the system SQLite to measure against it.
import PackageDescription

let package = Package(
    name: "Benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "StreamJournal", path: "..")
    ],
    targets: [
        // The system libsqlite3 (Debian: apt-get install -y libsqlite3-dev).
        .systemLibrary(
            name: "CSQLite",
            path: "Sources/CSQLite",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]
        ),
        // `swift run -c release journal-bench [--quick] [--only NAME]`
        .executableTarget(
            name: "journal-bench",
            dependencies: [
                .product(name: "Journal", package: "StreamJournal"),
                "CSQLite",
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
