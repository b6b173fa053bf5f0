import Foundation
import LinearAlgebra
import MovieLens

/// A model that ranks movies for users: what every recommender of the package — implicit ALS,
/// EASE, content cosine, the hybrid, the LSTM — and any model of your own conforms to.
///
/// A model owns four things: fitting itself from a ``TrainingSet``, scoring a block of users into
/// a caller's buffer (the one hot path shared by recommend, batch export and evaluation), writing
/// its parameters into a ``ModelArchive`` and reading them back, and — where it can — finding
/// similar items and explaining a recommendation. Everything else (ids, titles, seen movies,
/// masking, top-K, files) is written once around it in ``TrainedModel``.
///
/// Adding a model is one file with a conforming type and one line in ``ModelRegistry/standard``
/// (or ``ModelRegistry/adding(_:)`` from your own code):
///
/// ```swift
/// struct MostPopular: RecommenderModel {
///     static let name = "most-popular"
///     var counts: [Float]
///     static func fit(_ data: TrainingSet, options: TrainedModel.Options, kernels: any Kernels,
///                     progress: (TrainingEvent) -> Void) throws -> MostPopular {
///         var counts = [Float](repeating: 0, count: data.items.count)
///         for c in data.positives.columns { counts[Int(c)] += 1 }
///         return MostPopular(counts: counts)
///     }
///     static func decode(from archive: ModelArchive) throws -> MostPopular {
///         MostPopular(counts: try archive.floats("counts", count: archive.items))
///     }
///     func encode(into archive: inout ModelArchive) throws { archive.set("counts", floats: counts) }
///     func score(_ block: ScoringBlock, into scores: MutableMatrixView, parts: ScoreParts?, kernels: any Kernels) throws {
///         for r in 0..<block.queries.count { (scores.base + r * scores.stride).update(from: counts, count: counts.count) }
///     }
/// }
/// let model = try TrainedModel.train(MostPopular.self, ratings: ratings, movies: movies, kernels: kernels)
/// ```
public protocol RecommenderModel: Sendable {
    /// The model's name on the command line and in model files ("als", "ease", "hybrid", …).
    static var name: String { get }
    /// Whether ``fit(_:options:kernels:progress:)`` reads ``TrainingSet/content`` (false by default).
    static var needsContent: Bool { get }

    /// Checks the options the model uses, before any data is read (``fit(_:options:kernels:progress:)``
    /// checks them again). Accepts everything by default.
    /// - Throws: ``RecommenderError/invalidOptions(model:reason:)`` naming the problem.
    static func validate(_ options: TrainedModel.Options) throws

    /// Fits a model to `data` with the hyperparameters of `options` that the model uses.
    /// - Throws: ``RecommenderError/invalidOptions(model:reason:)`` for options it cannot train with.
    static func fit(_ data: TrainingSet, options: TrainedModel.Options, kernels: any Kernels,
                    progress: (TrainingEvent) -> Void) throws -> Self

    /// Reads the parameters ``encode(into:)`` wrote.
    /// - Throws: ``ArchiveError/badSection(path:name:reason:)`` naming the file for a missing or
    ///   inconsistent section.
    static func decode(from archive: ModelArchive) throws -> Self

    /// Writes the model's parameters as named sections of `archive`.
    func encode(into archive: inout ModelArchive) throws

    /// Writes the raw score of every item for each query of `block` into the rows of `scores`
    /// (queries × items). The caller masks the excluded items afterwards; a model whose scores
    /// depend on the candidates (the hybrid's per-user scaling) calls ``ScoringBlock/mask(_:)`` itself.
    /// `parts`, when given and ``explainsParts``, receive the content and collaborative parts.
    func score(_ block: ScoringBlock, into scores: MutableMatrixView, parts: ScoreParts?, kernels: any Kernels) throws

    /// One line naming the model and its settings, for reports ("implicit ALS (64f, λ 0.05, …)").
    var label: String { get }
    /// Whether ``score(_:into:parts:kernels:)`` fills ``ScoreParts`` (false by default).
    var explainsParts: Bool { get }

    /// The score of every item as a neighbour of `item` (its own entry is ignored).
    /// - Throws: ``RecommenderError/unsupported(model:operation:)`` by default.
    func similarItems(to item: Int, kernels: any Kernels) throws -> SimilarScores

    /// The movie (item index) that made `item` a recommendation for `query`, when the model can tell.
    func explanation(for item: Int, query: TrainedModel.Query) -> Int?

    /// The recent movies of the model's user `u`, oldest first, for models that read histories
    /// (empty by default: the user's ratings are in ``TrainedModel/Query/ratings``).
    func history(ofUser u: Int) -> [Int32]

    /// items × dims unit content vectors the model carries (content, hybrid), which diversity
    /// re-ranking compares; nil by default.
    var itemVectors: Matrix? { get }
}

extension RecommenderModel {
    public static var needsContent: Bool { false }
    public static func validate(_ options: TrainedModel.Options) throws {}
    public var label: String { Self.name }
    public var explainsParts: Bool { false }
    public func similarItems(to item: Int, kernels: any Kernels) throws -> SimilarScores {
        throw RecommenderError.unsupported(model: Self.name, operation: "similar items")
    }
    public func explanation(for item: Int, query: TrainedModel.Query) -> Int? { nil }
    public func history(ofUser u: Int) -> [Int32] { [] }
    public var itemVectors: Matrix? { nil }
}

/// What a model trains on: the interactions as sparse matrices over dense user and item indices,
/// each user's movies in time order, and the content vectors where the caller has them.
public struct TrainingSet: Sendable {
    /// Every training rating (for histories and explicit models).
    public let ratings: Ratings
    public let users: IDMap
    public let items: IDMap
    /// users × items: every rating, valued by the rating (the seen mask).
    public let seen: SparseMatrix
    /// users × items: ratings ≥ the options' `minRating`, valued by the rating (implicit positives).
    public let positives: SparseMatrix
    /// items × content dims, unit rows aligned with ``items`` (zero rows for movies without
    /// content); nil when the caller gave no ``ContentEmbeddings``.
    public let content: Matrix?

    /// The matrices of `ratings`; the items are the rated movies and those of `catalogue` (movies
    /// nobody has rated yet, which content can rank); `content` is aligned to the items.
    public init(ratings: Ratings, minRating: Float, content: ContentEmbeddings? = nil, catalogue: [Int32] = []) {
        self.ratings = ratings
        users = IDMap(ratings.userIDs)
        items = IDMap(catalogue.isEmpty ? ratings.movieIDs : ratings.movieIDs + catalogue)
        (seen, positives) = interactionMatrices(ratings, users: users, items: items, minRating: minRating)
        self.content = content?.aligned(to: items)
    }

    /// Each user's item indices ordered by time (ties by movie id).
    /// - Complexity: O(n log n) for n ratings.
    public func histories() -> [[Int32]] { UserHistories(ratings, users: users, items: items).histories }

    /// ``content``, or ``RecommenderError/needsContent(model:)`` for `model`.
    public func requireContent(for model: String) throws -> Matrix {
        guard let content else { throw RecommenderError.needsContent(model: model) }
        return content
    }
}

/// The queries a model scores at once, and which items each of them excludes.
public struct ScoringBlock: Sendable {
    public let queries: [TrainedModel.Query]
    /// Whether the movies a user rated stay candidates.
    public let includeSeen: Bool

    public init(queries: [TrainedModel.Query], includeSeen: Bool) {
        self.queries = queries
        self.includeSeen = includeSeen
    }

    /// Writes −∞ into each row's excluded items: what the user rated (unless ``includeSeen``) and
    /// always the movie just watched.
    public func mask(_ target: MutableMatrixView) {
        for (r, q) in queries.enumerated() {
            let row = target.base + r * target.stride
            if !includeSeen { for (i, _) in q.ratings { row[i] = -.infinity } }
            if let w = q.watched { row[w] = -.infinity }
        }
    }
}

/// Buffers (queries × items each) for the two parts of a blended score.
public struct ScoreParts: Sendable {
    public var content: MutableMatrixView
    public var collaborative: MutableMatrixView

    public init(content: MutableMatrixView, collaborative: MutableMatrixView) {
        self.content = content
        self.collaborative = collaborative
    }
}

/// The neighbour scores of one item: every item's score and, for a blended model, its parts.
public struct SimilarScores: Sendable {
    public var scores: [Float]
    public var content: [Float]?
    public var collaborative: [Float]?

    public init(scores: [Float], content: [Float]? = nil, collaborative: [Float]? = nil) {
        self.scores = scores
        self.content = content
        self.collaborative = collaborative
    }
}

/// What training reports as it goes.
public enum TrainingEvent: Sendable {
    /// A line of progress (an iteration, a finished epoch, a memory figure).
    case line(String)
    /// A mini-batch of a sequence model finished: done of total in this epoch, mean loss so far.
    case batch(epoch: Int, done: Int, total: Int, loss: Double)
    /// An epoch of a sequence model finished (sent after its ``line(_:)``).
    case epoch(SequenceRecommender.Epoch)
    /// An iteration of an iterative model (ALS) finished, with its training loss (sent after its ``line(_:)``).
    case iteration(index: Int, loss: Double)
}

/// Problems at the level of models: unknown users or movies, a model asked for what it cannot
/// do, options it cannot train with.
public enum RecommenderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A user id the model was not trained on, with the nearest ids it knows.
    case unknownUser(id: Int32, nearest: [Int32])
    /// A movie id the model does not know, with the nearest ids it knows.
    case unknownMovie(id: Int32, nearest: [Int32])
    /// A model name no registry entry has.
    case unknownModel(name: String, known: [String])
    /// A model that reads content vectors was trained without them.
    case needsContent(model: String)
    /// The model cannot answer this kind of request.
    case unsupported(model: String, operation: String)
    /// Options the model cannot train with.
    case invalidOptions(model: String, reason: String)
    /// Training ended with non-finite parameters (a learning rate or λ far too large, say).
    case diverged(model: String, section: String)

    public var description: String {
        func list(_ ids: [Int32]) -> String { ids.map(String.init).joined(separator: ", ") }
        switch self {
        case let .unknownUser(id, nearest): return "unknown user id \(id): not in the model; nearest known: \(list(nearest))"
        case let .unknownMovie(id, nearest): return "unknown movie id \(id): not in the model; nearest known: \(list(nearest))"
        case let .unknownModel(name, known): return "unknown model '\(name)' (known: \(known.joined(separator: ", ")))"
        case let .needsContent(model): return "the \(model) model needs content embeddings (genres, tag genome)"
        case let .unsupported(model, operation): return "the \(model) model does not support \(operation)"
        case let .invalidOptions(model, reason): return "\(model) options: \(reason)"
        case let .diverged(model, section):
            return "the \(model) model diverged: its '\(section)' parameters are not finite (try a smaller learning rate, λ or α)"
        }
    }
}

/// The models that ``TrainedModel/load(from:registry:)`` can read and the command line can train,
/// by name.
public struct ModelRegistry: Sendable {
    public private(set) var models: [any RecommenderModel.Type]

    /// The package's models.
    public static let standard = ModelRegistry(models: [
        ImplicitALS.self,
        EASE.self,
        ContentRecommender.self,
        HybridRecommender.self,
        LSTMRecommender.self,
        SelfAttentionRecommender.self,
    ])

    public init(models: [any RecommenderModel.Type]) { self.models = models }

    /// This registry with `model` added (replacing one of the same name).
    public func adding(_ model: any RecommenderModel.Type) -> ModelRegistry {
        ModelRegistry(models: models.filter { $0.name != model.name } + [model])
    }

    /// The names, in registration order.
    public var names: [String] { models.map { $0.name } }

    /// The model called `name`.
    /// - Throws: ``RecommenderError/unknownModel(name:known:)``.
    public func model(named name: String) throws -> any RecommenderModel.Type {
        guard let m = models.first(where: { $0.name == name }) else { throw RecommenderError.unknownModel(name: name, known: names) }
        return m
    }
}
