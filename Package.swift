// swift-tools-version: 6.1
import PackageDescription

// The pure targets (CaseMeshCRDT, CaseMeshDomain, CaseMeshReplication) depend on nothing but the
// standard library and Foundation, so their tests build in seconds.
/// Release builds optimise across our own modules: the CRDT types are generic,
/// and without this every caller outside CaseMeshCRDT runs unspecialised code.
let optimized: [SwiftSetting] = [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]
/// The pure modules are optimised in debug builds too: the test suite runs
/// thousands of seeded cluster simulations and property checks through them,
/// which unoptimised generic code (hashing, sorting, SHA-256) makes ten times slower.
let optimizedAlways: [SwiftSetting] = optimized + [.unsafeFlags(["-O"], .when(configuration: .debug))]
/// The programs that run a node's store allocate through jemalloc (Debian's
/// libjemalloc-dev), as Redis does. Every write decodes, changes and frees
/// a whole case across several threads; glibc's malloc spent about 13% of
/// the store's CPU on that (consolidating and unlinking free chunks), and
/// jemalloc cut the CPU per durable update by about a tenth and the
/// resident memory by about 60 MiB at a million cases (BENCHMARKS.md).
let storeAllocator: [LinkerSetting] = [.linkedLibrary("jemalloc", .when(platforms: [.linux]))]

let package = Package(
    name: "CaseMesh",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "CaseMeshCRDT", targets: ["CaseMeshCRDT"]),
        .library(name: "CaseMeshDomain", targets: ["CaseMeshDomain"]),
        .library(name: "CaseMeshStore", targets: ["CaseMeshStore"]),
        .library(name: "CaseMeshReplication", targets: ["CaseMeshReplication"]),
        .library(name: "CaseMeshTransport", targets: ["CaseMeshTransport"]),
        .library(name: "CaseMeshNode", targets: ["CaseMeshNode"]),
        .executable(name: "casemesh", targets: ["casemesh"]),
        .executable(name: "casemesh-bench-core", targets: ["CaseMeshBench"]),
        .executable(name: "casemesh-fuzz-wire", targets: ["CaseMeshWireFuzz"]),
        .executable(name: "casemesh-bench-replication", targets: ["CaseMeshReplicationBench"]),
        .executable(name: "casemesh-crash-writer", targets: ["CaseMeshCrashWriter"]),
        .executable(name: "casemesh-bench-store", targets: ["CaseMeshStoreBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // SHA-256 blocks with the CPU's SHA instructions (C, no dependencies).
        .target(name: "CaseMeshSHA", cSettings: [.unsafeFlags(["-O2"])]),
        .target(name: "CaseMeshCRDT", dependencies: ["CaseMeshSHA"], swiftSettings: optimizedAlways),
        .target(name: "CaseMeshDomain", dependencies: ["CaseMeshCRDT"], swiftSettings: optimizedAlways),
        .target(name: "CaseMeshReplication", dependencies: ["CaseMeshCRDT", "CaseMeshDomain"], exclude: ["WIRE.md"], swiftSettings: optimizedAlways),
        .target(
            name: "CaseMeshTransport",
            dependencies: [
                "CaseMeshReplication", "CaseMeshCRDT",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Gathers each commit's writes to SQLite's write-ahead log into one system call (C).
        .target(
            name: "CaseMeshWALBuffer",
            dependencies: [.product(name: "GRDBSQLite", package: "GRDB.swift")],
            cSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [.linkedLibrary("sqlite3")]
        ),
        .target(
            name: "CaseMeshStore",
            dependencies: ["CaseMeshCRDT", "CaseMeshDomain", "CaseMeshReplication", "CaseMeshWALBuffer", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "GRDBSQLite", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log")],
            swiftSettings: optimized
        ),
        .target(
            name: "CaseMeshNode",
            dependencies: [
                "CaseMeshStore", "CaseMeshTransport", "CaseMeshReplication", "CaseMeshDomain", "CaseMeshCRDT",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("openapi.yaml")]
        ),
        .target(
            name: "CaseMeshCLI",
            dependencies: ["CaseMeshNode", "CaseMeshTransport", "CaseMeshDomain", "CaseMeshCRDT"]
        ),
        .executableTarget(
            name: "casemesh",
            dependencies: ["CaseMeshCLI", "CaseMeshNode", "CaseMeshTransport", "CaseMeshCRDT", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            linkerSettings: storeAllocator
        ),
        .executableTarget(
            name: "CaseMeshCrashWriter",
            dependencies: ["CaseMeshStore", "CaseMeshDomain", "CaseMeshCRDT", .product(name: "Logging", package: "swift-log")],
            linkerSettings: storeAllocator
        ),
        .executableTarget(
            name: "CaseMeshStoreBench",
            dependencies: ["CaseMeshStore", "CaseMeshDomain", "CaseMeshCRDT", .product(name: "Logging", package: "swift-log")],
            swiftSettings: optimized,
            linkerSettings: storeAllocator
        ),
        .executableTarget(
            name: "CaseMeshReplicationBench",
            dependencies: ["CaseMeshTransport", "CaseMeshStore", "CaseMeshReplication", "CaseMeshDomain", "CaseMeshCRDT",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: optimized,
            linkerSettings: storeAllocator
        ),
        .executableTarget(name: "CaseMeshWireFuzz", dependencies: ["CaseMeshReplication", "CaseMeshDomain", "CaseMeshCRDT"]),
        .executableTarget(name: "CaseMeshBench", dependencies: ["CaseMeshCRDT", "CaseMeshDomain"], swiftSettings: optimized),
        .testTarget(
            name: "CaseMeshCRDTTests",
            dependencies: ["CaseMeshCRDT", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(
            name: "CaseMeshDomainTests",
            dependencies: ["CaseMeshDomain", "CaseMeshCRDT", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(
            name: "CaseMeshReplicationTests",
            dependencies: ["CaseMeshReplication", "CaseMeshDomain", "CaseMeshCRDT"],
            swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]
        ),
        .testTarget(
            name: "CaseMeshTransportTests",
            dependencies: ["CaseMeshTransport", "CaseMeshReplication", "CaseMeshStore", "CaseMeshDomain", "CaseMeshCRDT", .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
                           .product(name: "X509", package: "swift-certificates"), .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "CaseMeshTestSupport",
            dependencies: ["CaseMeshNode", "CaseMeshStore", "CaseMeshReplication", "CaseMeshDomain", "CaseMeshCRDT",
                           .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log")],
            path: "Tests/Support"
        ),
        .testTarget(
            name: "CaseMeshNodeTests",
            dependencies: ["CaseMeshTestSupport", "CaseMeshNode", "CaseMeshStore", "CaseMeshReplication", "CaseMeshDomain", "CaseMeshCRDT",
                           .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "CaseMeshCLITests",
            dependencies: ["CaseMeshTestSupport", "CaseMeshCLI", "CaseMeshNode", "CaseMeshStore", "CaseMeshDomain", "CaseMeshCRDT",
                           .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "CaseMeshStoreTests", dependencies: ["CaseMeshStore", "CaseMeshReplication", "CaseMeshDomain", "CaseMeshCRDT", .product(name: "Logging", package: "swift-log")]),
    ],
    swiftLanguageModes: [.v6]
)
