import Foundation

/// Top-N ranking metrics over the full catalogue, averaged over evaluated users.
public struct RankingMetrics: Sendable, Codable, Equatable {
    public var users: Int
    public var recallAt10: Double
    public var recallAt20: Double
    public var ndcgAt10: Double
    public var precisionAt10: Double
    public var hitRateAt10: Double
    public var mrr: Double

    /// Scores ranked lists against relevant sets: `ranked[u]` best first (≥ 20 items when available),
    /// `relevant[u]` the user's relevant items. Users with no relevant item are skipped.
    ///
    ///     Recall@K = |top-K ∩ relevant| / |relevant|
    ///     NDCG@10  = Σ_{hits at rank i (0-based) < 10} 1/log2(i + 2)  /  Σ_{i < min(10, |relevant|)} 1/log2(i + 2)
    ///     MRR      = 1 / (rank of the first hit in the list, 1-based), 0 without a hit
    public init(ranked: [[Int]], relevant: [Set<Int>]) {
        var n = 0
        var r10 = 0.0, r20 = 0.0, ndcg = 0.0, p10 = 0.0, hits = 0.0, reciprocal = 0.0
        for (list, rel) in zip(ranked, relevant) where !rel.isEmpty {
            n += 1
            let top10 = list.prefix(10), top20 = list.prefix(20)
            let h10 = top10.filter { rel.contains($0) }.count
            r10 += Double(h10) / Double(rel.count)
            r20 += Double(top20.filter { rel.contains($0) }.count) / Double(rel.count)
            p10 += Double(h10) / 10
            if h10 > 0 { hits += 1 }
            var dcg = 0.0
            for (i, item) in top10.enumerated() where rel.contains(item) { dcg += 1 / log2(Double(i) + 2) }
            let ideal = (0..<min(10, rel.count)).reduce(0.0) { $0 + 1 / log2(Double($1) + 2) }
            ndcg += dcg / ideal
            if let first = list.firstIndex(where: { rel.contains($0) }) { reciprocal += 1 / Double(first + 1) }
        }
        let d = Double(max(1, n))
        users = n
        recallAt10 = r10 / d; recallAt20 = r20 / d; ndcgAt10 = ndcg / d; precisionAt10 = p10 / d
        hitRateAt10 = hits / d; mrr = reciprocal / d
    }
}
