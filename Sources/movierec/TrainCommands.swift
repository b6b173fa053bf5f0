import ArgumentParser
import Foundation
import LinearAlgebra
import MovieLens
import Recommender

enum ModelChoice: String, ExpressibleByArgument, CaseIterable {
    case als, ease
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a collaborative model and save it to a model file.",
        discussion: """
        --data is a MovieLens folder or a folder written by `movierec prepare` (its kept ratings are \
        used). Ratings ≥ --min-rating are the positives; every rating is remembered so that \
        recommendations skip what a user has seen. The file is versioned, checksummed and written \
        atomically.

        Models: als (implicit ALS, confidence 1 + α·rating), ease (EASE; its weights take items² floats).

        Examples:
          movierec train --data data/ml-latest-small --model als --out /tmp/als.model
          movierec train --data /tmp/prepared --model ease --out /tmp/ease.model
        """)

    @Option(help: "MovieLens folder, or a folder written by movierec prepare.") var data = "data/ml-latest-small"
    @Option(help: "als or ease.") var model: ModelChoice = .als
    @Option(help: "Model file to write.") var out: String
    @Option(help: "ALS latent factors.") var factors = 64
    @Option(help: "Regularisation λ (default: 0.05 for als, 500 for ease).") var regularization: Float?
    @Option(help: "ALS confidence weight α.") var alpha: Float = 1
    @Option(help: "ALS iterations.") var iterations = 15
    @Option(help: "Smallest rating counted as a positive.") var minRating: Float = 4
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Kernel backend: openblas or swift.") var backend: BackendChoice = Backend.default == .openblas ? .openblas : .swift
    @Option(help: "Threads (default: all cores).") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "No progress lines.") var quiet = false

    func validate() throws {
        guard backend != .both else { throw ValidationError("--backend must be openblas or swift") }
        guard factors > 0, iterations >= 0 else { throw ValidationError("--factors must be positive, --iterations not negative") }
        if let r = regularization, r <= 0 { throw ValidationError("--regularization must be positive") }
    }

    func run() throws {
        let url = URL(fileURLWithPath: data)
        let ratings: Ratings
        let movies: [Movie]
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("prepared.bin").path) {
            let prepared = try PreparedData.load(from: url)
            ratings = prepared.ratings
            movies = prepared.movies.map { Movie(id: $0.id, title: $0.title, genres: $0.genres) }
        } else {
            var options = MovieLensDataset.Options()
            options.loadTags = false
            options.loadLinks = false
            options.loadGenome = false
            let dataset = try MovieLensDataset.load(from: url, options: options)
            ratings = dataset.ratings
            movies = dataset.movies
        }
        let kernels = try backend.backends()[0].makeKernels(threads: max(1, threads))
        let t0 = DispatchTime.now().uptimeNanoseconds
        let trained = try TrainedModel.train(kind: model == .als ? .implicitALS : .ease, ratings: ratings, movies: movies,
                                             factors: factors, regularization: regularization, alpha: alpha,
                                             iterations: iterations, seed: seed, minRating: minRating, kernels: kernels) { line in
            if !quiet { printError("  \(line)") }
        }
        try trained.write(to: URL(fileURLWithPath: out))
        if !quiet {
            print("trained \(model.rawValue) on \(trained.header.users) users × \(trained.header.items) movies in \(String(format: "%.2f", Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)) s (\(kernels.backend)); wrote \(out)")
        }
    }
}

/// Prints ranked movies as a table or JSON.
func printRanked(_ list: [(movieID: Int32, title: String, score: Float)], json: Bool) throws {
    if json {
        struct Row: Encodable { var rank: Int; var movieId: Int32; var title: String; var score: Float }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let rows = list.enumerated().map { Row(rank: $0.offset + 1, movieId: $0.element.movieID, title: $0.element.title, score: $0.element.score) }
        print(String(decoding: try encoder.encode(rows), as: UTF8.self))
        return
    }
    print(renderTable(header: ["rank", "movieId", "score", "title"],
                      rows: list.enumerated().map { ["\($0.offset + 1)", "\($0.element.movieID)", String(format: "%.4f", $0.element.score), $0.element.title] },
                      rightAligned: [0, 1, 2]))
}

struct Recommend: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recommend movies for a user from a trained model.",
        discussion: """
        Movies the user has rated are excluded unless --include-seen. An unknown user id is an error \
        (exit code 2) that names the nearest known ids.

        Examples:
          movierec recommend --model /tmp/als.model --user 1 -k 5
          movierec recommend --model /tmp/ease.model --user 42 --json
        """)

    @Option(help: "Model file written by movierec train.") var model: String
    @Option(help: "MovieLens user id.") var user: Int32
    @Option(name: .short, help: "How many movies.") var k = 5
    @Flag(help: "Keep movies the user has already rated.") var includeSeen = false
    @Flag(help: "Print JSON.") var json = false

    func validate() throws { guard k > 0 else { throw ValidationError("-k must be positive") } }

    func run() throws {
        let trained = try TrainedModel.load(from: URL(fileURLWithPath: model))
        try printRanked(try trained.recommend(userID: user, count: k, includeSeen: includeSeen), json: json)
    }
}

struct Similar: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Movies most similar to a movie under a trained model.",
        discussion: """
        ALS: cosine similarity of item factors. EASE: the item-item weights.

        Example:
          movierec similar --model /tmp/als.model --movie 1 -k 10
        """)

    @Option(help: "Model file written by movierec train.") var model: String
    @Option(help: "MovieLens movie id.") var movie: Int32
    @Option(name: .short, help: "How many movies.") var k = 10
    @Flag(help: "Print JSON.") var json = false

    func validate() throws { guard k > 0 else { throw ValidationError("-k must be positive") } }

    func run() throws {
        let trained = try TrainedModel.load(from: URL(fileURLWithPath: model))
        try printRanked(try trained.similar(movieID: movie, count: k), json: json)
    }
}
