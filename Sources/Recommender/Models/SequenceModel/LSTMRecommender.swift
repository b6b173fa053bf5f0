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
        try validate(options)
        var c = options.sequence
        let (network, recent) = try SequenceTraining.fit(data, configuration: &c, name: "LSTM", kernels: kernels, progress: progress) { c in
            try NextMovieNetwork(items: data.items.count, embedding: c.embedding, hidden: c.hidden, seed: c.seed,
                                 initialisation: c.initialisation ?? .glorot, kernels: kernels)
        }
        return LSTMRecommender(sequence: SequenceRecommender(configuration: c, network: network), recent: recent)
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
        return "LSTM (\(c.examplesLabel), \(c.epochs) epochs\((c.negatives ?? 0) > 0 ? ", \(c.softmaxLabel)" : "")\(c.lazyAdam == true ? ", lazy Adam" : "")\(c.schedule == .cosine ? ", cosine lr" : "")\((c.initialisation ?? .glorot) == .glorot ? ", Glorot init" : ""))"
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
