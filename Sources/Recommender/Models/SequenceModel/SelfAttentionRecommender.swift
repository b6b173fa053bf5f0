import Foundation
import LinearAlgebra
import MovieLens

/// SASRec as a recommender: a ``SelfAttentionNetwork`` trained on every user's history in time
/// order (windows of ``SequenceRecommender/Configuration/length`` movies, every position
/// predicting the next), with each user's last `length − 1` movies kept as the input of their
/// next-movie prediction.
///
/// ```swift
/// var options = TrainedModel.Options()
/// options.selfAttention = .selfAttention   // SASRec's defaults; change epochs, negatives, …
/// let model = try TrainedModel.train(SelfAttentionRecommender.self, ratings: ratings, movies: movies, options: options, kernels: kernels)
/// ```
public struct SelfAttentionRecommender: RecommenderModel {
    public static let name = "sasrec"

    public var configuration: SequenceRecommender.Configuration
    public var network: SelfAttentionNetwork
    /// Each user's last `length − 1` movies (item indices, oldest first).
    public var recent: [[Int32]]

    public init(configuration: SequenceRecommender.Configuration, network: SelfAttentionNetwork, recent: [[Int32]]) {
        self.configuration = configuration
        self.network = network
        self.recent = recent
    }

    /// The configuration `options` trains with.
    public static func configuration(_ options: TrainedModel.Options) -> SequenceRecommender.Configuration {
        options.selfAttention ?? .selfAttention
    }

    /// Trains with ``TrainedModel/Options/selfAttention``, reporting each batch and epoch.
    /// - Throws: ``RecommenderError/invalidOptions(model:reason:)`` for an invalid configuration.
    public static func fit(_ data: TrainingSet, options: TrainedModel.Options, kernels: any Kernels,
                           progress: (TrainingEvent) -> Void) throws -> SelfAttentionRecommender {
        try validate(options)
        var c = configuration(options)
        let (network, recent) = try SequenceTraining.fit(data, configuration: &c, name: "SASRec", kernels: kernels, progress: progress) { c in
            try SelfAttentionNetwork(items: data.items.count, dimension: c.embedding, blocks: c.blocks ?? 2, heads: c.heads ?? 2,
                                     positions: c.length - 1, seed: c.seed)
        }
        return SelfAttentionRecommender(configuration: c, network: network, recent: recent)
    }

    public static func validate(_ options: TrainedModel.Options) throws { try configuration(options).validate(model: name) }

    public static func decode(from archive: ModelArchive) throws -> SelfAttentionRecommender {
        let c = try archive.json("sasrec.configuration", as: SequenceRecommender.Configuration.self)
        try c.validate(model: name)
        let network: SelfAttentionNetwork
        do {
            network = try SelfAttentionNetwork(items: archive.items, dimension: c.embedding, blocks: c.blocks ?? 2, heads: c.heads ?? 2,
                                               positions: c.length - 1, parameters: try archive.floats("network"))
        } catch is LinearAlgebraError {
            throw archive.bad("network", "size does not match the header")
        }
        return SelfAttentionRecommender(configuration: c, network: network, recent: try archive.rows("recent", count: archive.users))
    }

    public func encode(into archive: inout ModelArchive) throws {
        try archive.set("sasrec.configuration", json: configuration)
        archive.set("network", floats: network.parameters)
        archive.set("recent", rows: recent)
    }

    public var label: String {
        let c = configuration
        return "SASRec (d \(c.embedding), \(c.blocks ?? 2)×\(c.heads ?? 2) heads, \(c.examplesLabel), \(c.epochs) epochs"
            + "\((c.negatives ?? 0) > 0 ? ", \(c.softmaxLabel)" : "")\(c.lazyAdam == true ? ", lazy Adam" : "")\(c.schedule == .cosine ? ", cosine lr" : ""))"
    }

    /// Log-probabilities of the next movie after each query's history and watched movie.
    public func score(_ block: ScoringBlock, into scores: MutableMatrixView, parts: ScoreParts?, kernels: any Kernels) throws {
        let s = try SequenceTraining.scores(network, steps: configuration.length - 1, histories: block.queries.map(\.sequence), kernels: kernels)
        s.withView { scores.assign($0) }
    }

    /// What the network predicts right after this one movie.
    public func similarItems(to item: Int, kernels: any Kernels) throws -> SimilarScores {
        let s = try SequenceTraining.scores(network, steps: configuration.length - 1, histories: [[Int32(item)]], kernels: kernels)
        return SimilarScores(scores: Array(s.row(0)))
    }

    public func history(ofUser u: Int) -> [Int32] { u < recent.count ? recent[u] : [] }
}
