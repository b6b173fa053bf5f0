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
        /// Movies per window: `length − 1` inputs.
        public var length = 20
        public var mode: SequenceExamples.Mode = .windows
        public var epochs = 10
        /// 64, not the reference design's 256: four times the Adam steps per epoch, which is what
        /// made the model beat popularity (README, "LSTM"); `--batch-size 256 --learning-rate 0.001
        /// --sequence-mode last` is the reference setup.
        public var batchSize = 64
        public var learningRate: Float = 3e-3
        public var clipNorm: Float = 5
        public var seed: UInt64 = 0
        public init() {}

        func validate() throws {
            guard embedding > 0, hidden > 0, length >= 2, epochs >= 0, batchSize > 0, learningRate > 0,
                  (0..<1).contains(dropout), clipNorm >= 0 else {
                throw LinearAlgebraError.invalidArgument(operation: "SequenceRecommender",
                                                         detail: "sizes and epochs must be positive, length ≥ 2, dropout in [0, 1)")
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
    }

    public let configuration: Configuration
    public internal(set) var network: NextMovieNetwork

    public init(configuration: Configuration, network: NextMovieNetwork) {
        self.configuration = configuration
        self.network = network
    }

    /// Trains on `histories` (item indices, oldest first) over `items` movies. `progress(done,
    /// total, meanLoss)` hears each batch; `epochDone` each epoch.
    public static func train(histories: [[Int32]], items: Int, configuration c: Configuration, kernels: any Kernels,
                             progress: (_ batch: Int, _ batches: Int, _ loss: Double) -> Void = { _, _, _ in },
                             epochDone: (Epoch) -> Void = { _ in }) throws -> SequenceRecommender {
        try c.validate()
        var model = SequenceRecommender(configuration: c,
                                        network: try NextMovieNetwork(items: items, embedding: c.embedding, hidden: c.hidden,
                                                                      seed: c.seed, kernels: kernels))
        let examples = SequenceExamples(histories: histories, length: c.length, mode: c.mode)
        try model.fit(examples, kernels: kernels, progress: progress, epochDone: epochDone)
        return model
    }

    /// Runs `configuration.epochs` epochs of shuffled mini-batches over `examples`.
    public mutating func fit(_ examples: SequenceExamples, kernels: any Kernels,
                             progress: (_ batch: Int, _ batches: Int, _ loss: Double) -> Void = { _, _, _ in },
                             epochDone: (Epoch) -> Void = { _ in }) throws {
        let c = configuration, steps = examples.steps
        guard examples.count > 0 else { return }
        let batch = min(c.batchSize, examples.count)
        let workspace = NextMovieNetwork.Workspace(network: network, batch: batch, steps: steps)
        var adam = AdamOptimizer(parameterCount: network.parameters.count, learningRate: c.learningRate, clipNorm: c.clipNorm)
        var gradient = [Float](repeating: 0, count: network.parameters.count)
        var shuffle = SeededGenerator(seed: c.seed, stream: 1)
        var dropout = SeededGenerator(seed: c.seed, stream: 2)
        var tokens = [Int32](repeating: 0, count: batch * steps), targets = [Int32](repeating: -1, count: batch * steps)
        let batches = (examples.count + batch - 1) / batch
        for epoch in 0..<c.epochs {
            let t0 = DispatchTime.now().uptimeNanoseconds
            var order = Array(0..<examples.count)
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(shuffle.next() % UInt64(i + 1))) }
            var loss = 0.0, targetCount = 0
            for k in 0..<batches {
                let members = order[(k * batch)..<min(order.count, (k + 1) * batch)]
                for (slot, e) in members.enumerated() {
                    for t in 0..<steps {
                        tokens[slot * steps + t] = examples.tokens[e * steps + t]
                        targets[slot * steps + t] = examples.targets[e * steps + t]
                    }
                }
                let (l, n) = try tokens.withUnsafeBufferPointer { tb in
                    try targets.withUnsafeBufferPointer { gb in
                        try network.lossAndGradient(tokens: UnsafeBufferPointer(rebasing: tb[0..<(members.count * steps)]),
                                                    targets: UnsafeBufferPointer(rebasing: gb[0..<(members.count * steps)]),
                                                    batch: members.count, workspace: workspace, gradient: &gradient,
                                                    dropout: c.dropout, generator: &dropout, kernels: kernels)
                    }
                }
                guard l.isFinite else {
                    throw LinearAlgebraError.nonFinite(operation: "SequenceRecommender.fit (epoch \(epoch + 1), batch \(k + 1))")
                }
                if n > 0 { adam.update(&network.parameters, gradient: gradient, threads: kernels.threads) }
                loss += l
                targetCount += n
                progress(k + 1, batches, loss / Double(max(1, targetCount)))
            }
            epochDone(Epoch(index: epoch + 1, seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9,
                            loss: loss / Double(max(1, targetCount)), examples: examples.count, targets: targetCount))
        }
    }

    /// Log-probabilities of every movie coming next after each history (queries × items), in
    /// batches of `batchSize`; histories use their last `length − 1` movies.
    public func scores(histories: [[Int32]], kernels: any Kernels, batchSize: Int = 512) throws -> Matrix {
        let steps = configuration.length - 1
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
}
