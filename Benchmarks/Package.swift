// swift-tools-version: 6.1
//
// MovieRec's benchmarks, kept in their own package so that the main build never pulls benchmark
// dependencies. Run from the repository root:
//
//     swift package --package-path Benchmarks benchmark
//     swift package --package-path Benchmarks benchmark --filter "gemm.*"

import PackageDescription

let package = Package(
    name: "MovieRecBenchmarks",
    dependencies: [
        .package(name: "MovieRec", path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "KernelBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "LinearAlgebra", package: "MovieRec"),
                .product(name: "BenchmarkSupport", package: "MovieRec"),
            ],
            path: "Benchmarks/Kernels",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
