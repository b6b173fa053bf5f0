import Foundation
import LinearAlgebra
import MovieLens

/// A trained model with what every model shares — id maps, titles, each user's seen movies, the
/// options it was trained with — around the model itself, any ``RecommenderModel``.
///
/// Saved as a versioned, checksummed ``BinaryArchive`` written atomically; ``load(from:registry:)``
/// rejects truncated, corrupted, wrong-version or inconsistent files.
///
/// ```swift
/// let model = try TrainedModel.train(HybridRecommender.self, ratings: data.ratings, movies: data.movies,
///                                    content: data.content, kernels: kernels)
/// let top = try model.recommend(user: 42, k: 5)
/// try model.save(to: URL(fileURLWithPath: "hybrid.model"))
/// ```
public struct TrainedModel: Sendable {
    /// Hyperparameters of training; each model reads the ones it uses.
    public struct Options: Sendable, Codable, Hashable {
        public var factors = 64
        /// λ; nil picks the model's own default (0.05 for ALS and the hybrid, 500 for EASE).
        public var regularization: Float?
        public var alpha: Float = 1
        public var iterations = 15
        /// Implicit ALS row solver: three warm-started CG steps by default, as the `implicit` library
        /// (``ImplicitALS`` alone defaults to the exact Cholesky solve). nil reads as Cholesky, the
        /// solver of format-2 files that do not record it.
        public var solver: ImplicitALS.Solver? = .conjugateGradient(steps: 3)
        public var seed: UInt64 = 0
        /// Ratings ≥ this are the positives (ALS input, EASE input, the user's liked movies).
        public var minRating: Float = 4
        /// The original hybrid design's weights (used with `hybridFusion` `.minmax`).
        public var blend = HybridBlend()
        /// How the hybrid fuses its parts (nil: ``HybridFusionMode/learned``).
        public var hybridFusion: HybridFusionMode?
        /// The hybrid's collaborative model (nil: ``HybridCollaborative/auto``).
        public var hybridCollaborative: HybridCollaborative?
        /// How the learned hybrid carves its validation ratings (nil: ``Carve/temporal``, each user's
        /// latest 10 %; `evaluate` matches it to the split).
        public var hybridValidation: Carve?
        /// The sequence model's architecture and training.
        public var sequence = SequenceRecommender.Configuration()
        /// SASRec's architecture and training (nil: ``SequenceRecommender/Configuration/selfAttention``).
        public var selfAttention: SequenceRecommender.Configuration?
        public init() {}
    }

    /// What the file says about the model before its sections.
    public struct Header: Sendable, Codable {
        /// The ``RecommenderModel/name`` of the model.
        public var model: String
        public var options: Options
        public var users: Int
        public var items: Int

        enum CodingKeys: String, CodingKey {
            case model = "kind", options, users, items
        }
    }

    public var header: Header
    public var users: IDMap
    public var items: IDMap
    /// Title of each item (aligned with ``items``).
    public var titles: [String]
    /// Genres of each item (aligned with ``items``), for ``ItemFilter``; nil in files written
    /// before they were recorded.
    public var genres: [[String]]?
    /// Each item's strongest genome tags (aligned with ``items``) for explanations; nil without a
    /// genome or in files written before they were recorded.
    public var tags: [[TagScore]]?
    /// users × items: every rating of the training data (the seen mask and the users' profiles).
    public var seen: SparseMatrix
    /// The model.
    public var model: any RecommenderModel

    static let magic = "MRMODEL1"
    /// The format written: 3 (sections named by each model). Format 2 (the four models of
    /// MovieRec 1.x, every section written by every kind) is still read; older ones are refused.
    public static let formatVersion: UInt32 = 3
    static let readableVersions: ClosedRange<UInt32> = 2...formatVersion

    // MARK: - Training

    /// Trains a model of type `type` on `ratings` (all of them form the seen mask; ratings ≥
    /// `options.minRating` are the positives). `content` is required by models whose
    /// ``RecommenderModel/needsContent`` is true; their items are the rated movies and every movie
    /// of `content`, so a movie nobody has rated yet can be recommended.
    /// - Throws: ``RecommenderError`` for no ratings, missing content or invalid options.
    public static func train<M: RecommenderModel>(_ type: M.Type, ratings: Ratings, movies: [Movie], content: ContentEmbeddings? = nil,
                                             options: Options = Options(), kernels: any Kernels,
                                             progress: (TrainingEvent) -> Void = { _ in }) throws -> TrainedModel {
        guard ratings.count > 0 else { throw MovieLensError.invalidArgument("no ratings to train the \(M.name) model on") }
        guard options.minRating.isFinite else { throw RecommenderError.invalidOptions(model: M.name, reason: "the positive threshold must be finite") }
        if M.needsContent && content == nil { throw RecommenderError.needsContent(model: M.name) }
        try M.validate(options)
        // Models that read content also rank the movies nobody has rated: every movie with content.
        let data = TrainingSet(ratings: ratings, minRating: options.minRating, content: M.needsContent ? content : nil,
                               catalogue: M.needsContent ? content?.ids.ids ?? [] : [])
        if let content, let aligned = data.content {
            let covered = data.items.ids.filter { content.ids.index(of: $0) != nil }.count
            progress(.line("content: \(aligned.cols) dims for \(covered) of \(data.items.count) movies"))
        }
        let catalogue = Dictionary(movies.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let model = try M.fit(data, options: options, kernels: kernels, progress: progress)
        try checkFinite(model, name: M.name, users: data.users.count, items: data.items.count, options: options)
        return TrainedModel(header: Header(model: M.name, options: options, users: data.users.count, items: data.items.count),
                            users: data.users, items: data.items, titles: data.items.ids.map { catalogue[$0]?.title ?? "movie \($0)" },
                            genres: data.items.ids.map { catalogue[$0]?.genres ?? [] },
                            tags: content?.topTags.map { top in data.items.ids.map { content?.ids.index(of: $0).map { top[$0] } ?? [] } },
                            seen: data.seen, model: model)
    }

    /// Trains the model registered as `name` (see ``train(_:ratings:movies:content:options:kernels:progress:)``).
    /// - Throws: ``RecommenderError/unknownModel(name:known:)`` for a name `registry` does not have.
    public static func train(model name: String, registry: ModelRegistry = .standard, ratings: Ratings, movies: [Movie],
                             content: ContentEmbeddings? = nil, options: Options = Options(), kernels: any Kernels,
                             progress: (TrainingEvent) -> Void = { _ in }) throws -> TrainedModel {
        try train(try registry.model(named: name), ratings: ratings, movies: movies, content: content, options: options,
                  kernels: kernels, progress: progress)
    }

    /// Throws ``RecommenderError/diverged(model:section:)`` when a parameter section of `model` is not finite.
    static func checkFinite(_ model: any RecommenderModel, name: String, users: Int, items: Int, options: Options) throws {
        var check = ModelArchive(checkingUsers: users, items: items, options: options)
        try model.encode(into: &check)
        if let section = check.firstNonFiniteSection { throw RecommenderError.diverged(model: name, section: section) }
    }

    // MARK: - Files

    /// Writes the model atomically (temporary file, fsync, rename).
    public func save(to url: URL) throws {
        try Self.checkFinite(model, name: header.model, users: users.count, items: items.count, options: header.options)
        var a = BinaryArchive(magic: Self.magic, version: Self.formatVersion)
        try a.set("header", json: header)
        a.set("users", ints: users.ids)
        a.set("items", ints: items.ids)
        try a.set("titles", json: titles)
        if let genres { try a.set("genres", json: genres) }
        if let tags { try Self.encode(tags: tags, into: &a) }
        a.set("seen.rowStarts", longs: seen.rowStarts.map(Int64.init))
        a.set("seen.columns", ints: seen.columns)
        a.set("seen.values", floats: seen.values)
        var own = ModelArchive(archive: a, users: users.count, items: items.count, options: header.options)
        try model.encode(into: &own)
        try own.archive.write(to: url)
    }

    /// Reads a model file of format 2 or 3 whose model `registry` knows.
    /// - Throws: ``ArchiveError`` for a truncated, corrupted, old-format or inconsistent file, or a
    ///   model the registry does not know.
    public static func load(from url: URL, registry: ModelRegistry = .standard) throws -> TrainedModel {
        let a = try BinaryArchive.read(from: url, magic: magic, versions: readableVersions)
        let header = try a.json("header", as: Header.self)
        let userIDs = try a.ints("users"), itemIDs = try a.ints("items")
        for (name, ids) in [("users", userIDs), ("items", itemIDs)] where !zip(ids, ids.dropFirst()).allSatisfy({ $0 < $1 }) {
            throw ArchiveError.badSection(path: url.path, name: name, reason: "ids are not ascending and distinct")
        }
        let users = IDMap(sortedUnique: userIDs), items = IDMap(sortedUnique: itemIDs)
        let titles = try a.json("titles", as: [String].self)
        let genres = a.contains("genres") ? try a.json("genres", as: [[String]].self) : nil
        if let genres, genres.count != itemIDs.count {
            throw ArchiveError.badSection(path: url.path, name: "genres", reason: "\(genres.count) lists for \(itemIDs.count) movies")
        }
        let starts = try a.longs("seen.rowStarts").map(Int.init)
        let columns = try a.ints("seen.columns"), values = try a.floats("seen.values")
        guard users.count == header.users, items.count == header.items, titles.count == items.count,
              starts.count == users.count + 1, starts.first == 0, starts.last == columns.count, columns.count == values.count,
              columns.allSatisfy({ $0 >= 0 && Int($0) < items.count }), zip(starts, starts.dropFirst()).allSatisfy({ $0 <= $1 })
        else { throw ArchiveError.badSection(path: url.path, name: "seen", reason: "inconsistent with the header") }
        let seen = SparseMatrix(rows: users.count, cols: items.count, rowStarts: starts, columns: columns, values: values)
        let tags = try decodeTags(from: a, items: items.count, path: url.path)
        let type: any RecommenderModel.Type
        do { type = try registry.model(named: header.model) } catch {
            throw ArchiveError.badSection(path: url.path, name: "header", reason: "\(error)")
        }
        let own = ModelArchive(archive: a, users: users.count, items: items.count, options: header.options)
        let model: any RecommenderModel
        do { model = try type.decode(from: own) } catch let error as RecommenderError {
            throw ArchiveError.badSection(path: url.path, name: "header", reason: "\(error)")
        }
        return TrainedModel(header: header, users: users, items: items, titles: titles, genres: genres, tags: tags, seen: seen, model: model)
    }

    /// The tag profiles as a vocabulary (`tags.names`), then ``ContentEmbeddings/tagProfileLength``
    /// vocabulary indices (−1 pads) and relevances per item.
    static func encode(tags: [[TagScore]], into a: inout BinaryArchive) throws {
        let width = ContentEmbeddings.tagProfileLength
        var names = [String](), index = [String: Int32]()
        var ids = [Int32](repeating: -1, count: tags.count * width), relevance = [Float](repeating: 0, count: tags.count * width)
        for (i, profile) in tags.enumerated() {
            for (j, t) in profile.prefix(width).enumerated() {
                let id = index[t.tag] ?? {
                    names.append(t.tag)
                    index[t.tag] = Int32(names.count - 1)
                    return Int32(names.count - 1)
                }()
                ids[i * width + j] = id
                relevance[i * width + j] = t.relevance
            }
        }
        try a.set("tags.names", json: names)
        a.set("tags.index", ints: ids)
        a.set("tags.relevance", floats: relevance)
    }

    /// The tag profiles of a model file, nil when it has none.
    static func decodeTags(from a: BinaryArchive, items: Int, path: String) throws -> [[TagScore]]? {
        guard a.contains("tags.names") else { return nil }
        let width = ContentEmbeddings.tagProfileLength
        let names = try a.json("tags.names", as: [String].self)
        let ids = try a.ints("tags.index"), relevance = try a.floats("tags.relevance")
        guard ids.count == items * width, relevance.count == ids.count, ids.allSatisfy({ $0 >= -1 && Int($0) < names.count }) else {
            throw ArchiveError.badSection(path: path, name: "tags", reason: "inconsistent with the \(items) movies and \(names.count) tag names")
        }
        return (0..<items).map { i in
            (0..<width).compactMap { j in
                let id = ids[i * width + j]
                return id >= 0 ? TagScore(tag: names[Int(id)], relevance: relevance[i * width + j]) : nil
            }
        }
    }
}
