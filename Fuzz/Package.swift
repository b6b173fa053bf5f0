// swift-tools-version: 6.1
//
// Coverage-guided fuzz targets (libFuzzer) for MovieRec's readers, in their own package so that the
// main build never needs the fuzzer runtime. From the repository root, `make fuzz` builds every
// target with `-sanitize=fuzzer` (instrumenting MovieRec's modules too) and runs each; by hand:
//
//     swift build --package-path Fuzz -c release -Xswiftc -sanitize=fuzzer --product FuzzRatings
//     Fuzz/.build/release/FuzzRatings -runs=1000000 Fuzz/Corpus/ratings

import PackageDescription

/// Each target's `<Module>_main` (what SwiftPM links as `main`) hands its `LLVMFuzzerTestOneInput`
/// to libFuzzer's driver.
let entryPoint: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "MovieRecFuzz",
    dependencies: [
        .package(name: "MovieRec", path: "../"),
    ],
    targets: [
        .target(name: "CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"]),
        .executableTarget(name: "FuzzRatings", dependencies: ["FuzzSupport", .product(name: "MovieLens", package: "MovieRec")],
                          swiftSettings: entryPoint),
        .executableTarget(name: "FuzzMovies", dependencies: ["FuzzSupport", .product(name: "MovieLens", package: "MovieRec")],
                          swiftSettings: entryPoint),
        .executableTarget(name: "FuzzModel", dependencies: ["FuzzSupport", .product(name: "Recommender", package: "MovieRec"),
                                                            .product(name: "LinearAlgebra", package: "MovieRec")],
                          swiftSettings: entryPoint),
        .executableTarget(name: "FuzzPrepared", dependencies: ["FuzzSupport", .product(name: "Recommender", package: "MovieRec")],
                          swiftSettings: entryPoint),
    ]
)
