import ArgumentParser
import Foundation
import LinearAlgebra
import MovieLens
import Recommender

struct BenchEASE: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ease",
        abstract: "Time fitting EASE on each backend: the sparse Gram matrix, its Cholesky inverse, the weights.",
        discussion: """
        Builds the user × item matrix of ratings ≥ --min-rating (as `train --model ease` does), fits \
        EASE with λ = --regularization on each backend, and prints each stage's seconds and the peak \
        resident memory against the items² floats of the weight matrix. The numpy/scipy twin \
        (Benchmarks/baselines/numpy_ease.py) fits the same model on the same positives.

        Examples:
          movierec bench ease --data /tmp/ml-20m-synth --backend openblas
          python3 Benchmarks/baselines/numpy_ease.py /tmp/ml-20m-synth
        """)

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var threadOptions: ThreadOptions

    @Option(help: "Regularisation λ.") var regularization: Float = 500
    @Option(help: "Smallest rating counted as a positive.") var minRating: Float = 4
    @Option(help: "Backends: openblas, swift or both.") var backend: BackendChoice = .both

    func validate() throws {
        guard regularization > 0, regularization.isFinite else { throw ValidationError("--regularization must be positive and finite") }
        guard minRating.isFinite else { throw ValidationError("--min-rating must be finite") }
    }

    func run() throws {
        let backends = try backend.backends()
        let files = try DatasetFiles.discover(in: dataOptions.url)
        let (ratings, _) = try Ratings.load(files.ratings, format: files.format, policy: dataOptions.policy,
                                            threads: threadOptions.threads)
        let positives = ratings.subset((0..<ratings.count).filter { ratings.values[$0] >= minRating })
        let matrix = try RatingMatrix(ratings: positives).byUser
        let weightBytes = Double(EASE.memoryBytes(items: matrix.cols))
        print("\(matrix.rows) users × \(matrix.cols) items, \(matrix.nonzeros) positives (rating ≥ \(minRating)), λ \(regularization); items² floats = \(String(format: "%.0f", weightBytes / 1_048_576)) MiB")
        for b in backends {
            let kernels = try b.makeKernels(threads: threadOptions.threads)
            ResourceUsage.resetPeak()
            var model = EASE(regularization: regularization)
            var total = 0.0
            try model.fit(matrix, kernels: kernels) { stage, seconds in
                total += seconds
                print("  \(b) \(stage): \(String(format: "%.2f", seconds)) s")
            }
            let peak = Double(ResourceUsage.peakResidentBytes())
            print("\(b): \(String(format: "%.2f", total)) s, peak \(String(format: "%.0f", peak / 1_048_576)) MiB = \(String(format: "%.2f", peak / weightBytes))× items² floats")
        }
    }
}
