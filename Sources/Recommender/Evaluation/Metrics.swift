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
    /// Mean average precision at 10: Σ_{hits at rank k ≤ 10} precision@k / min(10, |relevant|).
    public var mapAt10: Double
    /// Share of the catalogue that appears in at least one top-10 list (nil when not computed).
    public var coverage: Double?
    /// Mean intra-list genre diversity of the top-10 lists: average pairwise 1 − Jaccard(genres).
    public var diversity: Double?
    /// Mean self-information −log₂(share of users who rated the item) of recommended items, in bits.
    public var novelty: Double?

    /// Scores ranked lists against relevant sets: `ranked[u]` best first (≥ 20 items when available),
    /// `relevant[u]` the user's relevant items. Users with no relevant item are skipped.
    ///
    ///     Recall@K = |top-K ∩ relevant| / |relevant|
    ///     NDCG@10  = Σ_{hits at rank i (0-based) < 10} 1/log2(i + 2)  /  Σ_{i < min(10, |relevant|)} 1/log2(i + 2)
    ///     MRR      = 1 / (rank of the first hit in the list, 1-based), 0 without a hit
    public init(ranked: [[Int]], relevant: [Set<Int>]) {
        var n = 0
        var r10 = 0.0, r20 = 0.0, ndcg = 0.0, p10 = 0.0, hits = 0.0, reciprocal = 0.0, map = 0.0
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
            var found = 0, precisionSum = 0.0
            for (i, item) in top10.enumerated() where rel.contains(item) {
                found += 1
                precisionSum += Double(found) / Double(i + 1)
            }
            map += precisionSum / Double(min(10, rel.count))
        }
        let d = Double(max(1, n))
        users = n
        recallAt10 = r10 / d; recallAt20 = r20 / d; ndcgAt10 = ndcg / d; precisionAt10 = p10 / d
        hitRateAt10 = hits / d; mrr = reciprocal / d; mapAt10 = map / d
    }

    /// Fills ``coverage``, ``diversity`` and ``novelty`` from the top-10 of `ranked`, given each
    /// item's genres and how many users rated it among `users`.
    public mutating func addBeyondAccuracy(ranked: [[Int]], genres: [Set<String>], raters: [Int], users: Int) {
        let items = raters.count
        var shown = Set<Int>()
        var diversity = 0.0, novelty = 0.0, lists = 0, recommended = 0
        for list in ranked {
            let top = Array(list.prefix(10).filter { $0 >= 0 && $0 < items })
            shown.formUnion(top)
            for i in top { novelty += -log2(Double(max(1, raters[i])) / Double(max(1, users))) }
            recommended += top.count
            guard top.count >= 2, genres.count == items else { continue }
            var pairs = 0, distance = 0.0
            for a in 0..<top.count {
                for b in (a + 1)..<top.count {
                    let ga = genres[top[a]], gb = genres[top[b]]
                    let union = ga.union(gb).count
                    distance += union == 0 ? 0 : 1 - Double(ga.intersection(gb).count) / Double(union)
                    pairs += 1
                }
            }
            diversity += distance / Double(pairs)
            lists += 1
        }
        coverage = items > 0 ? Double(shown.count) / Double(items) : 0
        self.diversity = genres.count == items && lists > 0 ? diversity / Double(lists) : nil
        self.novelty = recommended > 0 ? novelty / Double(recommended) : 0
    }
}
