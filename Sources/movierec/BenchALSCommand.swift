import ArgumentParser
import Foundation
import LinearAlgebra
import MovieLens
import Recommender

struct BenchALS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "als",
        abstract: "Time implicit ALS iterations on each backend (positives = ratings ≥ --min-rating).",
        discussion: """
        Builds the user × item matrix of ratings ≥ --min-rating with confidence 1 + α·rating (as the \
        peers harness feeds the `implicit` library), fits --iterations iterations per backend, and \
        prints seconds per iteration and the training loss.

        Examples:
          movierec bench als --data /tmp/ml-20m-synth --iterations 3
          movierec bench als --data data/ml-latest-small --backend swift
        """)

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var threadOptions: ThreadOptions

    @Option(help: "Latent factors.") var factors = 64
    @Option(help: "Regularisation λ.") var regularization: Float = 0.05
    @Option(help: "Confidence weight α.") var alpha: Float = 1
    @Option(help: "Iterations per backend.") var iterations = 3
    @Option(help: "Smallest rating counted as a positive.") var minRating: Float = 4
    @Option(help: "Backends: openblas, swift or both.") var backend: BackendChoice = .both
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Row solver: cholesky, or cg (3 conjugate-gradient steps, as the implicit library).") var solver = "cholesky"

    func validate() throws {
        guard factors > 0, iterations > 0 else { throw ValidationError("--factors and --iterations must be positive") }
        guard regularization > 0, regularization.isFinite else { throw ValidationError("--regularization must be positive and finite") }
        guard alpha >= 0, alpha.isFinite else { throw ValidationError("--alpha must be finite and not negative") }
        guard minRating.isFinite else { throw ValidationError("--min-rating must be finite") }
        guard solver == "cholesky" || solver == "cg" else { throw ValidationError("--solver must be cholesky or cg") }
    }

    func run() throws {
        let files = try DatasetFiles.discover(in: dataOptions.url)
        let (ratings, _) = try Ratings.load(files.ratings, format: files.format, policy: dataOptions.policy,
                                            threads: threadOptions.threads)
        let positives = ratings.subset((0..<ratings.count).filter { ratings.values[$0] >= minRating })
        let matrix = try RatingMatrix(ratings: positives).byUser
        print("\(matrix.rows) users × \(matrix.cols) items, \(matrix.nonzeros) positives (rating ≥ \(minRating)), \(factors) factors")
        for b in try backend.backends() {
            let kernels = try b.makeKernels(threads: threadOptions.threads)
            var model = ImplicitALS(factors: factors, regularization: regularization, alpha: alpha, iterations: iterations, seed: seed,
                                    solver: solver == "cg" ? .conjugateGradient(steps: 3) : .cholesky)
            let history = try model.fit(matrix, kernels: kernels) { it in
                print("  \(b) iteration \(it.index): \(String(format: "%.3f", it.seconds)) s, loss \(it.loss.map { String(format: "%.5f", $0) } ?? "-")")
            }
            let mean = history.map(\.seconds).reduce(0, +) / Double(max(1, history.count))
            print("\(b): \(String(format: "%.3f", mean)) s per iteration")
        }
    }
}

struct BenchContent: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "content",
        abstract: "Time exact cosine top-k neighbours of every movie over prepared genre + tag embeddings.",
        discussion: """
        Reads prepared.bin from `movierec prepare --no-balance --min-movie-ratings 0 --min-user-ratings 0` \
        (all movies) or any prepared folder, and times the blocked GEMM + top-k on each backend.

        Example:
          movierec prepare --data /tmp/ml-20m-synth --out /tmp/p20m-all --no-balance --min-movie-ratings 0 --min-user-ratings 0
          movierec bench content --prepared /tmp/p20m-all
        """)

    @Option(help: "Folder written by movierec prepare.") var prepared: String
    @Option(name: .short, help: "Neighbours per movie.") var k = 10
    @Option(help: "Backends: openblas, swift or both.") var backend: BackendChoice = .both
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws { guard k > 0 else { throw ValidationError("-k must be positive") } }

    func run() throws {
        let data = try PreparedData.load(from: URL(fileURLWithPath: prepared))
        let n = data.movies.count, g = data.genreEmbeddings.cols, t = data.tagEmbeddings.cols
        var e = Matrix(rows: n, cols: g + t)
        for i in 0..<n {
            for j in 0..<g { e[i, j] = data.genreEmbeddings[i, j] }
            for j in 0..<t { e[i, g + j] = data.tagEmbeddings[i, j] }
        }
        print("\(n) movies × \(g + t) dims, top \(k)")
        for b in try backend.backends() {
            let kernels = try b.makeKernels(threads: threadOptions.threads)
            let t0 = DispatchTime.now().uptimeNanoseconds
            let s = try ContentSimilarity(embeddings: e, k: k, kernels: kernels)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            let mean = s.similarities.filter { $0.isFinite }.reduce(0, +) / Float(max(1, s.similarities.filter { $0.isFinite }.count))
            print("\(b): \(String(format: "%.3f", seconds)) s, mean top-\(k) cosine \(String(format: "%.4f", mean))")
        }
    }
}
