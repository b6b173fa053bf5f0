import Foundation
import LinearAlgebra
import MovieLens

/// The next-movie recommender: a ``NextMovieNetwork`` trained on ``SequenceExamples`` of the
/// users' histories with mini-batch Adam.
///
/// ```swift
/// var config = SequenceRecommender.Configuration()
/// config.epochs = 10
/// let histories = UserHistories(ratings)
/// let model = try SequenceRecommender.train(histories: histories.histories, items: histories.items.count,
///                                           configuration: config, kernels: kernels)
/// let scores = try model.scores(histories: [someHistory], kernels: kernels)   // 1 × items log-probabilities
/// ```
public struct SequenceRecommender: Sendable {
    public struct Configuration: Sendable, Codable, Hashable {
        public var embedding = 100
        public var hidden = 128
        public var dropout: Float = 0.4
        /// Movies per window: `length − 1` inputs, which is also how much of a history a
        /// recommendation reads. 50, not the reference design's 20: with ``windowStep`` 19 every
        /// target is predicted from 30–49 movies before it (BENCHMARKS.md, "The next-movie task").
        public var length = 50
        public var mode: SequenceExamples.Mode = .windows
        /// Windows mode: movies between the ends of consecutive windows, each window predicting
        /// only those; nil means `length − 1` (windows overlapping by one movie), as format-2 model
        /// files may say. 19 gives as many examples, and so Adam steps, as windows of 20 every 19.
        /// See ``SequenceExamples``.
        public var windowStep: Int? = 19
        public var epochs = 10
        /// 64, not the reference design's 256: four times the Adam steps per epoch, which is what
        /// made the model beat popularity (BENCHMARKS.md); ``reference`` is the reference setup.
        public var batchSize = 64
        public var learningRate: Float = 3e-3
        public var clipNorm: Float = 5
        /// How the weights start; nil means `.glorot`, as format-2 model files may say. `.uniform`
        /// (PyTorch's defaults) by default; ``reference`` keeps the reference design's Glorot / orthogonal.
        public var initialisation: NextMovieNetwork.Initialisation? = .uniform
        public var seed: UInt64 = 0
        /// SASRec: self-attention blocks (nil: 2).
        public var blocks: Int?
        /// SASRec: attention heads per block, dividing ``embedding`` (nil: 2).
        public var heads: Int?
        /// Sampled softmax: movies drawn by popularity per batch as negatives shared by every
        /// target (nil or 0: the full softmax over every movie). See ``NegativeSampling``.
        public var negatives: Int?
        /// Sampled softmax: the batch's targets are negatives of every row too (nil: yes); false
        /// scores each row's own target and the shared draws only — cheaper, as the batch's
        /// targets no longer multiply the candidates (BENCHMARKS.md, "Sampled softmax and SASRec").
        public var inBatchNegatives: Bool?
        /// Sampled negatives: each block of this many targets (in batch order) gets its own draw
        /// of ``negatives`` (nil or 0: the whole batch shares one draw). More draws per batch show
        /// the model more negatives for the same cost per target.
        public var targetsPerDraw: Int?
        /// What the output layer minimises (nil: ``SequenceLoss/softmax``).
        public var loss: SequenceLoss?
        /// gBCE's calibration `t` in [0, 1] (nil: 0.75, gSASRec's). See ``SequenceLoss/gbce``.
        public var gbceCalibration: Float?
        /// Lazy Adam (nil: false, dense Adam as PyTorch's): rows of the item tables whose gradient
        /// is zero in a batch keep their weights and moments (``AdamOptimizer/update(_:gradient:threads:lazyRows:)``).
        /// The tables are the item embeddings (SASRec's shared input/output table; the LSTM's input
        /// table and output biases — its output weights are stored by hidden unit and stay dense).
        public var lazyAdam: Bool?
        /// How the learning rate moves over training (nil: constant).
        public var schedule: LearningRateSchedule?
        /// Users whose last movie is held out of training to score each epoch (nil or 0: none).
        public var validationUsers: Int?
        /// Early stopping: stop after this many epochs without a better validation NDCG@10 and keep
        /// the best epoch's weights (nil: train every epoch). Needs ``validationUsers``.
        public var patience: Int?
        public init() {}

        /// The reference design: each user's last 20 movies (19 inputs, 1 target), batch 256,
        /// learning rate 1e-3, 10 epochs, Glorot / orthogonal weights — the setup the PyTorch twin is compared on.
        public static var reference: Configuration {
            var c = Configuration()
            c.mode = .last
            c.length = 20
            c.windowStep = nil
            c.batchSize = 256
            c.learningRate = 1e-3
            c.initialisation = .glorot
            return c
        }

        /// SASRec's setup (``SelfAttentionRecommender``): model size 64, 2 blocks of 2 heads,
        /// windows of 200 movies overlapping by one (every position predicts the next movie),
        /// dropout 0.2 — Kang & McAuley's ML-1M architecture, with the cross-entropy loss of
        /// Klenitskiy & Vasilev (RecSys 2023) — trained with batches of 32 at learning rate 2e-3
        /// for 40 epochs: a window of 200 holds ~200 targets, so an epoch has few batches, and
        /// self-attention needs many Adam steps (the original trains 200 epochs; BENCHMARKS.md,
        /// "The next-movie task"). Sampled softmax without in-batch negatives, 256 negatives drawn
        /// afresh for every 64 targets: within 4 % of 1,000 negatives shared by the batch on
        /// ml-latest-small, and a `20m` epoch ~20 % faster (BENCHMARKS.md, "Sampled softmax and SASRec").
        public static var selfAttention: Configuration {
            var c = Configuration()
            c.embedding = 64
            c.blocks = 2
            c.heads = 2
            c.length = 200
            c.windowStep = nil
            c.dropout = 0.2
            c.batchSize = 32
            c.learningRate = 2e-3
            c.epochs = 40
            c.negatives = 256
            c.targetsPerDraw = 64
            c.inBatchNegatives = false
            return c
        }

        /// Targets per draw of negatives, nil for one draw per batch.
        var drawBlock: Int? { (targetsPerDraw ?? 0) > 0 ? targetsPerDraw : nil }

        /// How examples are cut, for reports: "windows of 50 every 19" or "last of 20".
        public var examplesLabel: String {
            switch mode {
            case .last: "last of \(length)"
            case .windows: "windows of \(length) every \(SequenceExamples.windowStep(windowStep, length: length))"
            }
        }

        /// The output layer, for reports: "full softmax", "sampled softmax, 1000 negatives" (and
        /// " (no in-batch negatives)" without them), "gBCE, 256 uniform negatives, t = 0.75".
        public var softmaxLabel: String {
            let every = drawBlock.map { ", drawn per \($0) targets" } ?? ""
            if loss == .gbce {
                return "gBCE, \(negatives ?? 0) uniform negatives\(every), t = \(gbceCalibration ?? SequenceLoss.defaultCalibration)"
            }
            return (negatives ?? 0) > 0 ? "sampled softmax, \(negatives ?? 0) negatives\(every)\(inBatchNegatives ?? true ? "" : " (no in-batch negatives)")" : "full softmax"
        }

        /// Checks sizes, rates and the early-stopping settings; errors name `model` (the registry
        /// name of the network these settings are for).
        /// - Throws: ``RecommenderError/invalidOptions(model:reason:)``.
        public func validate(model: String = LSTMRecommender.name) throws {
            guard embedding > 0, hidden > 0, length >= 2, epochs >= 0, batchSize > 0, learningRate > 0, learningRate.isFinite,
                  (0..<1).contains(dropout), clipNorm >= 0, clipNorm.isFinite, (windowStep ?? 1) > 0 else {
                throw RecommenderError.invalidOptions(model: model, reason: "sizes, epochs and window step must be positive, length ≥ 2, dropout in [0, 1)")
            }
            guard (blocks ?? 1) > 0, (heads ?? 1) > 0, embedding % (heads ?? 1) == 0 else {
                throw RecommenderError.invalidOptions(model: model, reason: "blocks and heads must be positive, the embedding size a multiple of the heads")
            }
            guard (negatives ?? 0) >= 0 else {
                throw RecommenderError.invalidOptions(model: model, reason: "negatives must not be negative (0: full softmax)")
            }
            guard (targetsPerDraw ?? 0) >= 0, (targetsPerDraw ?? 0) == 0 || (negatives ?? 0) > 0 else {
                throw RecommenderError.invalidOptions(model: model, reason: "targets per draw (--targets-per-draw) must not be negative and needs --negatives N")
            }
            guard inBatchNegatives == nil || (negatives ?? 0) > 0 else {
                throw RecommenderError.invalidOptions(model: model, reason: "in-batch negatives (--[no-]in-batch-negatives) are a setting of the sampled softmax: give --negatives N")
            }
            if loss == .gbce {
                guard (negatives ?? 0) > 0, inBatchNegatives != true else {
                    throw RecommenderError.invalidOptions(model: model, reason: "gBCE (--loss gbce) scores each target against its own sampled negatives: give --negatives N, without in-batch negatives")
                }
            }
            if let t = gbceCalibration {
                guard loss == .gbce, (0...1).contains(t) else {
                    throw RecommenderError.invalidOptions(model: model, reason: "the gBCE calibration (--gbce-t) must be in [0, 1] and needs --loss gbce")
                }
            }
            guard (validationUsers ?? 0) >= 0, (patience ?? 1) > 0 else {
                throw RecommenderError.invalidOptions(model: model, reason: "validation users must not be negative, patience must be positive")
            }
            if patience != nil && (validationUsers ?? 0) == 0 {
                throw RecommenderError.invalidOptions(model: model, reason: "early stopping (patience) needs validation users")
            }
        }
    }

    /// What a sequence model's output layer minimises for each target.
    public enum SequenceLoss: String, Sendable, Codable, Hashable, CaseIterable {
        /// Cross-entropy of the softmax over every movie, or over the sampled candidates with the
        /// log-Q correction (``NegativeSampling``).
        case softmax
        /// gSASRec's generalised binary cross-entropy (Petrov & Macdonald, RecSys 2023): with `N`
        /// negatives drawn uniformly per batch and shared by every target, a target `t` costs
        ///
        ///     −β · log σ(s_t) − Σ_{j ∈ negatives, j ≠ t} log(1 − σ(s_j))
        ///
        /// with `β = α (t_c (1 − 1/α) + 1/α)`, `α = N / (V − 1)` the sampling rate and `t_c` the
        /// calibration (``Configuration/gbceCalibration``): `t_c = 0` is plain BCE, `t_c = 1` makes
        /// the sigmoid of a score estimate the probability under the full softmax. Cheap like any
        /// sampled loss (`N + 1` dot products per target), without the overconfidence BCE learns
        /// from few negatives.
        case gbce

        /// gSASRec's calibration `t`, the default.
        public static let defaultCalibration: Float = 0.75

        /// gBCE's `β` for `negatives` uniform negatives over `items` movies and calibration `t`.
        public static func gbceBeta(negatives: Int, items: Int, calibration t: Float) -> Float {
            let alpha = min(1, Double(negatives) / Double(max(1, items - 1)))
            guard alpha > 0 else { return 1 }
            return Float(alpha * (Double(t) * (1 - 1 / alpha) + 1 / alpha))
        }
    }

    /// The learning rate over the course of training.
    public enum LearningRateSchedule: String, Sendable, Codable, Hashable, CaseIterable {
        /// The configured rate at every step.
        case constant
        /// Cosine decay from the configured rate to 0 over all steps of all epochs.
        case cosine

        /// The rate at `step` of `total` steps for a base rate `rate`.
        public func rate(_ rate: Float, step: Int, total: Int) -> Float {
            switch self {
            case .constant: rate
            case .cosine: rate * Float(0.5 * (1 + cos(Double.pi * Double(step) / Double(max(1, total)))))
            }
        }
    }

    /// One epoch's report.
    public struct Epoch: Sendable, Codable {
        public var index: Int
        public var seconds: Double
        /// Mean cross-entropy per target.
        public var loss: Double
        public var examples: Int
        public var targets: Int
        /// The held-out movies' scores after this epoch (nil without validation).
        public var validation: ValidationScore?
    }

    /// Held-out next movies that training never sees: each chosen user's last movie, to be
    /// predicted from the movies before it.
    public struct Validation: Sendable {
        public var histories: [[Int32]]
        public var targets: [Int32]

        /// Splits the last movie off a seeded sample of `users` histories (among those with at
        /// least 3 movies). Returns every history — the chosen ones without their last movie — for
        /// training, and the held-out part.
        public static func holdOut(_ histories: [[Int32]], users: Int, seed: UInt64) -> (training: [[Int32]], validation: Validation) {
            var eligible = histories.indices.filter { histories[$0].count >= 3 }
            var g = SeededGenerator(seed: seed, stream: 3)
            let n = min(max(0, users), eligible.count)
            for i in 0..<n { eligible.swapAt(i, i + Int(g.next() % UInt64(eligible.count - i))) }
            var training = histories
            var validation = Validation(histories: [], targets: [])
            for u in eligible.prefix(n).sorted() {
                guard let last = training[u].popLast() else { continue }
                validation.histories.append(training[u])
                validation.targets.append(last)
            }
            return (training, validation)
        }
    }

    /// How well the model predicts held-out next movies: mean cross-entropy of the target under
    /// the full softmax, and its HR@10 / NDCG@10 when ranked against every movie outside the
    /// history (ties go to the lower index), as `movierec evaluate --split loo` ranks.
    public struct ValidationScore: Sendable, Codable, Hashable {
        public var loss: Double
        public var hitRate: Double
        public var ndcg: Double
    }

    /// Scores ``Validation`` in batches.
    public func validate(_ v: Validation, kernels: any Kernels, batchSize: Int = 512) throws -> ValidationScore {
        try SequenceTraining.validate(network, steps: configuration.length - 1, v, kernels: kernels, batchSize: batchSize)
    }

    public let configuration: Configuration
    public internal(set) var network: NextMovieNetwork

    public init(configuration: Configuration, network: NextMovieNetwork) {
        self.configuration = configuration
        self.network = network
    }

    /// A model over `items` movies with the seeded initial weights `configuration` asks for
    /// (`.glorot` when ``Configuration/initialisation`` is nil).
    public init(untrained configuration: Configuration, items: Int, kernels: any Kernels) throws {
        self.configuration = configuration
        network = try NextMovieNetwork(items: items, embedding: configuration.embedding, hidden: configuration.hidden,
                                       seed: configuration.seed, initialisation: configuration.initialisation ?? .glorot,
                                       kernels: kernels)
    }

    /// Trains on `histories` (item indices, oldest first) over `items` movies. `progress(done,
    /// total, meanLoss)` hears each batch; `epochDone` each epoch.
    public static func train(histories: [[Int32]], items: Int, configuration c: Configuration, kernels: any Kernels,
                             progress: (_ batch: Int, _ batches: Int, _ loss: Double) -> Void = { _, _, _ in },
                             epochDone: (Epoch) -> Void = { _ in }) throws -> SequenceRecommender {
        try c.validate()
        var model = try SequenceRecommender(untrained: c, items: items, kernels: kernels)
        let (examples, validation) = trainingSet(histories, configuration: c)
        try model.fit(examples, validation: validation, kernels: kernels, progress: progress, epochDone: epochDone)
        return model
    }

    /// The examples to train on and the validation set (nil without ``Configuration/validationUsers``)
    /// that `configuration` asks for from `histories`.
    public static func trainingSet(_ histories: [[Int32]], configuration c: Configuration) -> (SequenceExamples, Validation?) {
        let (training, validation) = Validation.holdOut(histories, users: c.validationUsers ?? 0, seed: c.seed)
        return (SequenceExamples(histories: training, length: c.length, mode: c.mode, step: c.windowStep), validation.targets.isEmpty ? nil : validation)
    }

    /// Runs `configuration.epochs` epochs of shuffled mini-batches over `examples`, scoring
    /// `validation` after each epoch when given; with `configuration.patience`, stops once that
    /// many epochs in a row bring no better validation NDCG@10 and keeps the best epoch's weights.
    public mutating func fit(_ examples: SequenceExamples, validation: Validation? = nil, kernels: any Kernels,
                             progress: (_ batch: Int, _ batches: Int, _ loss: Double) -> Void = { _, _, _ in },
                             epochDone: (Epoch) -> Void = { _ in }) throws {
        try SequenceTraining.fit(&network, examples, validation: validation, configuration: configuration, kernels: kernels,
                                 progress: progress, epochDone: epochDone)
    }

    /// Log-probabilities of every movie coming next after each history (queries × items), in
    /// batches of `batchSize`; histories use their last `length − 1` movies.
    public func scores(histories: [[Int32]], kernels: any Kernels, batchSize: Int = 512) throws -> Matrix {
        try SequenceTraining.scores(network, steps: configuration.length - 1, histories: histories, kernels: kernels, batchSize: batchSize)
    }
}

/// A network ``SequenceTraining`` can fit: the LSTM and SASRec.
protocol SequenceNetwork: Sendable {
    associatedtype Workspace: SequenceWorkspace
    var items: Int { get }
    var parameters: [Float] { get set }
    /// Buffers for batches of up to `batch` examples of `steps` positions.
    func makeWorkspace(batch: Int, steps: Int) -> Workspace
    /// How many floats ``makeWorkspace(batch:steps:)`` allocates.
    func workspaceFloats(batch: Int, steps: Int) -> Int
    /// Whether leading padding changes no output, so a batch may be cut to its longest window
    /// (``lossAndGradient(tokens:targets:batch:workspace:gradient:dropout:generator:kernels:)``
    /// then gets fewer steps per example than the workspace holds).
    var ignoresLeadingPadding: Bool { get }
    /// The summed loss of one batch and its number of targets; the mean's gradient into `gradient`.
    func lossAndGradient(tokens: UnsafeBufferPointer<Int32>, targets: UnsafeBufferPointer<Int32>, batch: Int,
                         workspace: Workspace, gradient: inout [Float], dropout: Float,
                         generator: inout SeededGenerator, kernels: any Kernels) throws -> (loss: Double, count: Int)
    /// Log-probabilities of every movie after each of `batch` left-padded inputs of `steps` tokens.
    func predict(_ tokens: [Int32], batch: Int, steps: Int, kernels: any Kernels) throws -> Matrix
    /// The per-movie rows of ``parameters`` a batch mostly leaves alone, for lazy Adam.
    var itemTables: [AdamOptimizer.RowTable] { get }
}

extension NextMovieNetwork: SequenceNetwork {
    /// The recurrence runs through the padding, so its state after it is not the initial one.
    var ignoresLeadingPadding: Bool { false }
    var itemTables: [AdamOptimizer.RowTable] {
        let l = layout
        return [.init(range: l.embedding, width: embedding), .init(range: l.bo, width: 1)]
    }
    func makeWorkspace(batch: Int, steps: Int) -> Workspace { Workspace(network: self, batch: batch, steps: steps) }
    func workspaceFloats(batch: Int, steps: Int) -> Int {
        let n = batch * steps
        return n * (2 * embedding + 12 * hidden) + 5 * batch * hidden + min(n, 1024) * items
    }
}

extension NextMovieNetwork.Workspace: SequenceWorkspace {}

extension SelfAttentionNetwork: SequenceNetwork {
    /// Padding keys are masked and padding queries output zero.
    var ignoresLeadingPadding: Bool { true }
    var itemTables: [AdamOptimizer.RowTable] { [.init(range: layout.embedding, width: dimension)] }
    func makeWorkspace(batch: Int, steps: Int) -> Workspace { Workspace(network: self, batch: batch, steps: steps) }
    func workspaceFloats(batch: Int, steps: Int) -> Int {
        let n = batch * steps, d = dimension
        return n * (blocks * (13 * d + 2 + heads) + 9 * d + 1) + min(n, 1024) * items
    }
}

/// The training loop and validation shared by the sequence models.
enum SequenceTraining {
    /// Log-probabilities of every movie coming next after each history (queries × items), in
    /// batches; histories use their last `steps` movies.
    static func scores<N: SequenceNetwork>(_ network: N, steps: Int, histories: [[Int32]], kernels: any Kernels,
                                           batchSize: Int = 512) throws -> Matrix {
        var out = Matrix(rows: histories.count, cols: network.items)
        var first = 0
        while first < histories.count {
            let last = min(histories.count, first + batchSize)
            let tokens = histories[first..<last].flatMap { SequenceExamples.inputTokens($0, steps: steps) }
            let block = try network.predict(tokens, batch: last - first, steps: steps, kernels: kernels)
            out.withMutableView { o in
                block.withView { b in o.rows(first..<last).assign(b) }
            }
            first = last
        }
        return out
    }

    /// Trains the network `make` builds on every user's history of `data`, reporting each batch
    /// and epoch; cuts `c.length` to the longest history first. Returns the network and each
    /// user's last `length − 1` movies.
    static func fit<N: SequenceNetwork>(_ data: TrainingSet, configuration c: inout SequenceRecommender.Configuration, name: String,
                                        kernels: any Kernels, progress: (TrainingEvent) -> Void,
                                        make: (SequenceRecommender.Configuration) throws -> N) throws -> (N, [[Int32]]) {
        let histories = data.histories()
        // Windows longer than the longest history hold only padding: cut them to what the data needs.
        let longest = max(2, histories.map(\.count).max() ?? 2)
        if c.length > longest {
            progress(.line("sequence length \(c.length) > the longest history (\(longest) movies): using \(longest)"))
            c.length = longest
            c.windowStep = c.windowStep.map { min($0, longest - 1) }
        }
        let (examples, validation) = SequenceRecommender.trainingSet(histories, configuration: c)
        progress(.line("\(name) sequences: \(examples.count) examples (\(c.examplesLabel)), \(examples.targetCount) targets; \(c.softmaxLabel) over \(data.items.count) movies"
                       + (validation.map { "; \($0.targets.count) users' last movies held out for validation" } ?? "")))
        var network = try make(c)
        var epoch = 1
        let epochs = c.epochs
        try fit(&network, examples, validation: validation, configuration: c, kernels: kernels, progress: { done, total, loss in
            progress(.batch(epoch: epoch, done: done, total: total, loss: loss))
        }, epochDone: { e in
            epoch = e.index + 1
            progress(.line("epoch \(e.index)/\(epochs): loss \(String(format: "%.4f", e.loss)), \(String(format: "%.2f", e.seconds)) s, \(String(format: "%.0f", Double(e.examples) / max(e.seconds, 1e-9))) sequences/s"
                           + (e.validation.map { String(format: "; validation loss %.4f, HR@10 %.4f, NDCG@10 %.4f", $0.loss, $0.hitRate, $0.ndcg) } ?? "")))
            progress(.epoch(e))
        })
        return (network, histories.map { Array($0.suffix(c.length - 1)) })
    }

    /// Epochs of shuffled mini-batches of `examples` with Adam, as ``SequenceRecommender/fit(_:validation:kernels:progress:epochDone:)`` describes.
    static func fit<N: SequenceNetwork>(_ network: inout N, _ examples: SequenceExamples, validation: SequenceRecommender.Validation?,
                                        configuration c: SequenceRecommender.Configuration, kernels: any Kernels,
                                        progress: (_ batch: Int, _ batches: Int, _ loss: Double) -> Void,
                                        epochDone: (SequenceRecommender.Epoch) -> Void) throws {
        let steps = examples.steps
        guard examples.count > 0 else { return }
        let batch = min(c.batchSize, examples.count)
        // Activations grow with batch × steps: refuse sizes that cannot fit rather than fail in malloc.
        let (floats, overflow) = network.workspaceFloats(batch: batch, steps: steps).multipliedReportingOverflow(by: 4)
        let budget = ProcessInfo.processInfo.physicalMemory / 2
        if overflow || UInt64(floats) > budget {
            throw RecommenderError.invalidOptions(model: "sequence", reason: "a batch of \(batch) windows of \(steps + 1) movies needs "
                + (overflow ? "more memory than can be counted" : String(format: "%.1f GB", Double(floats) / 1e9))
                + " of activations, over half this machine's \(String(format: "%.1f GB", Double(budget * 2) / 1e9)): lower the batch size or the sequence length")
        }
        let workspace = network.makeWorkspace(batch: batch, steps: steps)
        if let n = c.negatives, n > 0 {
            if c.loss == .gbce {
                // gSASRec's negatives: uniform draws, no log-Q correction, β from the sampling rate.
                let beta = SequenceRecommender.SequenceLoss.gbceBeta(negatives: n, items: network.items, calibration: c.gbceCalibration ?? SequenceRecommender.SequenceLoss.defaultCalibration)
                workspace.candidates = OutputCandidates(sampling: NegativeSampling(negatives: n, items: network.items, targets: []),
                                                        inBatch: false, seed: c.seed, gbceBeta: beta, rowsPerDraw: c.drawBlock)
            } else {
                workspace.candidates = OutputCandidates(sampling: NegativeSampling(negatives: n, items: network.items, targets: examples.targets),
                                                        inBatch: c.inBatchNegatives ?? true, seed: c.seed, rowsPerDraw: c.drawBlock)
            }
        }
        var adam = AdamOptimizer(parameterCount: network.parameters.count, learningRate: c.learningRate, clipNorm: c.clipNorm)
        let lazyRows = c.lazyAdam == true ? network.itemTables : []
        var gradient = [Float](repeating: 0, count: network.parameters.count)
        var shuffle = SeededGenerator(seed: c.seed, stream: 1)
        var dropout = SeededGenerator(seed: c.seed, stream: 2)
        var tokens = [Int32](repeating: 0, count: batch * steps), targets = [Int32](repeating: -1, count: batch * steps)
        let batches = (examples.count + batch - 1) / batch
        // Batches may be cut to their longest window when leading padding is inert.
        let lengths = network.ignoresLeadingPadding ? examples.inputLengths : nil
        var best: (ndcg: Double, parameters: [Float])?
        var stale = 0
        defer { if let best, c.patience != nil { network.parameters = best.parameters } }
        for epoch in 0..<c.epochs {
            let t0 = DispatchTime.now().uptimeNanoseconds
            var order = Array(0..<examples.count)
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(shuffle.next() % UInt64(i + 1))) }
            var batchOrder = Array(0..<batches)
            if let lengths { bucket(&order, &batchOrder, lengths: lengths, batch: batch, generator: &shuffle) }
            var loss = 0.0, targetCount = 0
            for k in 0..<batches {
                let first = batchOrder[k] * batch
                let members = order[first..<min(order.count, first + batch)]
                // With inert leading padding, the batch keeps only the positions its longest window fills.
                let width = lengths.map { l in max(1, members.map { l[$0] }.max() ?? steps) } ?? steps
                for (slot, e) in members.enumerated() {
                    for t in 0..<width {
                        tokens[slot * width + t] = examples.tokens[e * steps + steps - width + t]
                        targets[slot * width + t] = examples.targets[e * steps + steps - width + t]
                    }
                }
                let (l, n) = try tokens.withUnsafeBufferPointer { tb in
                    try targets.withUnsafeBufferPointer { gb in
                        try network.lossAndGradient(tokens: UnsafeBufferPointer(rebasing: tb[0..<(members.count * width)]),
                                                    targets: UnsafeBufferPointer(rebasing: gb[0..<(members.count * width)]),
                                                    batch: members.count, workspace: workspace, gradient: &gradient,
                                                    dropout: c.dropout, generator: &dropout, kernels: kernels)
                    }
                }
                guard l.isFinite else {
                    throw LinearAlgebraError.nonFinite(operation: "SequenceRecommender.fit (epoch \(epoch + 1), batch \(k + 1))")
                }
                adam.learningRate = (c.schedule ?? .constant).rate(c.learningRate, step: epoch * batches + k, total: c.epochs * batches)
                if n > 0 { adam.update(&network.parameters, gradient: gradient, threads: kernels.threads, lazyRows: lazyRows) }
                loss += l
                targetCount += n
                progress(k + 1, batches, loss / Double(max(1, targetCount)))
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            let score = try validation.map { try validate(network, steps: steps, $0, kernels: kernels) }
            epochDone(SequenceRecommender.Epoch(index: epoch + 1, seconds: seconds, loss: loss / Double(max(1, targetCount)),
                                                examples: examples.count, targets: targetCount, validation: score))
            guard let patience = c.patience, let score else { continue }
            if score.ndcg > best?.ndcg ?? -1 {
                best = (score.ndcg, network.parameters)
                stale = 0
            } else {
                stale += 1
                if stale >= patience { break }
            }
        }
    }

    /// Groups examples of similar length into batches, so batches cut to their longest window
    /// carry little padding: each run of 64 batches' worth of the shuffled `order` is sorted by
    /// length (longest first, ties in shuffled order), and `batchOrder` — which batch runs k-th —
    /// is shuffled, so lengths still come in random order.
    static func bucket(_ order: inout [Int], _ batchOrder: inout [Int], lengths: [Int], batch: Int, generator: inout SeededGenerator) {
        let pool = 64 * batch
        for start in stride(from: 0, to: order.count, by: pool) {
            let range = start..<min(order.count, start + pool)
            let sorted = order[range].enumerated().sorted { a, b in
                lengths[a.element] != lengths[b.element] ? lengths[a.element] > lengths[b.element] : a.offset < b.offset
            }
            order.replaceSubrange(range, with: sorted.map(\.element))
        }
        for i in stride(from: batchOrder.count - 1, to: 0, by: -1) { batchOrder.swapAt(i, Int(generator.next() % UInt64(i + 1))) }
    }

    /// Scores held-out next movies against every movie outside each history, in batches.
    static func validate<N: SequenceNetwork>(_ network: N, steps: Int, _ v: SequenceRecommender.Validation, kernels: any Kernels,
                                             batchSize: Int = 512) throws -> SequenceRecommender.ValidationScore {
        guard !v.targets.isEmpty else { return SequenceRecommender.ValidationScore(loss: 0, hitRate: 0, ndcg: 0) }
        var loss = 0.0, hits = 0.0, gain = 0.0
        var first = 0
        while first < v.targets.count {
            let last = min(v.targets.count, first + batchSize)
            let tokens = v.histories[first..<last].flatMap { SequenceExamples.inputTokens($0, steps: steps) }
            let block = try network.predict(tokens, batch: last - first, steps: steps, kernels: kernels)
            for q in first..<last {
                let target = Int(v.targets[q])
                let seen = Set(v.histories[q].map(Int.init))
                let rank: Int = block.withView { b in
                    let row = b.base + (q - first) * b.stride
                    let t = row[target]
                    var above = 0
                    for i in 0..<b.cols where i != target && !seen.contains(i) && (row[i] > t || (row[i] == t && i < target)) {
                        above += 1
                    }
                    loss -= Double(t)
                    return above
                }
                if rank < 10 { hits += 1; gain += 1 / log2(Double(rank) + 2) }
            }
            first = last
        }
        let n = Double(v.targets.count)
        return SequenceRecommender.ValidationScore(loss: loss / n, hitRate: hits / n, ndcg: gain / n)
    }
}

/// Zero-initialised float buffers that live as long as their owner (a sequence network's
/// workspace) and are freed with it.
final class FloatBuffers {
    private var owned = [UnsafeMutablePointer<Float>]()

    /// A new buffer of `count` zeros (at least one).
    func zeroed(_ count: Int) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, count))
        p.initialize(repeating: 0, count: max(1, count))
        owned.append(p)
        return p
    }

    deinit { owned.forEach { $0.deallocate() } }
}
