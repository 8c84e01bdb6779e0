// swift-tools-version: 6.1
import PackageDescription

// The pure targets (CaseMeshCRDT, CaseMeshDomain) depend on nothing but the
// standard library and Foundation, so their tests build in seconds.
/// Release builds optimise across our own modules: the CRDT types are generic,
/// and without this every caller outside CaseMeshCRDT runs unspecialised code.
let optimized: [SwiftSetting] = [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]

let package = Package(
    name: "CaseMesh",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "CaseMeshCRDT", targets: ["CaseMeshCRDT"]),
        .library(name: "CaseMeshDomain", targets: ["CaseMeshDomain"]),
        .library(name: "CaseMeshStore", targets: ["CaseMeshStore"]),
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
        .target(name: "CaseMeshCRDT", swiftSettings: optimized),
        .target(name: "CaseMeshDomain", dependencies: ["CaseMeshCRDT"], swiftSettings: optimized),
        .target(
            name: "CaseMeshStore",
            dependencies: ["CaseMeshCRDT", "CaseMeshDomain", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log")],
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
        .testTarget(name: "CaseMeshStoreTests", dependencies: ["CaseMeshStore", "CaseMeshDomain", "CaseMeshCRDT", .product(name: "Logging", package: "swift-log")]),
    ],
    swiftLanguageModes: [.v6]
)
