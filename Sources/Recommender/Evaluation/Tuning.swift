import Foundation
import LinearAlgebra
import MovieLens

/// A hyper-parameter ``Tuner`` can search, named as its `train` option.
public enum HyperParameter: String, Sendable, Codable, CaseIterable {
    case factors, regularization, alpha, iterations
    case contentWeight = "content-weight", cfWeight = "cf-weight"
    case learningRate = "learning-rate", sequenceLength = "sequence-length", epochs

    /// Whether the parameter takes whole numbers.
    public var isInteger: Bool { [.factors, .iterations, .sequenceLength, .epochs].contains(self) }

    /// Sets the parameter to `value` in `options`.
    public func apply(_ value: Double, to o: inout TrainedModel.Options) {
        switch self {
        case .factors: o.factors = Int(value)
        case .regularization: o.regularization = Float(value)
        case .alpha: o.alpha = Float(value)
        case .iterations: o.iterations = Int(value)
        case .contentWeight:   // the weights belong to the original design (the learned fusion fits its own)
            o.blend.contentWeight = Float(value)
            o.hybridFusion = .minmax
        case .cfWeight:
            o.blend.collaborativeWeight = Float(value)
            o.hybridFusion = .minmax
        case .learningRate: o.sequence.learningRate = Float(value)
        case .sequenceLength:
            o.sequence.length = Int(value)
            o.sequence.windowStep = o.sequence.windowStep.map { min($0, max(1, Int(value) - 1)) }
        case .epochs: o.sequence.epochs = Int(value)
        }
    }

    /// `parameters` (names as ``rawValue``) applied to `options`.
    /// - Throws: ``RecommenderError/invalidOptions(model:reason:)`` for an unknown name or a value
    ///   that is not finite (or not whole, for whole-number parameters).
    public static func apply(_ parameters: [String: Double], to options: TrainedModel.Options) throws -> TrainedModel.Options {
        var o = options
        for (name, value) in parameters.sorted(by: { $0.key < $1.key }) {
            guard let p = HyperParameter(rawValue: name) else {
                throw RecommenderError.invalidOptions(model: "params", reason: "unknown parameter '\(name)' (known: \(allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard value.isFinite, !p.isInteger || value == value.rounded() else {
                throw RecommenderError.invalidOptions(model: "params", reason: "\(name) = \(value) is not a \(p.isInteger ? "whole" : "finite") number")
            }
            p.apply(value, to: &o)
        }
        return o
    }
}

/// Hyper-parameter search on a validation split carved from training ratings: each user's last
/// 20 % of the given ratings by time (``RatingSplit/temporal(_:testFraction:minRatings:)``) is the
/// validation set, the rest trains each trial. The ratings a caller holds out for testing are never
/// passed in, so they cannot influence the choice.
///
/// The search is the full grid of ``space`` when it has at most ``budget`` points, else a seeded
/// random sample of ``budget`` distinct grid points.
///
/// ```swift
/// let outer = RatingSplit.temporal(ratings)
/// var tuner = Tuner(model: "ease")
/// let result = try tuner.run(train: outer.train, movies: movies, kernels: kernels)
/// print(result.best, result.trials[0].value)
/// ```
public struct Tuner: Sendable {
    /// One searched parameter and its candidate values.
    public struct Dimension: Sendable, Codable, Equatable {
        public var parameter: HyperParameter
        public var values: [Double]
        public init(_ parameter: HyperParameter, _ values: [Double]) {
            self.parameter = parameter
            self.values = values
        }
    }

    /// One trained and scored setting.
    public struct Trial: Sendable, Codable {
        public var parameters: [String: Double]
        /// The metric on the validation split.
        public var value: Double
        /// Training plus scoring time.
        public var seconds: Double
    }

    /// What a search found: trials best first.
    public struct Result: Sendable, Codable {
        public var model: String
        public var metric: String
        public var validation: String
        public var trials: [Trial]
        /// The best trial's parameters: what `train --params` and `evaluate --params` read.
        public var best: [String: Double] { trials.first?.parameters ?? [:] }
    }

    /// What a search reports as it goes.
    public enum Event: Sendable {
        /// The validation split and the number of trials, before the first.
        case start(trials: Int, grid: Int, train: Int, validation: Int)
        /// A finished trial (1-based index).
        case trial(index: Int, of: Int, Trial)
    }

    public var model: String
    public var space: [Dimension]
    public var metric: RankingMetric = .ndcgAt10
    /// The most trials to run.
    public var budget = 20
    public var seed: UInt64 = 0
    /// The options every trial starts from.
    public var base = TrainedModel.Options()
    public var registry = ModelRegistry.standard

    /// A tuner of `model` over its ``defaultSpace(for:)``.
    public init(model: String) {
        self.model = model
        space = Self.defaultSpace(for: model)
    }

    /// The search space used unless another is given:
    /// - als: factors 32, 64, 128 × λ 0.01, 0.05, 0.1, 0.5, 1 × α 0.5, 1, 2, 5, 10
    /// - ease: λ 50, 100, 200, 300, 500, 750, 1000, 2000
    /// - hybrid: content weight 0, 0.05, 0.1, 0.2, 0.5, 0.8 × CF weight 0.2, 1 — the original
    ///   min–max design's weights (setting them selects `--fusion minmax`; the learned fusion fits
    ///   its own weights and CF model on a validation carve)
    /// - rnn: learning rate 0.001, 0.003, 0.01 × sequence length 20, 50
    /// - anything else (content): nothing to search.
    public static func defaultSpace(for model: String) -> [Dimension] {
        switch model {
        case ImplicitALS.name:
            [Dimension(.factors, [32, 64, 128]), Dimension(.regularization, [0.01, 0.05, 0.1, 0.5, 1]),
             Dimension(.alpha, [0.5, 1, 2, 5, 10])]
        case EASE.name: [Dimension(.regularization, [50, 100, 200, 300, 500, 750, 1000, 2000])]
        case HybridRecommender.name: [Dimension(.contentWeight, [0, 0.05, 0.1, 0.2, 0.5, 0.8]), Dimension(.cfWeight, [0.2, 1])]
        case LSTMRecommender.name: [Dimension(.learningRate, [0.001, 0.003, 0.01]), Dimension(.sequenceLength, [20, 50])]
        default: []
        }
    }

    /// Every point of the grid, in order (the last dimension varies fastest).
    public var grid: [[String: Double]] {
        space.reduce([[String: Double]()]) { points, d in
            points.flatMap { p in d.values.map { v in p.merging([d.parameter.rawValue: v]) { $1 } } }
        }
    }

    /// The settings to try: the whole grid, or a seeded sample of ``budget`` points.
    public var settings: [[String: Double]] {
        let all = grid
        guard all.count > budget else { return all }
        var g = SeededGenerator(seed: seed, stream: 9)
        var order = Array(all.indices)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(g.next() % UInt64(i + 1))) }
        return order.prefix(budget).sorted().map { all[$0] }
    }

    /// Checks the model, the space and every setting's options before any training.
    public func validate() throws {
        let type = try registry.model(named: model)
        guard !space.isEmpty, space.allSatisfy({ !$0.values.isEmpty }) else {
            throw RecommenderError.invalidOptions(model: model, reason: "nothing to tune: the search space is empty")
        }
        guard budget > 0 else { throw RecommenderError.invalidOptions(model: model, reason: "the budget must be at least one trial") }
        for setting in settings { try type.validate(try HyperParameter.apply(setting, to: base)) }
    }

    /// Searches on `train` (the caller's training ratings only): each setting is trained on the
    /// validation split's train part and scored by ``metric`` on its validation part.
    public func run(train ratings: Ratings, movies: [Movie], content: ContentEmbeddings? = nil, kernels: any Kernels,
                    progress: (Event) -> Void = { _ in }) throws -> Result {
        try validate()
        let type = try registry.model(named: model)
        let inner = RatingSplit.temporal(ratings)
        let evaluation = try RankingEvaluation(split: inner, relevantThreshold: base.minRating, movies: movies)
        let settings = self.settings
        progress(.start(trials: settings.count, grid: grid.count, train: inner.train.count, validation: inner.test.count))
        var trials = [Trial]()
        for (i, setting) in settings.enumerated() {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let options = try HyperParameter.apply(setting, to: base)
            let trained = try TrainedModel.train(type, ratings: inner.train, movies: movies, content: content, options: options, kernels: kernels)
            let value = try evaluation.evaluate(trained, kernels: kernels).value(metric)
            let trial = Trial(parameters: setting, value: value, seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            trials.append(trial)
            progress(.trial(index: i + 1, of: settings.count, trial))
        }
        // Best first; equal values keep the search order.
        let ordered = trials.enumerated().sorted { ($0.element.value, -$0.offset) > ($1.element.value, -$1.offset) }.map(\.element)
        return Result(model: model, metric: metric.rawValue,
                      validation: "each user's last 20 % of the training ratings by time (\(inner.test.count) ratings)", trials: ordered)
    }
}

/// The file `movierec tune --out` writes and `train --params` / `evaluate --params` read: the best
/// parameters of one model, by ``HyperParameter`` name.
public struct TunedParameters: Sendable, Codable, Equatable {
    public var model: String
    public var metric: String
    /// The metric on the validation split.
    public var value: Double
    public var parameters: [String: Double]

    public init(model: String, metric: String, value: Double, parameters: [String: Double]) {
        self.model = model
        self.metric = metric
        self.value = value
        self.parameters = parameters
    }

    /// The best trial of `result`.
    public init(_ result: Tuner.Result) {
        self.init(model: result.model, metric: result.metric, value: result.trials.first?.value ?? 0, parameters: result.best)
    }

    /// Reads a parameters file.
    /// - Throws: ``RecommenderError/invalidOptions(model:reason:)`` naming the file when it cannot be
    ///   read or parsed, or names an unknown parameter.
    public static func load(from url: URL) throws -> TunedParameters {
        let decoded: TunedParameters
        do {
            decoded = try JSONDecoder().decode(TunedParameters.self, from: Data(contentsOf: url))
        } catch {
            throw RecommenderError.invalidOptions(model: "params", reason: "\(url.path): not a parameters file written by movierec tune (\(error.localizedDescription))")
        }
        _ = try HyperParameter.apply(decoded.parameters, to: TrainedModel.Options())
        return decoded
    }

    /// `options` with these parameters.
    public func applied(to options: TrainedModel.Options) throws -> TrainedModel.Options {
        try HyperParameter.apply(parameters, to: options)
    }
}
