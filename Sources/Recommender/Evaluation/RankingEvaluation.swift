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

    public init(split: RatingSplit, relevantThreshold: Float = 4) throws {
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
    }

    /// Metrics of a scorer that fills `scores` (one per item) for a user.
    public func evaluate(count: Int = 20, threads: Int = Backend.defaultThreads,
                         score: @Sendable (_ user: Int, _ scores: inout [Float]) -> Void) -> RankingMetrics {
        let evaluated = (0..<users.count).filter { !relevant[$0].isEmpty }
        let lists = [[Int]](count: evaluated.count, threads: threads) { k in
            let u = evaluated[k]
            var scores = [Float](repeating: 0, count: items.count)
            score(u, &scores)
            for e in seen.range(ofRow: u) { scores[Int(seen.columns[e])] = -.infinity }
            return scores.withUnsafeBufferPointer { TopK.select($0, k: count) }.filter { $0.value > -.infinity }.map(\.index)
        }
        return RankingMetrics(ranked: lists, relevant: evaluated.map { relevant[$0] })
    }

    /// Most-popular baseline: score = number of train ratings ≥ threshold per item (ties by lower id).
    public func popularity(count: Int = 20) -> RankingMetrics {
        var counts = [Float](repeating: 0, count: items.count)
        for c in positives.columns { counts[Int(c)] += 1 }
        let tieBroken = counts.enumerated().map { $0.element - Float($0.offset) * 1e-7 }
        return evaluate(count: count) { _, scores in scores = tieBroken }
    }

    /// Implicit ALS fitted on ``positives`` (confidence 1 + α·rating), scored by `x_u · y_i`.
    public func implicitALS(_ model: inout ImplicitALS, kernels: any Kernels, count: Int = 20) throws -> RankingMetrics {
        _ = try model.fit(positives, kernels: kernels, trackLoss: false)
        let x = model.userFactors, y = model.itemFactors
        return evaluate(count: count, threads: kernels.threads) { u, scores in
            ImplicitALS.scores(user: u, userFactors: x, itemFactors: y, into: &scores)
        }
    }

    /// EASE fitted on ``positives``.
    public func ease(_ model: inout EASE, kernels: any Kernels, count: Int = 20) throws -> RankingMetrics {
        try model.fit(positives, kernels: kernels)
        let fitted = model
        let positives = self.positives
        return evaluate(count: count, threads: kernels.threads) { u, scores in
            fitted.scores(positives: positives.range(ofRow: u).map { Int(positives.columns[$0]) }, into: &scores)
        }
    }

    /// RMSE and MAE of explicit ALS fitted on all train ratings, over every test rating.
    public func explicitALS(_ model: inout ExplicitALS, split: RatingSplit, kernels: any Kernels) throws -> (rmse: Double, mae: Double) {
        _ = try model.fit(seen, kernels: kernels)   // every train rating, not only the positives
        var squared = 0.0, absolute = 0.0
        for i in 0..<split.test.count {
            let u = users.index(of: split.test.userIDs[i]) ?? -1, m = items.index(of: split.test.movieIDs[i]) ?? -1
            let diff = Double(model.predict(user: u, item: m) - split.test.values[i])
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
