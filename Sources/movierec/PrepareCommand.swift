import ArgumentParser
import Foundation
import LinearAlgebra
import MovieLens
import Recommender

struct Prepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prepare a MovieLens folder for the models: embeddings, balancing, filtering, normalisation.",
        discussion: """
        Steps (each timed): load; genre TF-IDF (smooth idf, L2 rows) + truncated SVD; genre balancing \
        (keep a seeded --drama-keep share of Drama movies, all Comedy, and --other-ratio × Comedy of Other); \
        activity filter (movies with more than --min-movie-ratings ratings, users with more than \
        --min-user-ratings, counted on all ratings); min-max normalisation; tag-genome pivot + SVD joined \
        to the movies (zeros and has_genome=0 without genome data); writing.

        Writes, each atomically, into --out: final_movies_with_embeddings.csv, \
        final_filtered_ratings.csv, prepared.bin (what the models load) and prepare.json (counts after \
        every step, explained variance, seed, backend, timings).

        Examples:
          movierec prepare --data data/ml-latest-small --out /tmp/prepared
          movierec prepare --data /tmp/ml-20m-synth --out /tmp/p20m --backend swift --json
          movierec prepare --data data/ml-latest-small --out /tmp/p --no-balance --k-core
        """)

    @OptionGroup var dataOptions: DataOptions

    @Option(help: "Output folder.")
    var out: String

    @Option(help: "Genre embedding dimensions.")
    var genreDims = 10

    @Option(help: "Tag-genome embedding dimensions.")
    var tagDims = 10

    @Option(help: "Share of Drama movies kept by balancing.")
    var dramaKeep = 0.47

    @Option(help: "Other movies kept, as a multiple of the Comedy class size.")
    var otherRatio = 1.0

    @Flag(help: "Keep every movie (no genre balancing).")
    var noBalance = false

    @Option(help: "Keep movies with more than this many ratings.")
    var minMovieRatings = 50

    @Option(help: "Keep users with more than this many ratings.")
    var minUserRatings = 10

    @Flag(help: "Repeat the two filters until nothing changes.")
    var kCore = false

    @Option(help: "Random seed (balancing samples, randomized SVD).")
    var seed: UInt64 = 0

    @OptionGroup var kernelOptions: KernelOptions

    @Flag(help: "Print prepare.json to standard output instead of the step table.")
    var json = false

    @Flag(help: "No progress lines.")
    var quiet = false

    func validate() throws {
        guard (0...1).contains(dramaKeep) else { throw ValidationError("--drama-keep must be between 0 and 1") }
        guard otherRatio >= 0, otherRatio.isFinite else { throw ValidationError("--other-ratio must be finite and not negative") }
        guard genreDims > 0, tagDims > 0 else { throw ValidationError("--genre-dims and --tag-dims must be positive") }
        guard minMovieRatings >= 0, minUserRatings >= 0 else { throw ValidationError("rating thresholds must not be negative") }
        try refuseOverwriting(inputs: [dataOptions.data], outputs: PreparedData.fileNames.map { (out as NSString).appendingPathComponent($0) })
    }

    func run() throws {
        let kernels = try kernelOptions.kernels()
        var options = Preparation.Options()
        options.genreDimensions = genreDims
        options.tagDimensions = tagDims
        options.balancing = noBalance ? nil : GenreBalancing(dramaKeepFraction: dramaKeep, otherToComedyRatio: otherRatio, seed: seed)
        options.filter = RatingFilter(minMovieRatings: minMovieRatings, minUserRatings: minUserRatings, kCore: kCore)
        options.seed = seed
        options.threads = kernelOptions.threads
        let show = !quiet && !json
        func line(_ name: String, _ seconds: Double, _ detail: String) {
            if show { printError("  \(name.padding(toLength: 24, withPad: " ", startingAt: 0)) \(String(format: "%7.3f s", seconds))  \(detail)") }
        }
        let start = DispatchTime.now().uptimeNanoseconds
        var loadOptions = dataOptions.loadOptions(threads: kernelOptions.threads)
        loadOptions.loadTags = false     // free-text tags and links play no part in preparation
        loadOptions.loadLinks = false
        let dataset = try MovieLensDataset.load(from: dataOptions.url, options: loadOptions)
        let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        line("load", loadSeconds, "\(dataset.ratings.count) ratings, \(dataset.movies.count) movies\(dataset.genome.map { ", genome \($0.movies.count) × \($0.tagIDs.count)" } ?? "")")
        var prepared = try Preparation(options: options).run(dataset, kernels: kernels) { step in
            line(step.name, step.seconds, step.detail)
        }
        let t0 = DispatchTime.now().uptimeNanoseconds
        prepared.summary.steps.insert(Preparation.Step(name: "load", seconds: loadSeconds, detail: ""), at: 0)
        let outURL = URL(fileURLWithPath: out)
        try prepared.write(to: outURL, threads: options.threads)
        let writeSeconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        line("write", writeSeconds, PreparedData.fileNames.joined(separator: ", "))
        let total = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(prepared.summary), as: UTF8.self))
        } else if !quiet {
            let s = prepared.summary
            print("prepared \(s.output.movies) movies, \(s.output.users) users, \(s.output.ratings) ratings into \(out) in \(String(format: "%.2f", total)) s (\(kernels.backend) kernels)")
        }
    }
}
