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
    /// Hybrid: the movie that drove the content part — the one just watched, or the user's liked
    /// movie nearest in content.
    public var becauseOf: Int32?
}

extension TrainedModel {
    /// Who is asking: a user of the model or a new user described by their ratings, and optionally
    /// the movie they just watched. Build one with ``query(userID:watched:)`` or ``query(ratings:watched:)``.
    public struct Query: Sendable {
        /// Model index of a known user (nil for a new user).
        public var user: Int?
        /// The user's ratings as (item index, rating): the seen items and, above the model's
        /// `minRating`, the liked ones.
        public var ratings: [(item: Int, rating: Float)]
        /// Item index of the movie just watched.
        public var watched: Int?
        /// The user's recent movies, oldest first (the sequence model's input, before `watched`).
        public var history: [Int32] = []

        /// Liked items: ratings ≥ `minRating`, or all rated items if none reaches it.
        func liked(minRating: Float) -> [(item: Int, rating: Float)] {
            let liked = ratings.filter { $0.rating >= minRating }
            return liked.isEmpty ? ratings : liked
        }
    }

    /// The query of the model's user `userID`.
    /// - Throws: ``MovieLensError/unknownID(kind:id:context:)`` naming the nearest known ids.
    public func query(userID: Int32, watched movieID: Int32? = nil) throws -> Query {
        guard let u = users.index(of: userID) else {
            throw MovieLensError.unknownID(kind: "user", id: Int(userID),
                                           context: "not in the model; nearest known: \(users.nearest(to: userID).map(String.init).joined(separator: ", "))")
        }
        var q = query(index: u)
        q.watched = try movieID.map(itemIndex)
        return q
    }

    /// The query of the user at model index `u` (which must be in range).
    func query(index u: Int) -> Query {
        Query(user: u, ratings: seen.range(ofRow: u).map { (Int(seen.columns[$0]), seen.values[$0]) },
              watched: nil, history: u < recent.count ? recent[u] : [])
    }

    /// The query of a new user from `(movieId, rating)` pairs, oldest first: their factors are
    /// folded in (one solve against the item factors), no retraining; the sequence model reads
    /// the pairs as their history.
    /// - Throws: ``MovieLensError/unknownID(kind:id:context:)`` for a movie the model does not know.
    public func query(ratings: [(movieID: Int32, rating: Float)], watched movieID: Int32? = nil) throws -> Query {
        var seenItems = Set<Int>()
        var list = [(item: Int, rating: Float)]()
        for (id, rating) in ratings {
            let i = try itemIndex(id)
            if seenItems.insert(i).inserted { list.append((i, rating)) }
        }
        return Query(user: nil, ratings: list, watched: try movieID.map(itemIndex), history: list.map { Int32($0.item) })
    }

    /// The model index of movie `id`.
    /// - Throws: ``MovieLensError/unknownID(kind:id:context:)`` naming the nearest known ids.
    public func itemIndex(_ id: Int32) throws -> Int {
        guard let m = items.index(of: id) else {
            throw MovieLensError.unknownID(kind: "movie", id: Int(id),
                                           context: "not in the model; nearest known: \(items.nearest(to: id).map(String.init).joined(separator: ", "))")
        }
        return m
    }

    // MARK: - Scoring

    /// Writes the final scores of every item for each query into the rows of `scores` (queries ×
    /// items), with −∞ for excluded items: the seen ones unless `includeSeen`, and always the movie
    /// just watched. For the hybrid, `parts` (when given, queries × items each) receive the scaled
    /// content and collaborative parts.
    ///
    /// ALS and hybrid score a block with one GEMM `X_block·Yᵀ` (and one `P_block·Cᵀ` for content).
    /// - Complexity: O(queries × items × (factors + content dims)).
    public func score(_ queries: [Query], into scores: MutableMatrixView, includeSeen: Bool = false,
                      parts: (content: MutableMatrixView, collaborative: MutableMatrixView)? = nil, kernels: any Kernels) throws {
        let n = items.count
        guard scores.rows == queries.count, scores.cols == n else {
            throw LinearAlgebraError.dimensionMismatch(operation: "TrainedModel.score", detail: "scores must be \(queries.count) × \(n)")
        }
        func mask(_ target: MutableMatrixView) {
            for (r, q) in queries.enumerated() {
                let row = target.base + r * target.stride
                if !includeSeen { for (i, _) in q.ratings { row[i] = -.infinity } }
                if let w = q.watched { row[w] = -.infinity }
            }
        }
        switch header.kind {
        case .implicitALS:
            try collaborativeScores(queries, into: scores, kernels: kernels)
            mask(scores)
        case .ease:
            itemFactors.withView { b in
                for (r, q) in queries.enumerated() {
                    let row = scores.base + r * scores.stride
                    row.update(repeating: 0, count: n)
                    for (i, _) in q.liked(minRating: header.options.minRating) { accumulate(b.base + i * b.stride, 1, row, n) }
                }
            }
            mask(scores)
        case .sequence:
            guard let network else { throw MovieLensError.invalidArgument("the sequence model has no network") }
            let c = header.options.sequence
            let histories = queries.map { q in q.history + (q.watched.map { [Int32($0)] } ?? []) }
            let model = SequenceRecommender(configuration: c, network: network)
            let s = try model.scores(histories: histories, kernels: kernels)
            s.withView { scores.assign($0) }
            mask(scores)
        case .hybrid:
            var ownContent = Matrix(rows: parts == nil ? queries.count : 0, cols: n)
            var ownCF = Matrix(rows: parts == nil ? queries.count : 0, cols: n)
            try ownContent.withMutableView { oc in
                try ownCF.withMutableView { of in
                    let (c, f) = parts ?? (oc, of)
                    try contentScores(queries, into: c, kernels: kernels)
                    try collaborativeScores(queries, into: f, kernels: kernels)
                    mask(c)
                    for r in 0..<queries.count {
                        header.options.blend.blend(content: c.base + r * c.stride, collaborative: f.base + r * f.stride,
                                                   into: scores.base + r * scores.stride, count: n)
                    }
                }
            }
        }
    }

    /// `X_block·Yᵀ`, with each query's factors from the model or folded in.
    func collaborativeScores(_ queries: [Query], into out: MutableMatrixView, kernels: any Kernels) throws {
        var x = Matrix(rows: queries.count, cols: header.factors)
        for (r, q) in queries.enumerated() {
            if let u = q.user {
                for j in 0..<header.factors { x[r, j] = userFactors[u, j] }
            } else {
                let f = try ImplicitALS.foldIn(q.liked(minRating: header.options.minRating).map { ($0.item, $0.rating) },
                                               itemFactors: itemFactors, regularization: header.options.lambda(for: header.kind),
                                               alpha: header.options.alpha, kernels: kernels)
                for j in 0..<header.factors { x[r, j] = f[j] }
            }
        }
        try x.withView { xv in try itemFactors.withView { y in try kernels.gemm(.none, .transposed, alpha: 1, xv, y, beta: 0, out) } }
    }

    /// `P_block·Cᵀ`: cosine of every item with the watched movie, or else with the user's profile.
    func contentScores(_ queries: [Query], into out: MutableMatrixView, kernels: any Kernels) throws {
        let d = content.cols
        var p = Matrix(rows: queries.count, cols: d)
        content.withView { c in
            p.withMutableView { pv in
                for (r, q) in queries.enumerated() {
                    let row = pv.base + r * pv.stride
                    if let w = q.watched {
                        row.update(from: c.base + w * c.stride, count: d)
                    } else {
                        for (i, _) in q.liked(minRating: header.options.minRating) { accumulate(c.base + i * c.stride, 1, row, d) }
                        ContentEmbeddings.normalize(row, d)
                    }
                }
            }
        }
        try p.withView { pv in try content.withView { c in try kernels.gemm(.none, .transposed, alpha: 1, pv, c, beta: 0, out) } }
    }

    /// The recommendations of one query.
    public func recommend(_ query: Query, count: Int, includeSeen: Bool = false,
                          kernels: any Kernels = SwiftKernels(threads: 1)) throws -> [Recommendation] {
        let n = items.count
        var scores = Matrix(rows: 1, cols: n)
        var partsStore = Matrix(rows: header.kind == .hybrid ? 2 : 0, cols: n)
        try scores.withMutableView { s in
            try partsStore.withMutableView { pv in
                try score([query], into: s, includeSeen: includeSeen,
                          parts: header.kind == .hybrid ? (pv.rows(0..<1), pv.rows(1..<2)) : nil, kernels: kernels)
            }
        }
        let top = scores.withView { TopK.select(UnsafeBufferPointer(start: $0.base, count: n), k: count) }.filter { $0.value > -.infinity }
        return top.map { entry in
            var r = Recommendation(movieID: items.ids[entry.index], title: titles[entry.index], score: entry.value)
            if header.kind == .hybrid {
                r.content = partsStore[0, entry.index]
                r.collaborative = partsStore[1, entry.index]
                r.becauseOf = explanation(for: entry.index, query: query).map { items.ids[$0] }
            }
            return r
        }
    }

    /// Recommendations for the model's user `userID`, optionally just after watching `movieID`.
    public func recommend(userID: Int32, movieID: Int32? = nil, count: Int, includeSeen: Bool = false) throws -> [Recommendation] {
        try recommend(try query(userID: userID, watched: movieID), count: count, includeSeen: includeSeen)
    }

    /// The movie that drove `item`'s content part: the watched one, else the liked one nearest in content.
    func explanation(for item: Int, query: Query) -> Int? {
        if let w = query.watched { return w }
        let d = content.cols
        return content.withView { c in
            query.liked(minRating: header.options.minRating).map(\.item).max { a, b in
                dotProduct(c.base + a * c.stride, c.base + item * c.stride, d) < dotProduct(c.base + b * c.stride, c.base + item * c.stride, d)
            }
        }
    }

    /// The `count` movies most similar to `movieID`: cosine of item factors (ALS), EASE weights, or
    /// for the hybrid the blend of content cosine and item-factor cosine.
    public func similar(movieID: Int32, count: Int) throws -> [Recommendation] {
        let m = try itemIndex(movieID)
        let n = items.count
        func cosines(_ matrix: Matrix) -> [Float] {
            matrix.withView { y in
                let k = y.cols, a = y.base + m * y.stride
                let na = dotProduct(a, a, k).squareRoot()
                return (0..<n).map { i in
                    let b = y.base + i * y.stride
                    let nb = dotProduct(b, b, k).squareRoot()
                    return na > 0 && nb > 0 ? dotProduct(a, b, k) / (na * nb) : 0
                }
            }
        }
        var scores: [Float]
        var parts: (content: [Float], collaborative: [Float])?
        switch header.kind {
        case .implicitALS: scores = cosines(itemFactors)
        case .ease: scores = (0..<n).map { itemFactors[m, $0] }
        case .sequence:
            // What the network predicts right after this one movie.
            guard let network else { throw MovieLensError.invalidArgument("the sequence model has no network") }
            let model = SequenceRecommender(configuration: header.options.sequence, network: network)
            let s = try model.scores(histories: [[Int32(m)]], kernels: SwiftKernels(threads: 1))
            scores = Array(s.row(0))
        case .hybrid:
            var c = cosines(content), f = cosines(itemFactors)
            c[m] = -.infinity
            scores = [Float](repeating: 0, count: n)
            header.options.blend.blend(content: &c, collaborative: &f, into: &scores, count: n)
            parts = (c, f)
        }
        scores[m] = -.infinity
        return scores.withUnsafeBufferPointer { TopK.select($0, k: count) }.filter { $0.value > -.infinity }.map {
            Recommendation(movieID: items.ids[$0.index], title: titles[$0.index], score: $0.value,
                           content: parts?.content[$0.index], collaborative: parts?.collaborative[$0.index],
                           becauseOf: parts == nil ? nil : movieID)
        }
    }
}

extension TrainedModel {
    /// The title of movie `id` ("movie <id>" if the model does not know it).
    public func title(_ id: Int32) -> String { items.index(of: id).map { titles[$0] } ?? "movie \(id)" }
}
