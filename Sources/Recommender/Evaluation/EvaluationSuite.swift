import Foundation
import LinearAlgebra
import MovieLens

/// Every model on one split, scored with full-catalogue ranking metrics, then the rating
/// predictors (bias baseline, explicit ALS) on every test rating — what `movierec evaluate` prints.
///
/// Each ranking model is trained on the split's train ratings through
/// ``TrainedModel/train(_:ratings:movies:content:options:kernels:progress:)`` and scored by
/// ``RankingEvaluation/evaluate(_:count:kernels:blockSize:)``; `popularity` is the most-popular
/// baseline.
///
/// ```swift
/// var suite = EvaluationSuite()
/// suite.models = ["popularity", "als", "ease"]
/// let report = try suite.run(on: try TrainingData.load(from: folder, content: false, kernels: kernels), kernels: kernels)
/// for row in report.ranking { print(row.model, row.metrics.ndcgAt10) }
/// ```
public struct EvaluationSuite: Sendable {
    /// How the ratings are split into train and test.
    public enum Split: String, Sendable, Codable, CaseIterable {
        /// Each user's ratings by (timestamp, movieId); users with ≥ 5 ratings put their last 20 % in test.
        case temporal
        /// Each user's last rating in test: the next-movie task (every held-out movie is relevant).
        case loo
        /// A seeded 20 % of all ratings in test.
        case random
        /// A seeded 20 % of the movies held out of training entirely, ranked among themselves
        /// (item cold start: ``ColdItemEvaluation``).
        case coldItems = "cold-items"

        /// The split of `ratings` (`seed` for ``random`` and ``coldItems``).
        public func apply(_ ratings: Ratings, seed: UInt64) -> RatingSplit {
            switch self {
            case .temporal: .temporal(ratings)
            case .loo: .leaveLastOut(ratings)
            case .random: .random(ratings, seed: seed)
            case .coldItems: RatingSplit.coldItems(ratings, seed: seed).split
            }
        }

        /// The smallest test rating that counts as relevant by default: 4, or 0 (every held-out movie) for ``loo``.
        public var defaultRelevantThreshold: Float { self == .loo ? 0 : 4 }
    }

    /// The name of the most-popular baseline in ``models``.
    public static let popularity = "popularity"

    public var split: Split = .temporal
    /// Smallest test rating that counts as relevant (nil: the split's default).
    public var relevantThreshold: Float?
    /// Models to evaluate, in order: ``popularity`` and names of ``registry``.
    public var models = [EvaluationSuite.popularity, "als", "ease", "content", "hybrid", "rnn"]
    /// Hyperparameters of every trained model (`minRating` follows a positive relevance threshold).
    public var options = TrainedModel.Options()
    /// Options of one model only, replacing ``options`` for it (e.g. EASE's λ).
    public var overrides: [String: TrainedModel.Options] = [:]
    /// Models skipped above this many items, by name: EASE's weights take items² floats.
    public var itemLimits: [String: Int] = [EASE.name: 20_000]
    /// Explicit ALS for the rating rows.
    public var explicitFactors = 64
    public var explicitRegularization: Float = 0.12
    public var explicitIterations = 15
    /// SVD++ for the rating rows (its seed follows ``options``).
    public var svdPlusPlus = SVDPlusPlus()
    /// How the rating blend carves its probe from the train ratings (nil: temporal for the temporal
    /// and loo splits and given splits, random for the random split and folds).
    public var ratingProbe: RatingBlend.Probe?
    /// A model of ``models`` every other is compared with by paired t-tests over users (nil: none).
    public var compare: String?
    /// Whether to fit the rating predictors (bias baseline, explicit ALS).
    public var ratingPrediction = true
    /// The diversity re-ranking λ of the rows of models that carry content vectors (content,
    /// hybrid; 0: the plain ranking).
    public var diversity: Float = 0
    /// The λ of the accuracy–diversity trade-off each such model also reports (empty: none).
    public var diversityTradeoff: [Float] = [0, 0.1, 0.3, 0.5]
    public var registry = ModelRegistry.standard

    public init() {}

    /// One ranking model's figures.
    public struct Row: Sendable, Codable {
        /// The model's label (its options in words).
        public var model: String
        /// Its name in ``EvaluationSuite/models``.
        public var name: String
        public var metrics: RankingMetrics
        /// Training plus scoring time.
        public var seconds: Double
        /// Paired t-tests of this model's per-user figures minus those of ``EvaluationSuite/compare``,
        /// by ``RankingMetric`` raw value (nil for that model itself, or without a comparison).
        public var comparison: [String: PairedTest]?
        /// The accuracy–diversity trade-off, one point per λ of ``EvaluationSuite/diversityTradeoff``
        /// (models with content vectors only).
        public var tradeoff: [DiversityPoint]?
    }

    /// One λ of a diversity trade-off: the lists re-ranked by maximal marginal relevance.
    public struct DiversityPoint: Sendable, Codable {
        public var lambda: Float
        public var ndcgAt10: Double
        public var recallAt10: Double
        /// Mean intra-list genre diversity of the top-10 (1 − Jaccard of genres, over pairs).
        public var diversity: Double?
        /// Share of the catalogue in some user's top-10.
        public var coverage: Double?
        /// Mean intra-list content diversity of the top-10 (1 − cosine of the content vectors, over pairs).
        public var contentDiversity: Double?
    }

    /// One model's figures on held-out movies.
    public struct ColdRow: Sendable, Codable {
        public var model: String
        public var name: String
        public var metrics: ColdItemEvaluation.Metrics
        public var seconds: Double
    }

    /// One rating predictor's errors over every test rating.
    public struct RatingRow: Sendable, Codable {
        public var model: String
        public var rmse: Double
        public var mae: Double
    }

    /// What a run found.
    public struct Report: Sendable, Codable {
        public var split: String
        public var train: Int
        public var test: Int
        public var relevantThreshold: Float
        /// Items ranked (the movies of the train part).
        public var items: Int
        public var ranking: [Row]
        public var rating: [RatingRow]
        /// Test rows whose user has no train rating (no model but popularity can rank for them; they
        /// count as misses), and test rows whose movie is not in train (relevant, never rankable).
        public var testRowsWithUnknownUser = 0
        public var testRowsWithUnknownMovie = 0
        /// The model the ``Row/comparison`` tests are against, if any.
        public var comparedWith: String?
        /// The cold-items split's figures (``Split/coldItems``): a random ranking, then each model
        /// that can rank movies without ratings.
        public var coldItems: [ColdRow]?
        /// How the intervals and tests are computed.
        public var intervals = "95 % normal-approximation intervals over evaluated users; paired two-sided t-tests over the same users"
    }

    /// What a run reports as it goes.
    public enum Event: Sendable {
        /// A line of progress (the split, a skipped model, a finished model with its time).
        case note(String)
        /// An event of the model being trained.
        case training(model: String, TrainingEvent)
    }

    /// Whether a model of ``models`` reads content vectors (``TrainingData/content`` must be loaded).
    public var needsContent: Bool {
        models.contains { (try? registry.model(named: $0))?.needsContent ?? false }
    }

    /// Checks the model names, each model's options (``RecommenderModel/validate(_:)``) and the
    /// numbers before any work.
    /// - Throws: ``RecommenderError`` naming the first problem.
    public func validate() throws {
        for name in models where name != Self.popularity {
            guard let type = try? registry.model(named: name) else {
                throw RecommenderError.unknownModel(name: name, known: [Self.popularity] + registry.names)
            }
            try type.validate(overrides[name] ?? options)
        }
        guard explicitFactors > 0, explicitRegularization > 0, explicitIterations >= 0, itemLimits.values.allSatisfy({ $0 >= 0 }) else {
            throw RecommenderError.invalidOptions(model: "evaluate", reason: "explicit ALS factors and λ must be positive, iterations and item limits not negative")
        }
        if let compare, !models.contains(compare) {
            throw RecommenderError.invalidOptions(model: "evaluate", reason: "the model to compare with, \(compare), is not one of the models evaluated (\(models.joined(separator: ", ")))")
        }
        if let t = relevantThreshold, !t.isFinite { throw RecommenderError.invalidOptions(model: "evaluate", reason: "the relevance threshold must be finite") }
        for lambda in [diversity] + diversityTradeoff where !(lambda.isFinite && (0...1).contains(lambda)) {
            throw RecommenderError.invalidOptions(model: "evaluate", reason: "a diversity λ is between 0 and 1, got \(lambda)")
        }
    }

    /// Splits `data` by ``split``, trains and scores every model of ``models``, then the rating predictors.
    public func run(on data: TrainingData, kernels: any Kernels, progress: (Event) -> Void = { _ in }) throws -> Report {
        if split == .coldItems { return try runColdItems(on: data, kernels: kernels, progress: progress) }
        return try run(on: data, split: split.apply(data.ratings, seed: options.seed), named: split.rawValue,
                probe: ratingProbe ?? (split == .random ? .random : .temporal),
                relevantThreshold: relevantThreshold ?? split.defaultRelevantThreshold, kernels: kernels, progress: progress)
    }

    /// Trains every model of ``models`` on a given split's train ratings (a paper's split, one written
    /// by the peers harness) and scores it on its test ratings, exactly as for a built-in split;
    /// `data` supplies the movies and content (its ratings are not used). Relevant = test rating ≥
    /// ``relevantThreshold`` (default 4).
    public func run(on data: TrainingData, given split: RatingSplit, kernels: any Kernels,
                    progress: (Event) -> Void = { _ in }) throws -> Report {
        try run(on: data, split: split, named: "given", probe: ratingProbe ?? .temporal, relevantThreshold: relevantThreshold ?? 4, kernels: kernels, progress: progress)
    }

    private func run(on data: TrainingData, split ratingSplit: RatingSplit, named splitName: String, probe: RatingBlend.Probe, relevantThreshold threshold: Float,
                     kernels: any Kernels, progress: (Event) -> Void) throws -> Report {
        try validate()
        let evaluation = try RankingEvaluation(split: ratingSplit, relevantThreshold: threshold, movies: data.movies)
        let trainUsers = IDMap(ratingSplit.train.userIDs)
        let unknownUser = ratingSplit.test.userIDs.reduce(0) { $0 + (trainUsers.index(of: $1) == nil ? 1 : 0) }
        let unknownMovie = ratingSplit.test.movieIDs.reduce(0) { $0 + (evaluation.items.index(of: $1) == nil ? 1 : 0) }
        progress(.note("\(splitName) split: \(ratingSplit.train.count) train / \(ratingSplit.test.count) test ratings; relevant = test rating ≥ \(threshold)"))
        if unknownUser + unknownMovie > 0 {
            progress(.note("  \(unknownUser) test rows of users and \(unknownMovie) of movies not in train: counted, as misses for the models that cannot rank them"))
        }
        var rows = [Row]()
        for name in models {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let label: String, metrics: RankingMetrics
            var tradeoff: [DiversityPoint]?
            if name == Self.popularity {
                (label, metrics) = ("popularity", evaluation.popularity())
            } else {
                let type = try registry.model(named: name)
                if let limit = itemLimits[name], evaluation.items.count > limit {
                    progress(.note("\(name) skipped: \(evaluation.items.count) items > its limit of \(limit)"))
                    continue
                }
                var o = overrides[name] ?? options
                if threshold > 0 { o.minRating = threshold }
                if o.hybridValidation == nil { o.hybridValidation = probe }
                let model = try TrainedModel.train(type, ratings: ratingSplit.train, movies: data.movies, content: data.content,
                                                   options: o, kernels: kernels) { progress(.training(model: name, $0)) }
                let diverse = model.model.itemVectors != nil
                let lambdas = diverse ? [diversity] + diversityTradeoff : [0]
                let all = try evaluation.evaluate(model, diversities: lambdas, kernels: kernels)
                (label, metrics) = (model.model.label, all[0])
                if diverse && !diversityTradeoff.isEmpty {
                    tradeoff = zip(diversityTradeoff, all.dropFirst()).map { lambda, m in
                        DiversityPoint(lambda: lambda, ndcgAt10: m.ndcgAt10, recallAt10: m.recallAt10, diversity: m.diversity, coverage: m.coverage,
                                       contentDiversity: m.contentDiversity)
                    }
                }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            progress(.note("  \(label): \(String(format: "%.1f", seconds)) s"))
            rows.append(Row(model: label, name: name, metrics: metrics, seconds: seconds, tradeoff: tradeoff))
        }
        if let compare, let baseline = rows.first(where: { $0.name == compare }) {
            for i in rows.indices where rows[i].name != compare {
                rows[i].comparison = rows[i].metrics.pairedTests(against: baseline.metrics)
            }
        }
        var rating = [RatingRow]()
        if ratingPrediction {
            var svdpp = svdPlusPlus
            svdpp.seed = options.seed
            let members: [any RatingPredictor] = [
                BiasBaseline(),
                ExplicitALS(factors: explicitFactors, regularization: explicitRegularization, iterations: explicitIterations, seed: options.seed),
                svdpp,
            ]
            var blend = RatingBlend(members: members, probe: probe, seed: options.seed)
            let t0 = DispatchTime.now().uptimeNanoseconds
            let timed = TimedRatings(ratingSplit.train, users: evaluation.users, items: evaluation.items)
            var fitted: [any RatingPredictor]
            if timed.carve(probe, fraction: blend.probeFraction, seed: blend.seed).probe.count > 0 {
                try blend.fit(timed, kernels: kernels)
                fitted = blend.members + [blend]
            } else {
                progress(.note("  rating blend skipped: no user has the 5 train ratings a probe needs"))
                fitted = members
                for m in fitted.indices { try fitted[m].fit(timed, kernels: kernels) }
            }
            progress(.note("  rating predictors: \(String(format: "%.1f", Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)) s"))
            for predictor in fitted {
                let (rmse, mae) = evaluation.errors(of: predictor, split: ratingSplit)
                rating.append(RatingRow(model: predictor.label, rmse: rmse, mae: mae))
            }
        }
        return Report(split: splitName, train: ratingSplit.train.count, test: ratingSplit.test.count, relevantThreshold: threshold,
                      items: evaluation.items.count, ranking: rows, rating: rating,
                      testRowsWithUnknownUser: unknownUser, testRowsWithUnknownMovie: unknownMovie,
                      comparedWith: rows.contains { $0.name == compare } ? compare : nil)
    }

    /// The cold-items split: the models that read content (trained on the remaining movies' ratings,
    /// with every movie of the content in their catalogue) and a seeded random ranking, each scored
    /// by ``ColdItemEvaluation`` on the held-out movies. Models without content are skipped.
    func runColdItems(on data: TrainingData, kernels: any Kernels, progress: (Event) -> Void) throws -> Report {
        try validate()
        let threshold = relevantThreshold ?? 4
        let (split, held) = RatingSplit.coldItems(data.ratings, seed: options.seed)
        let evaluation = ColdItemEvaluation(split: split, held: held, relevantThreshold: threshold)
        progress(.note("cold-items split: \(held.count) movies held out (seed \(options.seed)), \(split.train.count) train / \(split.test.count) test ratings; \(evaluation.users.count) users with a relevant held-out movie (≥ \(threshold))"))
        var rows = [ColdRow(model: "random", name: "random", metrics: evaluation.random(seed: options.seed), seconds: 0)]
        for name in models {
            guard name != Self.popularity, let type = try? registry.model(named: name), type.needsContent else {
                progress(.note("\(name) skipped: it cannot rank movies without ratings"))
                continue
            }
            let t0 = DispatchTime.now().uptimeNanoseconds
            var o = overrides[name] ?? options
            if threshold > 0 { o.minRating = threshold }
            if o.hybridValidation == nil { o.hybridValidation = .random }
            let model = try TrainedModel.train(type, ratings: split.train, movies: data.movies, content: data.content,
                                               options: o, kernels: kernels) { progress(.training(model: name, $0)) }
            let metrics = try evaluation.evaluate(model, kernels: kernels)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            progress(.note("  \(model.model.label): \(String(format: "%.1f", seconds)) s"))
            rows.append(ColdRow(model: model.model.label, name: name, metrics: metrics, seconds: seconds))
        }
        return Report(split: Split.coldItems.rawValue, train: split.train.count, test: split.test.count, relevantThreshold: threshold,
                      items: held.count, ranking: [], rating: [], coldItems: rows)
    }

    /// A mean over folds and the sample standard deviation across them.
    public struct MeanSD: Sendable, Codable, Equatable {
        public var mean: Double
        public var sd: Double

        public init(_ values: [Double]) {
            mean = values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
            sd = Statistics.standardDeviation(values, mean: mean)
        }
    }

    /// What a cross-validation found: every fold's report and, per model, each figure's mean ± sd.
    public struct FoldsReport: Sendable, Codable {
        public var split: String
        public var folds: [Report]
        public var ranking: [RankingSummary]
        public var rating: [RatingSummary]

        /// One ranking model over the folds, by ``RankingMetric`` raw value.
        public struct RankingSummary: Sendable, Codable {
            public var model: String
            public var name: String
            public var metrics: [String: MeanSD]
        }

        /// One rating predictor over the folds.
        public struct RatingSummary: Sendable, Codable {
            public var model: String
            public var rmse: MeanSD
            public var mae: MeanSD
        }
    }

    /// Runs the suite on each split of `splits` (``RatingSplit/folds(_:count:seed:)``, or ML-100K's
    /// u1…u5 files) as a given split, and summarises each model's figures over the folds. A model
    /// skipped in some fold is summarised over the folds it ran in.
    public func runFolds(on data: TrainingData, splits: [RatingSplit], named name: String, kernels: any Kernels,
                         progress: (Event) -> Void = { _ in }) throws -> FoldsReport {
        try validate()
        var reports = [Report]()
        for (f, split) in splits.enumerated() {
            progress(.note("fold \(f + 1) of \(splits.count)"))
            reports.append(try run(on: data, split: split, named: "\(name), fold \(f + 1)", probe: ratingProbe ?? .random, relevantThreshold: relevantThreshold ?? 4,
                                   kernels: kernels, progress: progress))
        }
        var ranking = [FoldsReport.RankingSummary]()
        for model in models {
            let rows = reports.compactMap { r in r.ranking.first { $0.name == model } }
            guard let first = rows.first else { continue }
            var metrics = [String: MeanSD]()
            for metric in RankingMetric.allCases { metrics[metric.rawValue] = MeanSD(rows.map { $0.metrics.value(metric) }) }
            ranking.append(.init(model: first.model, name: model, metrics: metrics))
        }
        let rating = (reports.first?.rating ?? []).indices.map { i in
            let rows = reports.compactMap { i < $0.rating.count ? $0.rating[i] : nil }
            return FoldsReport.RatingSummary(model: rows[0].model, rmse: MeanSD(rows.map(\.rmse)), mae: MeanSD(rows.map(\.mae)))
        }
        return FoldsReport(split: name, folds: reports, ranking: ranking, rating: rating)
    }
}
