import Foundation
import LinearAlgebra
import MovieLens

/// One recommended movie, with the parts of its score when the model has parts.
public struct Recommendation: Sendable, Codable, Equatable {
    public var movieID: Int32
    public var title: String
    /// The ranking score (hybrid: the blend in [0, 1]; ALS: `x_u·y_i`; EASE: `Σ B`).
    public var score: Float
    /// Hybrid: the content part, min–max scaled over this query's candidates.
    public var content: Float?
    /// Hybrid: the collaborative part, min–max scaled over this query's candidates.
    public var collaborative: Float?
    /// The movie that drove the recommendation — the one just watched, or the user's liked movie
    /// nearest in content — when the model can tell.
    public var becauseOf: Int32?
    /// Why, for the hybrid and content models: which part carried it, and what it shares with
    /// ``becauseOf``.
    public var explanation: Explanation?
}

/// Why a movie was recommended.
public struct Explanation: Sendable, Codable, Equatable {
    /// The hybrid's part that contributed more to the score: `content` or `collaborative`.
    public enum Part: String, Sendable, Codable { case content, collaborative }

    /// Which part carried it (nil for a model with one part).
    public var carriedBy: Part?
    /// The weights the parts had for this user (hybrid: `w_cf` and `1 − w_cf`, or the original
    /// design's fixed weights).
    public var collaborativeWeight: Float?
    public var contentWeight: Float?
    /// Genres the movie shares with ``Recommendation/becauseOf``.
    public var sharedGenres: [String]
    /// Up to 3 genome tags both movies have, by the product of their relevances (when the model
    /// has the genome).
    public var sharedTags: [String]

    /// One line: "CF (w 0.83) · like Heat (1995) · Action, Crime · heist, tense".
    public func summary(because title: String?) -> String {
        var parts = [String]()
        switch carriedBy {
        case .collaborative?: parts.append(String(format: "CF (w %.2f)", collaborativeWeight ?? 0))
        case .content?: parts.append(String(format: "content (w %.2f)", contentWeight ?? 0))
        case nil: break
        }
        if let title { parts.append("like \(title)") }
        if !sharedGenres.isEmpty { parts.append(sharedGenres.joined(separator: ", ")) }
        if !sharedTags.isEmpty { parts.append(sharedTags.joined(separator: ", ")) }
        return parts.joined(separator: " · ")
    }
}

extension TrainedModel {
    /// Who is asking: a user of the model or a new user described by their ratings, and optionally
    /// the movie they just watched. Build one with ``query(userID:watched:)`` or ``query(ratings:watched:)``.
    public struct Query: Sendable {
        /// Model index of a known user (nil for a new user).
        public var user: Int?
        /// The user's ratings as (item index, rating): the seen items.
        public var ratings: [(item: Int, rating: Float)]
        /// The liked items: ratings ≥ the model's `minRating`, or every rated item if none reaches it.
        public var liked: [(item: Int, rating: Float)]
        /// Item index of the movie just watched.
        public var watched: Int?
        /// The user's recent movies, oldest first (a sequence model's input, before `watched`).
        public var history: [Int32]

        public init(user: Int?, ratings: [(item: Int, rating: Float)], minRating: Float, watched: Int? = nil, history: [Int32] = []) {
            self.user = user
            self.ratings = ratings
            let liked = ratings.filter { $0.rating >= minRating }
            self.liked = liked.isEmpty ? ratings : liked
            self.watched = watched
            self.history = history
        }

        /// ``history`` followed by the movie just watched.
        public var sequence: [Int32] { history + (watched.map { [Int32($0)] } ?? []) }
    }

    /// The query of the model's user `userID`.
    /// - Throws: ``RecommenderError/unknownUser(id:nearest:)`` naming the nearest known ids.
    public func query(userID: Int32, watched movieID: Int32? = nil) throws -> Query {
        guard let u = users.index(of: userID) else {
            throw RecommenderError.unknownUser(id: userID, nearest: users.nearest(to: userID))
        }
        var q = query(index: u)
        q.watched = try movieID.map(itemIndex)
        return q
    }

    /// The query of the user at model index `u` (which must be in range).
    func query(index u: Int) -> Query {
        Query(user: u, ratings: seen.range(ofRow: u).map { (Int(seen.columns[$0]), seen.values[$0]) },
              minRating: header.options.minRating, history: model.history(ofUser: u))
    }

    /// The query of a new user from `(movieId, rating)` pairs, oldest first: collaborative models
    /// fold them in (one solve against the item factors, no retraining); sequence models read
    /// them as the history.
    /// - Throws: ``RecommenderError/unknownMovie(id:nearest:)`` for a movie the model does not know.
    public func query(ratings: [(movieID: Int32, rating: Float)], watched movieID: Int32? = nil) throws -> Query {
        var seenItems = Set<Int>()
        var list = [(item: Int, rating: Float)]()
        for (id, rating) in ratings {
            let i = try itemIndex(id)
            if seenItems.insert(i).inserted { list.append((i, rating)) }
        }
        return Query(user: nil, ratings: list, minRating: header.options.minRating, watched: try movieID.map(itemIndex),
                     history: list.map { Int32($0.item) })
    }

    /// The model index of movie `id`.
    /// - Throws: ``RecommenderError/unknownMovie(id:nearest:)`` naming the nearest known ids.
    public func itemIndex(_ id: Int32) throws -> Int {
        guard let m = items.index(of: id) else { throw RecommenderError.unknownMovie(id: id, nearest: items.nearest(to: id)) }
        return m
    }

    // MARK: - Scoring

    /// Writes the final scores of every item for each query into the rows of `scores` (queries ×
    /// items), with −∞ for excluded items: the seen ones unless `includeSeen`, and always the movie
    /// just watched. `parts` (when given and the model ``RecommenderModel/explainsParts``) receive
    /// the scaled content and collaborative parts.
    /// - Complexity: the model's; ALS and the hybrid score a block with one GEMM `X_block·Yᵀ`.
    public func score(_ queries: [Query], into scores: MutableMatrixView, includeSeen: Bool = false,
                      parts: ScoreParts? = nil, kernels: any Kernels) throws {
        guard scores.rows == queries.count, scores.cols == items.count else {
            throw LinearAlgebraError.dimensionMismatch(operation: "TrainedModel.score", detail: "scores must be \(queries.count) × \(items.count)")
        }
        let block = ScoringBlock(queries: queries, includeSeen: includeSeen)
        try model.score(block, into: scores, parts: parts, kernels: kernels)
        block.mask(scores)
    }

    /// The recommendations of one query, best first.
    public func recommend(_ query: Query, count: Int, includeSeen: Bool = false, filter: ItemFilter? = nil,
                          diversity: Float = 0, kernels: any Kernels = Backend.defaultKernels) throws -> [Recommendation] {
        try recommend([query], count: count, includeSeen: includeSeen, filter: filter, diversity: diversity, kernels: kernels)[0]
    }

    /// The recommendations of each query, best first, scored as one block (one GEMM for
    /// factor models). `filter` removes movies before the top `count` is taken, so every query
    /// gets `count` movies whenever that many candidates pass; `diversity` > 0 re-ranks by
    /// maximal marginal relevance (``DiversityReranker``) over the model's content vectors.
    /// - Throws: ``RecommenderError`` for a filter naming unknown genres or movies, or diversity
    ///   on a model without content vectors.
    /// - Complexity: memory O(queries × items); use ``BatchExport`` for every user of a large model.
    public func recommend(_ queries: [Query], count: Int, includeSeen: Bool = false, filter: ItemFilter? = nil,
                          diversity: Float = 0, kernels: any Kernels) throws -> [[Recommendation]] {
        let selection = try ListSelection(model: self, filter: filter, diversity: diversity)
        let n = items.count, explained = model.explainsParts
        var scores = Matrix(rows: queries.count, cols: n)
        var partsStore = Matrix(rows: explained ? 2 * queries.count : 0, cols: n)
        try scores.withMutableView { s in
            try partsStore.withMutableView { pv in
                let parts = explained ? ScoreParts(content: pv.rows(0..<queries.count), collaborative: pv.rows(queries.count..<(2 * queries.count))) : nil
                try score(queries, into: s, includeSeen: includeSeen, parts: parts, kernels: kernels)
                selection.mask(s)
            }
        }
        let lists = scores.withView { selection.top(of: $0, count: count, threads: kernels.threads) }
        return queries.enumerated().map { r, query in
            lists[r].map { i, value in
                var rec = Recommendation(movieID: items.ids[i], title: titles[i], score: value)
                var carriedBy: Explanation.Part?
                var weights: (cf: Float, content: Float)?
                if explained {
                    let (c, f) = (partsStore[r, i], partsStore[queries.count + r, i])
                    rec.content = c
                    rec.collaborative = f
                    if let hybrid = model as? HybridRecommender {
                        let w = hybrid.weights(ratings: query.ratings.count)
                        weights = w
                        carriedBy = w.cf * f >= w.content * c ? .collaborative : .content
                    }
                }
                // The original design's files name the content neighbour, as they always did.
                let because = (model as? HybridRecommender).flatMap { hybrid in
                    hybrid.fusion == nil ? nil : carriedBy.map { hybrid.explanation(for: i, query: query, part: $0) }
                } ?? model.explanation(for: i, query: query)
                rec.becauseOf = because.map { items.ids[$0] }
                if explained || model.itemVectors != nil {
                    rec.explanation = Explanation(carriedBy: carriedBy, collaborativeWeight: weights?.cf, contentWeight: weights?.content,
                                                  sharedGenres: because.map { sharedGenres(i, $0) } ?? [],
                                                  sharedTags: because.map { sharedTags(i, $0) } ?? [])
                }
                return rec
            }
        }
    }

    /// The `k` best movies for the model's user `user`, optionally just after watching `movie`;
    /// seen movies are left out unless `includeSeen`, and `filter` keeps only the movies it
    /// passes (`implicit`'s `recommend(userid, N, filter_items=…)`, but never short of `k` while
    /// `k` candidates pass).
    /// - Throws: ``RecommenderError`` for an unknown user or movie.
    public func recommend(user: Int32, k: Int, movie: Int32? = nil, includeSeen: Bool = false,
                          filter: ItemFilter? = nil, diversity: Float = 0,
                          kernels: any Kernels = Backend.defaultKernels) throws -> [Recommendation] {
        try recommend([try query(userID: user, watched: movie)], count: k, includeSeen: includeSeen, filter: filter,
                      diversity: diversity, kernels: kernels)[0]
    }

    /// The `k` best movies for each of `users`, in that order, scored in blocks of `blockSize`
    /// with the backend's threads (`implicit`'s `recommend(userids, …)`).
    /// - Throws: ``RecommenderError/unknownUser(id:nearest:)`` for the first unknown user.
    /// - Complexity: memory O(blockSize × items).
    public func recommend(users ids: [Int32], k: Int, includeSeen: Bool = false, blockSize: Int = 256,
                          kernels: any Kernels) throws -> [[Recommendation]] {
        let queries = try ids.map { try query(userID: $0) }
        var out = [[Recommendation]]()
        out.reserveCapacity(ids.count)
        var first = 0
        while first < queries.count {
            let last = min(queries.count, first + max(1, blockSize))
            out += try recommend(Array(queries[first..<last]), count: k, includeSeen: includeSeen, kernels: kernels)
            first = last
        }
        return out
    }

    /// The `k` movies most similar to `movieID` under the model: cosine of item factors (ALS),
    /// EASE weights, content cosine, the hybrid's blend of both, or what the LSTM predicts next.
    /// - Throws: ``RecommenderError`` for an unknown movie or a model without item similarity.
    public func similarItems(_ movieID: Int32, k: Int, kernels: any Kernels = Backend.defaultKernels) throws -> [Recommendation] {
        let m = try itemIndex(movieID)
        var s = try model.similarItems(to: m, kernels: kernels)
        s.scores[m] = -.infinity
        return s.scores.withUnsafeBufferPointer { TopK.select($0, k: k) }.filter { $0.value > -.infinity }.map {
            Recommendation(movieID: items.ids[$0.index], title: titles[$0.index], score: $0.value,
                           content: s.content?[$0.index], collaborative: s.collaborative?[$0.index],
                           becauseOf: s.content == nil ? nil : movieID)
        }
    }

    /// The genres items `a` and `b` share, in `a`'s order.
    func sharedGenres(_ a: Int, _ b: Int) -> [String] {
        guard let genres, a < genres.count, b < genres.count else { return [] }
        let other = Set(genres[b])
        return genres[a].filter(other.contains)
    }

    /// Up to 3 genome tags items `a` and `b` share, by relevance product.
    func sharedTags(_ a: Int, _ b: Int) -> [String] {
        guard let tags, a < tags.count, b < tags.count else { return [] }
        return TagScore.shared(tags[a], tags[b])
    }

    /// The title of movie `id` ("movie <id>" if the model does not know it).
    public func title(_ id: Int32) -> String { items.index(of: id).map { titles[$0] } ?? "movie \(id)" }
}

/// How a list is cut from a row of scores: the filter's mask applied before the top-k, then the
/// plain top-k or the diversity re-ranking. Shared by ``TrainedModel/recommend(_:count:includeSeen:filter:diversity:kernels:)``
/// and ``BatchExport``.
struct ListSelection: Sendable {
    /// Items that may be listed (nil: all).
    let allowed: [Bool]?
    let reranker: DiversityReranker?

    init(model: TrainedModel, filter: ItemFilter?, diversity: Float) throws {
        allowed = try filter.flatMap { $0.isEmpty ? nil : try $0.mask(for: model) }
        guard diversity != 0 else { reranker = nil; return }
        guard let vectors = model.model.itemVectors else {
            throw RecommenderError.unsupported(model: model.header.model,
                                               operation: "diversity re-ranking (it carries no content vectors: use the hybrid or content model)")
        }
        reranker = try DiversityReranker(lambda: diversity, vectors: vectors)
    }

    /// Sets the scores of items the filter removes to −∞.
    func mask(_ scores: MutableMatrixView) {
        guard let allowed else { return }
        for (i, ok) in allowed.enumerated() where !ok {
            for r in 0..<scores.rows { scores.base[r * scores.stride + i] = -.infinity }
        }
    }

    /// Each row's list (item index, score), best first, at most `count`, candidates only.
    func top(of scores: MatrixView, count: Int, threads: Int) -> [[(index: Int, value: Float)]] {
        if let reranker {
            var lists = [[(index: Int, value: Float)]](repeating: [], count: scores.rows)
            lists.withUnsafeMutableBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return }
                let out = UnsafeSendable(base), view = UnsafeSendableBox(scores)
                Parallel.forEach(count: scores.rows, threads: threads) { r in
                    let v = view.value
                    out.pointer[r] = reranker.rerank(UnsafeBufferPointer(start: v.base + r * v.stride, count: v.cols), count: count)
                }
            }
            return lists
        }
        let (indices, values) = TopK.rows(of: scores, k: count, threads: threads)
        return (0..<scores.rows).map { r in
            (0..<count).compactMap { j in
                let i = Int(indices[r * count + j]), value = values[r * count + j]
                return i >= 0 && value > -.infinity ? (i, value) : nil
            }
        }
    }
}
