// swift-tools-version: 6.1
import PackageDescription

// The pure targets (CaseMeshCRDT, CaseMeshDomain) depend on nothing but the
// standard library and Foundation, so their tests build in seconds.
let package = Package(
    name: "CaseMesh",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "CaseMeshCRDT", targets: ["CaseMeshCRDT"]),
        .library(name: "CaseMeshDomain", targets: ["CaseMeshDomain"]),
        .executable(name: "casemesh-bench-core", targets: ["CaseMeshBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
    ],
    targets: [
        .target(name: "CaseMeshCRDT"),
        .target(name: "CaseMeshDomain", dependencies: ["CaseMeshCRDT"]),
        .executableTarget(name: "CaseMeshBench", dependencies: ["CaseMeshCRDT", "CaseMeshDomain"]),
        .testTarget(
            name: "CaseMeshCRDTTests",
            dependencies: ["CaseMeshCRDT", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(
            name: "CaseMeshDomainTests",
            dependencies: ["CaseMeshDomain", "CaseMeshCRDT", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
