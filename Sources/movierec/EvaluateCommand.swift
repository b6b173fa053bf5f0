import ArgumentParser
import Foundation
import LinearAlgebra
import MovieLens
import Recommender

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate recommenders on a per-user temporal split with full-catalogue ranking metrics.",
        discussion: """
        Split: each user's ratings sorted by (timestamp, movieId); users with at least 5 ratings put \
        their last 20 % in test (the peers harness's split). Relevant = test ratings ≥ 4; candidates = \
        every train movie the user has not rated; metrics averaged over users with a relevant item. \
        Models so far: popularity and implicit ALS (more arrive with the hybrid recommender).

        Examples:
          movierec evaluate --data data/ml-latest-small
          movierec evaluate --data /tmp/ml-1m-synth --factors 64 --iterations 15 --json
        """)

    @OptionGroup var dataOptions: DataOptions
    @Option(help: "ALS latent factors.") var factors = 64
    @Option(help: "ALS regularisation λ.") var regularization: Float = 0.05
    @Option(help: "ALS confidence weight α.") var alpha: Float = 1
    @Option(help: "ALS iterations.") var iterations = 15
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Kernel backend: openblas or swift.") var backend: BackendChoice = Backend.default == .openblas ? .openblas : .swift
    @Option(help: "EASE regularisation λ.") var easeLambda: Float = 500
    @Option(help: "Explicit ALS factors.") var explicitFactors = 32
    @Option(help: "Explicit ALS weighted λ.") var explicitLambda: Float = 0.1
    @Option(help: "Explicit ALS iterations.") var explicitIterations = 10
    @Option(help: "Skip EASE above this many items (its weights take items² floats).") var easeMaxItems = 20_000
    @Flag(help: "Print JSON instead of a table.") var json = false

    func validate() throws {
        guard backend != .both else { throw ValidationError("--backend must be openblas or swift") }
        guard factors > 0, iterations >= 0, regularization > 0 else { throw ValidationError("--factors and --regularization must be positive") }
    }

    func run() throws {
        let files = try DatasetFiles.discover(in: dataOptions.url)
        let (ratings, _) = try Ratings.load(files.ratings, format: files.format, policy: dataOptions.loadOptions.policy,
                                            threads: dataOptions.loadOptions.threads)
        let split = RatingSplit.temporal(ratings)
        let evaluation = try RankingEvaluation(split: split)
        let kernels = try backend.backends()[0].makeKernels(threads: max(1, dataOptions.threads))
        var rows = [(String, RankingMetrics)]()
        rows.append(("popularity", evaluation.popularity()))
        var model = ImplicitALS(factors: factors, regularization: regularization, alpha: alpha, iterations: iterations, seed: seed)
        rows.append(("implicit ALS (\(factors)f, λ \(regularization), α \(alpha), \(iterations) it)", try evaluation.implicitALS(&model, kernels: kernels)))
        let items = evaluation.items.count
        if items <= easeMaxItems {
            if !json { printError("EASE: \(items)² weights = \(String(format: "%.0f", Double(EASE.memoryBytes(items: items)) / 1_048_576)) MiB") }
            var ease = EASE(regularization: easeLambda)
            rows.append(("EASE (λ \(easeLambda))", try evaluation.ease(&ease, kernels: kernels)))
        } else if !json {
            printError("EASE skipped: \(items) items > --ease-max-items \(easeMaxItems)")
        }
        if json {
            struct Row: Encodable { var model: String; var metrics: RankingMetrics }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(rows.map { Row(model: $0.0, metrics: $0.1) }), as: UTF8.self))
            return
        }
        print("\(split.train.count) train / \(split.test.count) test ratings; \(rows.first?.1.users ?? 0) users evaluated over \(evaluation.items.count) items")
        let f = { (x: Double) in String(format: "%.4f", x) }
        print(renderTable(header: ["model", "Recall@10", "Recall@20", "NDCG@10", "P@10", "HR@10", "MRR"],
                          rows: rows.map { [$0.0, f($0.1.recallAt10), f($0.1.recallAt20), f($0.1.ndcgAt10), f($0.1.precisionAt10), f($0.1.hitRateAt10), f($0.1.mrr)] },
                          rightAligned: Set(1..<7)))
        var explicit = ExplicitALS(factors: explicitFactors, regularization: explicitLambda, iterations: explicitIterations, seed: seed)
        let (rmse, mae) = try evaluation.explicitALS(&explicit, split: split, kernels: kernels)
        print("\nrating prediction on every test rating: explicit ALS (\(explicitFactors)f, weighted λ \(explicitLambda), \(explicitIterations) it) RMSE \(String(format: "%.4f", rmse)), MAE \(String(format: "%.4f", mae))")
    }
}
