import LinearAlgebra
import MovieLens

/// A train/test division of ratings.
public struct RatingSplit: Sendable {
    public var train: Ratings
    public var test: Ratings

    /// A split of given train and test ratings.
    public init(train: Ratings, test: Ratings) {
        self.train = train
        self.test = test
    }

    /// Per-user temporal split, the contract the peers harness uses: each user's ratings sorted by
    /// (timestamp, movieId); a user with `n ≥ minRatings` ratings puts the last `⌊n·testFraction⌋`
    /// into test, a user with fewer is all train. Rows keep file order within each side.
    /// - Complexity: O(n log n).
    public static func temporal(_ ratings: Ratings, testFraction: Double = 0.2, minRatings: Int = 5) -> RatingSplit {
        var byUser = [Int32: [Int]]()
        for i in 0..<ratings.count { byUser[ratings.userIDs[i], default: []].append(i) }
        var isTest = [Bool](repeating: false, count: ratings.count)
        for (_, rows) in byUser where rows.count >= minRatings {
            let ordered = rows.sorted {
                (ratings.timestamps[$0], ratings.movieIDs[$0]) < (ratings.timestamps[$1], ratings.movieIDs[$1])
            }
            let testCount = Int(Double(rows.count) * testFraction)
            for i in ordered.suffix(testCount) { isTest[i] = true }
        }
        return RatingSplit(train: ratings.subset((0..<ratings.count).filter { !isTest[$0] }),
                           test: ratings.subset((0..<ratings.count).filter { isTest[$0] }))
    }

    /// Leave-last-one-out: each user with at least 2 ratings puts their last rating by (timestamp,
    /// movieId) into test — the next-movie task the sequence model is judged on.
    /// - Complexity: O(n log n).
    public static func leaveLastOut(_ ratings: Ratings) -> RatingSplit {
        var byUser = [Int32: [Int]]()
        for i in 0..<ratings.count { byUser[ratings.userIDs[i], default: []].append(i) }
        var isTest = [Bool](repeating: false, count: ratings.count)
        for (_, rows) in byUser where rows.count >= 2 {
            if let last = rows.max(by: { (ratings.timestamps[$0], ratings.movieIDs[$0]) < (ratings.timestamps[$1], ratings.movieIDs[$1]) }) {
                isTest[last] = true
            }
        }
        return RatingSplit(train: ratings.subset((0..<ratings.count).filter { !isTest[$0] }),
                           test: ratings.subset((0..<ratings.count).filter { isTest[$0] }))
    }

    /// Seeded random split: each rating goes to test with probability `testFraction` (the same
    /// seed gives the same split).
    public static func random(_ ratings: Ratings, testFraction: Double = 0.2, seed: UInt64 = 0) -> RatingSplit {
        var g = SeededGenerator(seed: seed, stream: 3)
        let isTest = (0..<ratings.count).map { _ in g.nextUnitDouble() < testFraction }
        return RatingSplit(train: ratings.subset((0..<ratings.count).filter { !isTest[$0] }),
                           test: ratings.subset((0..<ratings.count).filter { isTest[$0] }))
    }

    /// K-fold cross-validation: the ratings in a seeded random order, rating `i` of that order in
    /// test fold `i mod count`. The folds' test sets are disjoint and cover every rating once; each
    /// split's train part is every other fold.
    public static func folds(_ ratings: Ratings, count: Int, seed: UInt64 = 0) -> [RatingSplit] {
        let count = max(1, count)
        var g = SeededGenerator(seed: seed, stream: 5)
        var order = Array(0..<ratings.count)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(g.next() % UInt64(i + 1))) }
        var fold = [Int](repeating: 0, count: ratings.count)
        for (position, row) in order.enumerated() { fold[row] = position % count }
        return (0..<count).map { f in
            RatingSplit(train: ratings.subset((0..<ratings.count).filter { fold[$0] != f }),
                        test: ratings.subset((0..<ratings.count).filter { fold[$0] == f }))
        }
    }
}

/// How a validation set is carved from training ratings, to match how the test ratings are chosen.
public enum Carve: String, Sendable, Codable, Hashable, CaseIterable {
    /// Each user's latest ratings (for temporal and leave-last-out tests, and for serving).
    case temporal
    /// A seeded random share of all ratings (for random splits and folds).
    case random

    /// The carve of `fraction` of `ratings` (temporal: users with at least 5 ratings).
    public func apply(_ ratings: Ratings, fraction: Double, seed: UInt64) -> RatingSplit {
        switch self {
        case .temporal: .temporal(ratings, testFraction: fraction)
        case .random: .random(ratings, testFraction: fraction, seed: seed)
        }
    }
}
