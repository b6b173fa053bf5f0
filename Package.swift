// swift-tools-version: 6.1
//
// MovieRec: a MovieLens recommender whose numerical core runs on OpenBLAS/LAPACKE,
// with a pure-Swift implementation of every kernel selectable at run time.

import PackageDescription

// MARK: - Traits

/// `OpenBLAS` (on by default) links the system OpenBLAS and LAPACKE through `CLinearAlgebra`.
/// `swift build --disable-default-traits` builds the whole package with the pure-Swift kernels only.
let traits: Set<Trait> = [
    .trait(name: "OpenBLAS", description: "Use OpenBLAS (CBLAS) and LAPACKE for the dense kernels."),
    .default(enabledTraits: ["OpenBLAS"]),
]

let package = Package(
    name: "MovieRec",
    products: [
        // MARK: - Public API
        .library(name: "LinearAlgebra", targets: ["LinearAlgebra"]),
        .library(name: "MovieLens", targets: ["MovieLens"]),
        .library(name: "Recommender", targets: ["Recommender"]),
        .library(name: "BenchmarkSupport", targets: ["BenchmarkSupport"]),
        .executable(name: "movierec", targets: ["movierec"]),
    ],
    traits: traits,
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // MARK: - Implementation details
        .systemLibrary(
            name: "CLinearAlgebra",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),

        .systemLibrary(
            name: "CIsal",
            pkgConfig: "libisal",
            providers: [.apt(["libisal-dev"])]
        ),

        // MARK: - Public modules
        .target(
            name: "LinearAlgebra",
            dependencies: [
                .target(name: "CLinearAlgebra", condition: .when(traits: ["OpenBLAS"])),
            ]
        ),
        .target(name: "MovieLens", dependencies: ["LinearAlgebra", "CIsal"]),
        .target(name: "Recommender", dependencies: ["LinearAlgebra", "MovieLens"]),
        // Kernel and pipeline benchmarks, shared by `movierec bench` and the Benchmarks/ package.
        .target(name: "BenchmarkSupport", dependencies: ["LinearAlgebra", "MovieLens", "Recommender"]),
        .executableTarget(
            name: "movierec",
            dependencies: [
                "LinearAlgebra",
                "MovieLens",
                "Recommender",
                "BenchmarkSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: - Examples
        .executableTarget(name: "QuickStartExample", dependencies: ["LinearAlgebra", "MovieLens", "Recommender"], path: "Examples/QuickStart"),

        // MARK: - Unit test bundles
        .testTarget(name: "LinearAlgebraTests", dependencies: ["LinearAlgebra"]),
        .testTarget(name: "MovieLensTests", dependencies: ["MovieLens", "LinearAlgebra"], exclude: ["Fixtures"]),
        .testTarget(name: "RecommenderTests", dependencies: ["Recommender", "MovieLens", "LinearAlgebra"], exclude: ["Fixtures"]),
        .testTarget(name: "MovieRecCLITests", dependencies: ["movierec"]),
    ]
)
