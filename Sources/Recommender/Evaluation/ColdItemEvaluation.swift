import Foundation
import LinearAlgebra
import MovieLens

extension RatingSplit {
    /// Item cold start (the LightFM paper's protocol): a seeded `fraction` of the distinct movies
    /// is held out of training entirely; every rating of theirs is a test rating.
    public static func coldItems(_ ratings: Ratings, fraction: Double = 0.2, seed: UInt64 = 0) -> (split: RatingSplit, held: [Int32]) {
        var movies = IDMap(ratings.movieIDs).ids
        var g = SeededGenerator(seed: seed, stream: 7)
        for i in stride(from: movies.count - 1, to: 0, by: -1) { movies.swapAt(i, Int(g.next() % UInt64(i + 1))) }
        let held = Array(movies.prefix(Int((Double(movies.count) * fraction).rounded()))).sorted()
        let isHeld = Set(held)
        let test = (0..<ratings.count).filter { isHeld.contains(ratings.movieIDs[$0]) }
        let train = (0..<ratings.count).filter { !isHeld.contains(ratings.movieIDs[$0]) }
        return (RatingSplit(train: ratings.subset(train), test: ratings.subset(test)), held)
    }
}

/// Ranking movies nobody has rated: each user's relevant held-out movies ranked among all the
/// held-out movies (``RatingSplit/coldItems(_:fraction:seed:)``), by Recall@10, NDCG@10 and AUC.
///
/// Users are those with a train rating (so a model knows them) and a relevant test rating
/// (≥ the threshold). AUC per user is the share of (relevant, other held-out movie) pairs the
/// scores order correctly, ties counting one half.
public struct ColdItemEvaluation: Sendable {
    /// The held-out movies: the candidates.
    public let candidates: IDMap
    /// Evaluated users' ids and their relevant candidates (indices into ``candidates``).
    public let users: [Int32]
    public let relevant: [Set<Int>]

    /// One model's figures, each with its 95 % normal-approximation interval over users.
    public struct Metrics: Sendable, Codable {
        public var users: Int
        public var recallAt10: MeanInterval
        public var ndcgAt10: MeanInterval
        public var auc: MeanInterval
    }

    public init(split: RatingSplit, held: [Int32], relevantThreshold: Float = 4) {
        candidates = IDMap(held)
        let trainUsers = IDMap(split.train.userIDs)
        var byUser = [Int32: Set<Int>]()
        for i in 0..<split.test.count where split.test.values[i] >= relevantThreshold {
            guard trainUsers.index(of: split.test.userIDs[i]) != nil, let c = candidates.index(of: split.test.movieIDs[i]) else { continue }
            byUser[split.test.userIDs[i], default: []].insert(c)
        }
        users = byUser.keys.sorted()
        relevant = users.map { byUser[$0] ?? [] }
    }

    /// The figures of `model`: its scores of the candidates (a candidate the model does not know
    /// scores −∞, below every other).
    public func evaluate(_ model: TrainedModel, kernels: any Kernels, blockSize: Int = 256) throws -> Metrics {
        let columns = candidates.ids.map { model.items.index(of: $0) ?? -1 }
        var perUser = [(recall: Double, ndcg: Double, auc: Double)]()
        var first = 0
        while first < users.count {
            let block = Array(first..<min(users.count, first + blockSize))
            let queries = try block.map { try model.query(userID: users[$0]) }
            var scores = Matrix(rows: block.count, cols: model.items.count)
            try scores.withMutableView { try model.score(queries, into: $0, includeSeen: true, kernels: kernels) }
            for (r, k) in block.enumerated() {
                let row = columns.map { $0 >= 0 ? scores[r, $0] : -.infinity }
                perUser.append(Self.figures(row, relevant: relevant[k]))
            }
            first += blockSize
        }
        return Self.summary(perUser)
    }

    /// The figures of a seeded uniformly random ranking.
    public func random(seed: UInt64) -> Metrics {
        var g = SeededGenerator(seed: seed, stream: 11)
        return Self.summary(relevant.map { rel in
            Self.figures((0..<candidates.count).map { _ in Float(g.nextUnitDouble()) }, relevant: rel)
        })
    }

    /// Recall@10, NDCG@10 and AUC of one user's candidate scores.
    static func figures(_ scores: [Float], relevant: Set<Int>) -> (recall: Double, ndcg: Double, auc: Double) {
        let list = scores.withUnsafeBufferPointer { TopK.select($0, k: 10).map(\.index) }
        let m = UserMetrics(ranked: list, relevant: relevant)
        return (m.recallAt10, m.ndcgAt10, auc(scores, relevant: relevant))
    }

    /// The share of (relevant, other) pairs with the relevant one scored higher, ties one half.
    static func auc(_ scores: [Float], relevant: Set<Int>) -> Double {
        let negatives = scores.count - relevant.count
        guard !relevant.isEmpty, negatives > 0 else { return 0.5 }
        // Ascending scores; each group of equal scores counts its negatives once.
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var below = 0.0, correct = 0.0, i = 0
        while i < order.count {
            var j = i, positives = 0.0, others = 0.0
            while j < order.count && scores[order[j]] == scores[order[i]] {
                if relevant.contains(order[j]) { positives += 1 } else { others += 1 }
                j += 1
            }
            correct += positives * (below + others / 2)
            below += others
            i = j
        }
        return correct / (Double(relevant.count) * Double(negatives))
    }

    static func summary(_ perUser: [(recall: Double, ndcg: Double, auc: Double)]) -> Metrics {
        Metrics(users: perUser.count, recallAt10: MeanInterval(perUser.map(\.recall)), ndcgAt10: MeanInterval(perUser.map(\.ndcg)),
                auc: MeanInterval(perUser.map(\.auc)))
    }
}
