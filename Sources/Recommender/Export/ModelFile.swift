import Foundation
import LinearAlgebra
import MovieLens

/// A trained model with what it needs to answer queries: id maps, titles, each user's seen items,
/// and the parameters of its kind. Saved as a versioned, checksummed ``BinaryArchive`` written
/// atomically; ``load(from:)`` rejects truncated, corrupted, wrong-version or inconsistent files.
///
/// ```swift
/// let model = try TrainedModel.train(kind: .hybrid, ratings: data.ratings, movies: movies,
///                                    content: try ContentEmbeddings(prepared: data), kernels: kernels)
/// let top = try model.recommend(userID: 42, movieID: 296, count: 5)
/// try model.write(to: URL(fileURLWithPath: "hybrid.model"))
/// ```
public struct TrainedModel: Sendable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// Implicit ALS (collaborative filtering by matrix factorization).
        case implicitALS = "als"
        /// EASE item–item weights.
        case ease
        /// Content cosine blended with implicit ALS (see ``HybridBlend``).
        case hybrid
        /// The LSTM next-movie model (see ``SequenceRecommender``).
        case sequence = "rnn"
    }

    /// What training reports as it goes.
    public enum TrainingEvent: Sendable {
        /// A line of progress (an iteration, a finished epoch, a memory figure).
        case line(String)
        /// A mini-batch of the sequence model finished: done of total in this epoch, mean loss so far.
        case batch(epoch: Int, done: Int, total: Int, loss: Double)
        /// An epoch of the sequence model finished (sent after its ``line(_:)``).
        case epoch(SequenceRecommender.Epoch)
    }

    /// Hyperparameters of training.
    public struct Options: Sendable, Codable, Hashable {
        public var factors = 64
        /// λ; nil picks 0.05 for ALS and hybrid, 500 for EASE.
        public var regularization: Float?
        public var alpha: Float = 1
        public var iterations = 15
        /// Implicit ALS row solver: three warm-started CG steps by default, as the `implicit` library
        /// (``ImplicitALS`` alone defaults to the exact Cholesky solve). nil — files written before the
        /// solver was recorded — means Cholesky.
        public var solver: ImplicitALS.Solver? = .conjugateGradient(steps: 3)
        public var seed: UInt64 = 0
        /// Ratings ≥ this are the positives (ALS input, EASE input, the user's liked movies).
        public var minRating: Float = 4
        public var blend = HybridBlend()
        /// The sequence model's architecture and training (kind ``Kind/sequence``).
        public var sequence = SequenceRecommender.Configuration()
        public init() {}

        func lambda(for kind: Kind) -> Float { regularization ?? (kind == .ease ? 500 : 0.05) }
    }

    public struct Header: Sendable, Codable {
        public var kind: Kind
        public var options: Options
        public var users: Int
        public var items: Int
        public var factors: Int
        public var contentDimensions: Int
    }

    public var header: Header
    public var users: IDMap
    public var items: IDMap
    /// Title of each item (aligned with ``items``).
    public var titles: [String]
    /// users × items: every rating of the training data (the seen mask and the users' profiles).
    public var seen: SparseMatrix
    /// ALS and hybrid: users × factors. EASE: empty.
    public var userFactors: Matrix
    /// ALS and hybrid: items × factors. EASE: the items × items weights.
    public var itemFactors: Matrix
    /// Hybrid: items × content dims (unit rows, see ``ContentEmbeddings``). Others: empty.
    public var content: Matrix
    /// Sequence model: the network (nil for other kinds).
    public var network: NextMovieNetwork?
    /// Sequence model: each user's last `length − 1` movies (item indices, oldest first), the
    /// input of their next-movie prediction. Empty for other kinds.
    public var recent: [[Int32]]

    static let magic = "MRMODEL1"
    static let version: UInt32 = 2

    // MARK: - Training

    /// Trains a model of `kind` on `ratings` (all of them form the seen mask; ratings ≥
    /// `options.minRating` are the positives). `content` is required for ``Kind/hybrid``.
    public static func train(kind: Kind, ratings: Ratings, movies: [Movie], content: ContentEmbeddings? = nil,
                             options: Options = Options(), kernels: any Kernels,
                             progress: (TrainingEvent) -> Void = { _ in }) throws -> TrainedModel {
        guard ratings.count > 0 else { throw MovieLensError.invalidArgument("no ratings to train on") }
        let users = IDMap(ratings.userIDs), items = IDMap(ratings.movieIDs)
        let (seen, positives) = interactionMatrices(ratings, users: users, items: items, minRating: options.minRating)
        let catalogue = Dictionary(movies.map { ($0.id, $0.title) }, uniquingKeysWith: { a, _ in a })
        let titles = items.ids.map { catalogue[$0] ?? "movie \($0)" }
        let lambda = options.lambda(for: kind)
        var header = Header(kind: kind, options: options, users: users.count, items: items.count, factors: options.factors,
                            contentDimensions: 0)
        header.options.regularization = lambda
        var model = TrainedModel(header: header, users: users, items: items, titles: titles, seen: seen,
                                 userFactors: Matrix(rows: 0, cols: 0), itemFactors: Matrix(rows: 0, cols: 0),
                                 content: Matrix(rows: 0, cols: 0), network: nil, recent: [])
        switch kind {
        case .implicitALS, .hybrid:
            if kind == .hybrid {
                guard let content else { throw MovieLensError.invalidArgument("the hybrid model needs content embeddings") }
                model.content = content.aligned(to: items)
                model.header.contentDimensions = model.content.cols
                let covered = items.ids.filter { content.ids.index(of: $0) != nil }.count
                progress(.line("content: \(model.content.cols) dims for \(covered) of \(items.count) movies"))
            }
            var als = ImplicitALS(factors: options.factors, regularization: lambda, alpha: options.alpha,
                                  iterations: options.iterations, seed: options.seed, solver: options.solver ?? .cholesky)
            _ = try als.fit(positives, kernels: kernels) { it in
                progress(.line("ALS iteration \(it.index)/\(options.iterations): \(String(format: "%.3f", it.seconds)) s, loss \(it.loss.map { String(format: "%.5f", $0) } ?? "-")"))
            }
            model.userFactors = als.userFactors
            model.itemFactors = als.itemFactors
        case .ease:
            progress(.line("EASE: \(items.count)² weights = \(EASE.memoryBytes(items: items.count) / 1_048_576) MiB"))
            var ease = EASE(regularization: lambda)
            try ease.fit(positives, kernels: kernels)
            model.header.factors = 0
            model.itemFactors = ease.weights
        case .sequence:
            model.header.factors = 0
            let c = options.sequence
            let histories = UserHistories(ratings, users: users, items: items).histories
            let (examples, validation) = SequenceRecommender.trainingSet(histories, configuration: c)
            progress(.line("sequences: \(examples.count) examples (\(c.examplesLabel)), \(examples.targetCount) targets; \(items.count)-way softmax"
                           + (validation.map { "; \($0.targets.count) users' last movies held out for validation" } ?? "")))
            var net = try SequenceRecommender(untrained: c, items: items.count, kernels: kernels)
            var epoch = 1
            try net.fit(examples, validation: validation, kernels: kernels, progress: { done, total, loss in
                progress(.batch(epoch: epoch, done: done, total: total, loss: loss))
            }, epochDone: { e in
                epoch = e.index + 1
                progress(.line("epoch \(e.index)/\(c.epochs): loss \(String(format: "%.4f", e.loss)), \(String(format: "%.2f", e.seconds)) s, \(String(format: "%.0f", Double(e.examples) / max(e.seconds, 1e-9))) sequences/s"
                               + (e.validation.map { String(format: "; validation loss %.4f, HR@10 %.4f, NDCG@10 %.4f", $0.loss, $0.hitRate, $0.ndcg) } ?? "")))
                progress(.epoch(e))
            })
            model.network = net.network
            model.recent = histories.map { Array($0.suffix(c.length - 1)) }
        }
        return model
    }

    // MARK: - Files

    /// Writes the model atomically (temporary file, fsync, rename).
    public func write(to url: URL) throws {
        var a = BinaryArchive(magic: Self.magic, version: Self.version)
        try a.set("header", json: header)
        a.set("users", ints: users.ids)
        a.set("items", ints: items.ids)
        try a.set("titles", json: titles)
        a.set("seen.rowStarts", longs: seen.rowStarts.map(Int64.init))
        a.set("seen.columns", ints: seen.columns)
        a.set("seen.values", floats: seen.values)
        a.set("userFactors", floats: userFactors.elements)
        a.set("itemFactors", floats: itemFactors.elements)
        a.set("content", floats: content.elements)
        a.set("network", floats: network?.parameters ?? [])
        a.set("recent.starts", longs: recent.reduce(into: [Int64(0)]) { $0.append(($0.last ?? 0) + Int64($1.count)) })
        a.set("recent.items", ints: recent.flatMap { $0 })
        try a.write(to: url)
    }

    /// Reads a model file.
    /// - Throws: ``ArchiveError`` for a truncated, corrupted, wrong-version or inconsistent file.
    public static func load(from url: URL) throws -> TrainedModel {
        let a = try BinaryArchive.read(from: url, magic: magic, version: version)
        let header = try a.json("header", as: Header.self)
        let users = IDMap(sortedUnique: try a.ints("users")), items = IDMap(sortedUnique: try a.ints("items"))
        let titles = try a.json("titles", as: [String].self)
        let starts = try a.longs("seen.rowStarts").map(Int.init)
        let columns = try a.ints("seen.columns"), values = try a.floats("seen.values")
        guard users.count == header.users, items.count == header.items, titles.count == items.count,
              starts.count == users.count + 1, starts.first == 0, starts.last == columns.count, columns.count == values.count,
              columns.allSatisfy({ $0 >= 0 && Int($0) < items.count }), zip(starts, starts.dropFirst()).allSatisfy({ $0 <= $1 })
        else { throw ArchiveError.badSection(path: url.path, name: "seen", reason: "inconsistent with the header") }
        let seen = SparseMatrix(rows: users.count, cols: items.count, rowStarts: starts, columns: columns, values: values)
        let shapes: [(String, Int, Int)]
        switch header.kind {
        case .implicitALS: shapes = [("userFactors", users.count, header.factors), ("itemFactors", items.count, header.factors), ("content", 0, 0)]
        case .hybrid: shapes = [("userFactors", users.count, header.factors), ("itemFactors", items.count, header.factors),
                                ("content", items.count, header.contentDimensions)]
        case .ease: shapes = [("userFactors", 0, 0), ("itemFactors", items.count, items.count), ("content", 0, 0)]
        case .sequence: shapes = [("userFactors", 0, 0), ("itemFactors", 0, 0), ("content", 0, 0)]
        }
        var matrices = [Matrix]()
        for (name, rows, cols) in shapes {
            let values = try a.floats(name)
            guard values.count == rows * cols, values.allSatisfy({ $0.isFinite }) else {
                throw ArchiveError.badSection(path: url.path, name: name, reason: "expected \(rows) × \(cols) finite values")
            }
            matrices.append(try Matrix(rows: rows, cols: cols, elements: values))
        }
        var network: NextMovieNetwork?
        var recent = [[Int32]]()
        if header.kind == .sequence {
            let c = header.options.sequence
            do {
                network = try NextMovieNetwork(items: items.count, embedding: c.embedding, hidden: c.hidden, parameters: try a.floats("network"))
            } catch is LinearAlgebraError {
                throw ArchiveError.badSection(path: url.path, name: "network", reason: "size does not match the header")
            }
            let starts = try a.longs("recent.starts").map(Int.init), flat = try a.ints("recent.items")
            guard starts.count == users.count + 1, starts.first == 0, starts.last == flat.count,
                  zip(starts, starts.dropFirst()).allSatisfy({ $0 <= $1 }), flat.allSatisfy({ $0 >= 0 && Int($0) < items.count })
            else { throw ArchiveError.badSection(path: url.path, name: "recent", reason: "inconsistent with the header") }
            recent = (0..<users.count).map { Array(flat[starts[$0]..<starts[$0 + 1]]) }
        }
        return TrainedModel(header: header, users: users, items: items, titles: titles, seen: seen,
                            userFactors: matrices[0], itemFactors: matrices[1], content: matrices[2], network: network, recent: recent)
    }
}
