import Foundation
import LinearAlgebra
import MovieLens

/// The LSTM next-movie model as a recommender: a ``SequenceRecommender`` trained on every user's
/// history in time order, and each user's last `length − 1` movies — the input of their
/// next-movie prediction.
public struct LSTMRecommender: RecommenderModel {
    public static let name = "rnn"

    public var sequence: SequenceRecommender
    /// Each user's last `length − 1` movies (item indices, oldest first).
    public var recent: [[Int32]]

    public init(sequence: SequenceRecommender, recent: [[Int32]]) {
        self.sequence = sequence
        self.recent = recent
    }

    /// Trains with `options.sequence`, reporting each batch and epoch.
    /// - Throws: ``RecommenderError/invalidOptions(model:reason:)`` for an invalid configuration.
    public static func fit(_ data: TrainingSet, options: TrainedModel.Options, kernels: any Kernels,
                           progress: (TrainingEvent) -> Void) throws -> LSTMRecommender {
        var c = options.sequence
        try validate(options)
        let histories = data.histories()
        // Windows longer than the longest history hold only padding: cut them to what the data needs.
        let longest = max(2, histories.map(\.count).max() ?? 2)
        if c.length > longest {
            progress(.line("sequence length \(c.length) > the longest history (\(longest) movies): using \(longest)"))
            c.length = longest
            c.windowStep = c.windowStep.map { min($0, longest - 1) }
        }
        let (examples, validation) = SequenceRecommender.trainingSet(histories, configuration: c)
        progress(.line("sequences: \(examples.count) examples (\(c.examplesLabel)), \(examples.targetCount) targets; \(c.softmaxLabel) over \(data.items.count) movies"
                       + (validation.map { "; \($0.targets.count) users' last movies held out for validation" } ?? "")))
        var net = try SequenceRecommender(untrained: c, items: data.items.count, kernels: kernels)
        var epoch = 1
        try net.fit(examples, validation: validation, kernels: kernels, progress: { done, total, loss in
            progress(.batch(epoch: epoch, done: done, total: total, loss: loss))
        }, epochDone: { e in
            epoch = e.index + 1
            progress(.line("epoch \(e.index)/\(c.epochs): loss \(String(format: "%.4f", e.loss)), \(String(format: "%.2f", e.seconds)) s, \(String(format: "%.0f", Double(e.examples) / max(e.seconds, 1e-9))) sequences/s"
                           + (e.validation.map { String(format: "; validation loss %.4f, HR@10 %.4f, NDCG@10 %.4f", $0.loss, $0.hitRate, $0.ndcg) } ?? "")))
            progress(.epoch(e))
        })
        return LSTMRecommender(sequence: net, recent: histories.map { Array($0.suffix(c.length - 1)) })
    }

    public static func validate(_ options: TrainedModel.Options) throws { try options.sequence.validate() }

    public static func decode(from archive: ModelArchive) throws -> LSTMRecommender {
        // Format 3 stores the configuration trained with (the options' length may have been cut to
        // the data); format 2 has only the options.
        let c = archive.contains("sequence.configuration")
            ? try archive.json("sequence.configuration", as: SequenceRecommender.Configuration.self) : archive.options.sequence
        try c.validate()
        let network: NextMovieNetwork
        do {
            network = try NextMovieNetwork(items: archive.items, embedding: c.embedding, hidden: c.hidden,
                                           parameters: try archive.floats("network"))
        } catch is LinearAlgebraError {
            throw archive.bad("network", "size does not match the header")
        }
        return LSTMRecommender(sequence: SequenceRecommender(configuration: c, network: network),
                               recent: try archive.rows("recent", count: archive.users))
    }

    public func encode(into archive: inout ModelArchive) throws {
        try archive.set("sequence.configuration", json: sequence.configuration)
        archive.set("network", floats: sequence.network.parameters)
        archive.set("recent", rows: recent)
    }

    public var label: String {
        let c = sequence.configuration
        return "LSTM (\(c.examplesLabel), \(c.epochs) epochs\((c.negatives ?? 0) > 0 ? ", \(c.softmaxLabel)" : "")\(c.schedule == .cosine ? ", cosine lr" : "")\((c.initialisation ?? .glorot) == .glorot ? ", Glorot init" : ""))"
    }

    /// Log-probabilities of the next movie after each query's history and watched movie.
    public func score(_ block: ScoringBlock, into scores: MutableMatrixView, parts: ScoreParts?, kernels: any Kernels) throws {
        let s = try sequence.scores(histories: block.queries.map(\.sequence), kernels: kernels)
        s.withView { scores.assign($0) }
    }

    /// What the network predicts right after this one movie.
    public func similarItems(to item: Int, kernels: any Kernels) throws -> SimilarScores {
        SimilarScores(scores: Array(try sequence.scores(histories: [[Int32(item)]], kernels: kernels).row(0)))
    }

    public func history(ofUser u: Int) -> [Int32] { u < recent.count ? recent[u] : [] }
}
