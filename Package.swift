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

let package = Package(
    name: "CaseMesh",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "CaseMeshCRDT", targets: ["CaseMeshCRDT"]),
        .library(name: "CaseMeshDomain", targets: ["CaseMeshDomain"]),
        .library(name: "CaseMeshStore", targets: ["CaseMeshStore"]),
        .library(name: "CaseMeshReplication", targets: ["CaseMeshReplication"]),
        .executable(name: "casemesh-bench-core", targets: ["CaseMeshBench"]),
        .executable(name: "casemesh-crash-writer", targets: ["CaseMeshCrashWriter"]),
        .executable(name: "casemesh-bench-store", targets: ["CaseMeshStoreBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .target(name: "CaseMeshCRDT", swiftSettings: optimizedAlways),
        .target(name: "CaseMeshDomain", dependencies: ["CaseMeshCRDT"], swiftSettings: optimizedAlways),
        .target(name: "CaseMeshReplication", dependencies: ["CaseMeshCRDT", "CaseMeshDomain"], swiftSettings: optimizedAlways),
        .target(
            name: "CaseMeshStore",
            dependencies: ["CaseMeshCRDT", "CaseMeshDomain", "CaseMeshReplication", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log")],
            swiftSettings: optimized
        ),
        .executableTarget(
            name: "CaseMeshCrashWriter",
            dependencies: ["CaseMeshStore", "CaseMeshDomain", "CaseMeshCRDT", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "CaseMeshStoreBench",
            dependencies: ["CaseMeshStore", "CaseMeshDomain", "CaseMeshCRDT", .product(name: "Logging", package: "swift-log")],
            swiftSettings: optimized
        ),
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
        .testTarget(name: "CaseMeshStoreTests", dependencies: ["CaseMeshStore", "CaseMeshReplication", "CaseMeshDomain", "CaseMeshCRDT", .product(name: "Logging", package: "swift-log")]),
    ],
    swiftLanguageModes: [.v6]
)
