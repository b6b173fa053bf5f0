import ArgumentParser
import Foundation
import LinearAlgebra
import MovieLens
import Recommender

enum SplitChoice: String, ExpressibleByArgument, CaseIterable {
    case temporal, loo, random
}

enum EvaluatedModel: String, CaseIterable {
    case popularity, als, ease, content, hybrid, rnn
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate every recommender on one split with full-catalogue metrics.",
        discussion: """
        Splits: temporal (each user's ratings sorted by (timestamp, movieId); users with at least 5 \
        ratings put their last 20 % in test — the peers harness's split), loo (each user's last \
        rating), random (seeded, 20 % of ratings). Relevant = test ratings ≥ --relevant (default 4; \
        with loo every held-out movie is relevant: it is the next-movie task). Candidates = every \
        train movie the user has not rated; no sampled negatives. Metrics: Recall@10/20, NDCG@10, \
        P@10, MAP@10, HR@10, MRR; coverage (share of movies in some top-10), diversity (mean \
        pairwise 1 − genre Jaccard in a top-10), novelty (mean −log2 share of users who rated a \
        recommended movie). Models: popularity, als (implicit ALS), ease, content (content cosine to \
        the user's profile alone), hybrid, rnn (LSTM); then RMSE/MAE of the bias baseline and \
        explicit ALS on every test rating.

        Examples:
          movierec evaluate --data data/ml-latest-small
          movierec evaluate --split loo --models popularity,als,rnn --epochs 10
          movierec evaluate --data /tmp/ml-1m-synth --models popularity,als,ease --json
        """)

    @OptionGroup var dataOptions: DataOptions
    @Option(help: "temporal, loo or random.") var split: SplitChoice = .temporal
    @Option(help: "Smallest test rating that counts as relevant (default: 4; 0 with loo).") var relevant: Float?
    @Option(help: "Models to evaluate, comma-separated: popularity,als,ease,content,hybrid,rnn.")
    var models = "popularity,als,ease,content,hybrid,rnn"
    @OptionGroup var hyper: ModelOptions
    @Option(help: "EASE regularisation λ.") var easeLambda: Float = 500
    @Option(help: "Skip EASE above this many items (its weights take items² floats).") var easeMaxItems = 20_000
    @Option(help: "Explicit ALS factors.") var explicitFactors = 64
    @Option(help: "Explicit ALS weighted λ.") var explicitLambda: Float = 0.12
    @Option(help: "Explicit ALS iterations.") var explicitIterations = 15
    @Option(help: "Kernel backend: openblas or swift.") var backend: BackendChoice = Backend.default == .openblas ? .openblas : .swift
    @Flag(help: "Print JSON instead of a table.") var json = false
    @Flag(help: "No progress lines.") var quiet = false

    func validate() throws {
        guard backend != .both else { throw ValidationError("--backend must be openblas or swift") }
        try hyper.validate()
        for name in models.split(separator: ",") where EvaluatedModel(rawValue: String(name)) == nil {
            throw ValidationError("unknown model '\(name)' in --models (choose from \(EvaluatedModel.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
    }

    func run() throws {
        let kernels = try backend.backends()[0].makeKernels(threads: max(1, dataOptions.threads))
        let chosen = Set(models.split(separator: ",").compactMap { EvaluatedModel(rawValue: String($0)) })
        let needsContent = !chosen.isDisjoint(with: [.content, .hybrid])
        let data = try TrainingData.load(from: dataOptions.url, content: needsContent, kernels: kernels, seed: hyper.seed,
                                         policy: dataOptions.loadOptions.policy, threads: dataOptions.loadOptions.threads)
        let ratingSplit: RatingSplit
        switch split {
        case .temporal: ratingSplit = .temporal(data.ratings)
        case .loo: ratingSplit = .leaveLastOut(data.ratings)
        case .random: ratingSplit = .random(data.ratings, seed: hyper.seed)
        }
        let threshold = relevant ?? (split == .loo ? 0 : 4)
        let evaluation = try RankingEvaluation(split: ratingSplit, relevantThreshold: threshold, movies: data.movies)
        func note(_ s: String) { if !quiet && !json { printError(s) } }
        note("\(split.rawValue) split: \(ratingSplit.train.count) train / \(ratingSplit.test.count) test ratings; relevant = test rating ≥ \(threshold)")
        var rows = [(String, RankingMetrics)]()
        func timed(_ name: String, _ body: () throws -> RankingMetrics) rethrows {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let m = try body()
            note("  \(name): \(String(format: "%.1f", Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)) s")
            rows.append((name, m))
        }
        func trained(_ kind: TrainedModel.Kind, _ options: TrainedModel.Options) throws -> TrainedModel {
            let bar = ProgressBar(label: "  epoch", unit: "batches", quiet: quiet || json)
            defer { bar.finish() }
            return try TrainedModel.train(kind: kind, ratings: ratingSplit.train, movies: data.movies, content: data.content,
                                          options: options, kernels: kernels) { event in
                if case let .batch(epoch, done, total, loss) = event {
                    bar.update(done, of: total, label: "  epoch \(epoch)", extra: "  loss \(String(format: "%.4f", loss))")
                } else if case let .epoch(e) = event, let v = e.validation {
                    bar.finish()
                    note(String(format: "  epoch %d: loss %.4f; validation loss %.4f, HR@10 %.4f, NDCG@10 %.4f",
                                e.index, e.loss, v.loss, v.hitRate, v.ndcg))
                }
            }
        }
        var options = hyper.options
        options.minRating = threshold > 0 ? threshold : options.minRating
        if chosen.contains(.popularity) { timed("popularity") { evaluation.popularity() } }
        if chosen.contains(.als) {
            try timed("implicit ALS (\(options.factors)f, λ \(options.regularization ?? 0.05), α \(options.alpha), \(options.iterations) it, \(options.solver.map(\.label) ?? "cholesky"))") {
                try evaluation.evaluate(try trained(.implicitALS, options), kernels: kernels)
            }
        }
        if chosen.contains(.ease) {
            let items = evaluation.items.count
            if items <= easeMaxItems {
                note("EASE: \(items)² weights = \(String(format: "%.0f", Double(EASE.memoryBytes(items: items)) / 1_048_576)) MiB")
                var o = options
                o.regularization = easeLambda
                try timed("EASE (λ \(easeLambda))") { try evaluation.evaluate(try trained(.ease, o), kernels: kernels) }
            } else {
                note("EASE skipped: \(items) items > --ease-max-items \(easeMaxItems)")
            }
        }
        if chosen.contains(.content) || chosen.contains(.hybrid) {
            let hybrid = try trained(.hybrid, options)
            if chosen.contains(.content) {
                var contentOnly = hybrid
                contentOnly.header.options.blend = HybridBlend(contentWeight: 1, collaborativeWeight: 0)
                try timed("content only (cosine to profile)") { try evaluation.evaluate(contentOnly, kernels: kernels) }
            }
            if chosen.contains(.hybrid) {
                try timed("hybrid (\(options.blend.contentWeight) content / \(options.blend.collaborativeWeight) CF)") {
                    try evaluation.evaluate(hybrid, kernels: kernels)
                }
            }
        }
        if chosen.contains(.rnn) {
            let c = options.sequence
            try timed("LSTM (\(c.examplesLabel), \(c.epochs) epochs\(c.schedule == .cosine ? ", cosine lr" : "")\((c.initialisation ?? .glorot) == .glorot ? ", Glorot init" : ""))") { try evaluation.evaluate(try trained(.sequence, options), kernels: kernels) }
        }
        var bias = BiasBaseline()
        let (biasRMSE, biasMAE) = evaluation.biasBaseline(&bias, split: ratingSplit)
        var explicit = ExplicitALS(factors: explicitFactors, regularization: explicitLambda, iterations: explicitIterations, seed: hyper.seed)
        let (rmse, mae) = try evaluation.explicitALS(&explicit, split: ratingSplit, kernels: kernels)
        let ratingRows = [("bias baseline (μ + b_u + b_i)", biasRMSE, biasMAE),
                          ("explicit ALS (\(explicitFactors)f, weighted λ \(explicitLambda), \(explicitIterations) it)", rmse, mae)]
        if json {
            struct Row: Encodable { var model: String; var metrics: RankingMetrics }
            struct RatingRow: Encodable { var model: String; var rmse: Double; var mae: Double }
            struct Report: Encodable {
                var split: String; var train: Int; var test: Int; var relevantThreshold: Float
                var ranking: [Row]; var rating: [RatingRow]
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let report = Report(split: split.rawValue, train: ratingSplit.train.count, test: ratingSplit.test.count, relevantThreshold: threshold,
                                ranking: rows.map { Row(model: $0.0, metrics: $0.1) },
                                rating: ratingRows.map { RatingRow(model: $0.0, rmse: $0.1, mae: $0.2) })
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        print("\(split.rawValue) split: \(ratingSplit.train.count) train / \(ratingSplit.test.count) test ratings; \(rows.first?.1.users ?? 0) users evaluated over \(evaluation.items.count) movies")
        let f = { (x: Double?) in x.map { String(format: "%.4f", $0) } ?? "-" }
        print(renderTable(header: ["model", "R@10", "R@20", "NDCG@10", "P@10", "MAP@10", "HR@10", "MRR", "cover", "divers", "novelty"],
                          rows: rows.map { r in
                              let m = r.1
                              return [r.0, f(m.recallAt10), f(m.recallAt20), f(m.ndcgAt10), f(m.precisionAt10), f(m.mapAt10), f(m.hitRateAt10),
                                      f(m.mrr), f(m.coverage), f(m.diversity), m.novelty.map { String(format: "%.2f", $0) } ?? "-"]
                          },
                          rightAligned: Set(1..<11)))
        print("")
        print(renderTable(header: ["rating prediction (every test rating)", "RMSE", "MAE"],
                          rows: ratingRows.map { [$0.0, String(format: "%.4f", $0.1), String(format: "%.4f", $0.2)] }, rightAligned: [1, 2]))
    }
}
