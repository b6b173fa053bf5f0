import LinearAlgebra
import MovieLens

/// Top-N evaluation on a split, with the peers harness's conventions: users = every user in the
/// ratings; items = the movies present in train; relevant = a user's test movies rated ≥
/// `relevantThreshold`; candidates = all items minus everything the user rated in train; full
/// ranking, no sampled negatives.
public struct RankingEvaluation: Sendable {
    public let users: IDMap
    public let items: IDMap
    /// users × items, every train rating (the seen mask).
    public let seen: SparseMatrix
    /// users × items, train ratings ≥ `relevantThreshold`, valued by the rating (the training input).
    public let positives: SparseMatrix
    /// Relevant item indices per user.
    public let relevant: [Set<Int>]
    /// Genres of each item (empty sets when no movies were given): for intra-list diversity.
    public let genres: [Set<String>]
    /// How many users rated each item in train: for novelty.
    public let raters: [Int]

    /// Builds the evaluation of `split`; `movies` (optional) supply the genres for diversity.
    public init(split: RatingSplit, relevantThreshold: Float = 4, movies: [Movie] = []) throws {
        let all = Ratings(userIDs: split.train.userIDs + split.test.userIDs, movieIDs: split.train.movieIDs + split.test.movieIDs,
                          values: split.train.values + split.test.values, timestamps: split.train.timestamps + split.test.timestamps)
        users = IDMap(all.userIDs)
        items = IDMap(split.train.movieIDs)
        (seen, positives) = interactionMatrices(split.train, users: users, items: items, minRating: relevantThreshold)
        var relevant = [Set<Int>](repeating: [], count: users.count)
        for i in 0..<split.test.count where split.test.values[i] >= relevantThreshold {
            guard let u = users.index(of: split.test.userIDs[i]) else { continue }
            // A test movie never seen in train cannot be recommended but still counts as relevant.
            relevant[u].insert(items.index(of: split.test.movieIDs[i]) ?? -1 - i)
        }
        self.relevant = relevant
        let byID = Dictionary(movies.map { ($0.id, Set($0.genres)) }, uniquingKeysWith: { a, _ in a })
        genres = movies.isEmpty ? [] : items.ids.map { byID[$0] ?? [] }
        var raters = [Int](repeating: 0, count: items.count)
        for c in seen.columns { raters[Int(c)] += 1 }
        self.raters = raters
    }

    /// The evaluated users: those with a relevant item.
    var evaluatedUsers: [Int] { (0..<users.count).filter { !relevant[$0].isEmpty } }

    /// Ranking metrics (with coverage, diversity, novelty) of lists for ``evaluatedUsers``, with each
    /// user's full-ranking rank of the first hit.
    func metrics(_ lists: [[Int]], firstHitRanks: [Int?], users evaluated: [Int]) -> RankingMetrics {
        var m = RankingMetrics(ranked: lists, relevant: evaluated.map { relevant[$0] }, firstHitRanks: firstHitRanks)
        m.addBeyondAccuracy(ranked: lists, genres: genres, raters: raters, users: seen.rows)
        return m
    }

    /// Metrics of a trained model (any kind) fitted on the split's train ratings: users are scored
    /// in blocks through ``TrainedModel/score(_:into:includeSeen:parts:kernels:)`` with what they
    /// rated in train masked; a user the model does not know gets no list. `diversity` > 0 re-ranks
    /// each list by ``DiversityReranker`` (the model must carry content vectors).
    public func evaluate(_ model: TrainedModel, count: Int = 50, diversity: Float = 0, kernels: any Kernels,
                         blockSize: Int = 256) throws -> RankingMetrics {
        try evaluate(model, count: count, diversities: [diversity], kernels: kernels, blockSize: blockSize)[0]
    }

    /// The metrics of `model`'s lists re-ranked at each λ of `diversities` (0: the plain ranking),
    /// from one scoring pass. MRR's first-hit rank is the plain full ranking's at every λ.
    /// - Throws: ``RecommenderError/unsupported(model:operation:)`` for λ > 0 on a model without
    ///   content vectors.
    public func evaluate(_ model: TrainedModel, count: Int = 50, diversities: [Float], kernels: any Kernels,
                         blockSize: Int = 256) throws -> [RankingMetrics] {
        let selections = try diversities.map { try ListSelection(model: model, filter: nil, diversity: $0) }
        let evaluated = evaluatedUsers
        var lists = [[[Int]]](repeating: [[Int]](repeating: [], count: evaluated.count), count: selections.count)
        var contentDistance = [Double](repeating: 0, count: selections.count)
        var contentLists = [Int](repeating: 0, count: selections.count)
        var ranks = [Int?](repeating: nil, count: evaluated.count)
        // The model's items are the train movies, as ours; map in case the orders ever differ.
        let toOurs = model.items.ids.map { items.index(of: $0) ?? -1 }
        let toModel = items.ids.map { model.items.index(of: $0) ?? -1 }
        var first = 0
        while first < evaluated.count {
            let block = Array(first..<min(evaluated.count, first + blockSize))
            let known = block.compactMap { k -> (Int, TrainedModel.Query)? in
                guard let q = try? model.query(userID: users.ids[evaluated[k]]) else { return nil }
                return (k, q)
            }
            var scores = Matrix(rows: known.count, cols: model.items.count)
            if !known.isEmpty {
                try scores.withMutableView { s in
                    try model.score(known.map(\.1), into: s, kernels: kernels)
                    // Movies of the model's catalogue that are not train movies are not candidates.
                    for (i, ours) in toOurs.enumerated() where ours < 0 {
                        for r in 0..<s.rows { s.base[r * s.stride + i] = -.infinity }
                    }
                }
            }
            scores.withView { v in
                for (r, (k, _)) in known.enumerated() {
                    let row = UnsafeBufferPointer(start: v.base + r * v.stride, count: v.cols)
                    ranks[k] = Self.firstHitRank(row, relevant: relevant[evaluated[k]].map { $0 >= 0 ? toModel[$0] : -1 })
                }
                for (s, selection) in selections.enumerated() {
                    // Re-ranked lists are cut at 20 (their metrics read the top 10; the pool is the best 200).
                    let top = selection.top(of: v, count: selection.reranker == nil ? count : min(count, 20), threads: kernels.threads)
                    for (r, (k, _)) in known.enumerated() { lists[s][k] = top[r].map { toOurs[$0.index] } }
                    if let vectors = model.model.itemVectors {
                        for list in top where list.count >= 2 {
                            contentDistance[s] += Self.contentDistance(list.prefix(10).map(\.index), vectors)
                            contentLists[s] += 1
                        }
                    }
                }
            }
            first += blockSize
        }
        return lists.enumerated().map { s, list in
            var m = metrics(list, firstHitRanks: ranks, users: evaluated)
            if model.model.itemVectors != nil { m.contentDiversity = contentLists[s] > 0 ? contentDistance[s] / Double(contentLists[s]) : 0 }
            return m
        }
    }

    /// Mean pairwise `1 − cos` of the unit `vectors` rows of `items`.
    static func contentDistance(_ items: [Int], _ vectors: Matrix) -> Double {
        guard items.count >= 2 else { return 0 }
        let d = vectors.cols
        return vectors.withView { v in
            var sum = 0.0, pairs = 0
            for a in 0..<items.count {
                for b in (a + 1)..<items.count {
                    sum += 1 - Double(VectorOps.dot(v.base + items[a] * v.stride, v.base + items[b] * v.stride, d))
                    pairs += 1
                }
            }
            return sum / Double(pairs)
        }
    }

    /// The 1-based rank, among the finite `scores`, of the best-scored item of `relevant` (ties go
    /// to the lower index, as ``TopK`` breaks them); nil when no relevant item has a finite score.
    static func firstHitRank(_ scores: UnsafeBufferPointer<Float>, relevant: some Sequence<Int>) -> Int? {
        var best = -1, bestScore = -Float.infinity
        for i in relevant where i >= 0 && i < scores.count && scores[i] > -.infinity {
            if best < 0 || scores[i] > bestScore || (scores[i] == bestScore && i < best) { (best, bestScore) = (i, scores[i]) }
        }
        guard best >= 0 else { return nil }
        var rank = 1
        for j in 0..<scores.count where scores[j] > bestScore || (scores[j] == bestScore && j < best) { rank += 1 }
        return rank
    }

    /// Metrics of a scorer that fills `scores` (one per item) for a user.
    public func evaluate(count: Int = 50, threads: Int = Parallel.cores,
                         score: @Sendable (_ user: Int, _ scores: inout [Float]) -> Void) -> RankingMetrics {
        let evaluated = evaluatedUsers
        let results = [([Int], Int?)](count: evaluated.count, threads: threads) { k in
            let u = evaluated[k]
            var scores = [Float](repeating: 0, count: items.count)
            score(u, &scores)
            for e in seen.range(ofRow: u) { scores[Int(seen.columns[e])] = -.infinity }
            return scores.withUnsafeBufferPointer { buffer in
                (TopK.select(buffer, k: count).filter { $0.value > -.infinity }.map(\.index),
                 Self.firstHitRank(buffer, relevant: relevant[u]))
            }
        }
        return metrics(results.map(\.0), firstHitRanks: results.map(\.1), users: evaluated)
    }

    /// Most-popular baseline: score = number of train ratings ≥ threshold per item (ties by lower id).
    public func popularity(count: Int = 50) -> RankingMetrics {
        var counts = [Float](repeating: 0, count: items.count)
        for c in positives.columns { counts[Int(c)] += 1 }
        let tieBroken = counts.enumerated().map { $0.element - Float($0.offset) * 1e-7 }
        return evaluate(count: count) { _, scores in scores = tieBroken }
    }

    /// Implicit ALS fitted on ``positives`` (confidence 1 + α·rating), scored by `x_u · y_i`.
    public func implicitALS(_ model: inout ImplicitALS, kernels: any Kernels, count: Int = 50) throws -> RankingMetrics {
        _ = try model.fit(positives, kernels: kernels, trackLoss: false)
        let x = model.userFactors, y = model.itemFactors
        return evaluate(count: count, threads: kernels.threads) { u, scores in
            ImplicitALS.scores(user: u, userFactors: x, itemFactors: y, into: &scores)
        }
    }

    /// RMSE and MAE of a fitted rating predictor over every test rating (on the test rating's day).
    public func errors(of predictor: any RatingPredictor, split: RatingSplit) -> (rmse: Double, mae: Double) {
        errors(split: split) { predictor.predict(user: $0, item: $1, day: TimedRatings.day(split.test.timestamps[$2])) }
    }

    /// RMSE and MAE of `predict(user index, item index, test row)` (−1 for unknown) over every test rating.
    func errors(split: RatingSplit, predict: (Int, Int, Int) -> Float) -> (rmse: Double, mae: Double) {
        var squared = 0.0, absolute = 0.0
        for i in 0..<split.test.count {
            let u = users.index(of: split.test.userIDs[i]) ?? -1, m = items.index(of: split.test.movieIDs[i]) ?? -1
            let diff = Double(predict(u, m, i) - split.test.values[i])
            squared += diff * diff
            absolute += abs(diff)
        }
        let n = Double(max(1, split.test.count))
        return ((squared / n).squareRoot(), absolute / n)
    }
}

/// The users × items matrices of `ratings`: every rating (the seen mask and explicit-rating input)
/// and the ratings ≥ `minRating` (the implicit positives), both valued by the rating. Ratings of
/// users or items outside the maps are left out.
func interactionMatrices(_ ratings: Ratings, users: IDMap, items: IDMap, minRating: Float) -> (seen: SparseMatrix, positives: SparseMatrix) {
    let rows = users.indices(of: ratings.userIDs), cols = items.indices(of: ratings.movieIDs)
    let known = (0..<ratings.count).filter { rows[$0] >= 0 && cols[$0] >= 0 }
    let positive = known.filter { ratings.values[$0] >= minRating }
    func matrix(_ keep: [Int]) -> SparseMatrix {
        SparseMatrix(rows: users.count, cols: items.count, rowIndices: keep.map { rows[$0] },
                     colIndices: keep.map { cols[$0] }, values: keep.map { ratings.values[$0] })
    }
    return (matrix(known), matrix(positive))
}
