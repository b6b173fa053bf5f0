import Foundation

/// The ranking metrics ``RankingMetrics`` reports, each the mean over users of a per-user value.
public enum RankingMetric: String, Sendable, Codable, CaseIterable {
    case recallAt10, recallAt20, ndcgAt10, precisionAt10, mapAt10, hitRateAt10, mrr

    /// The column heading: R@10, NDCG@10, MRR, …
    public var heading: String {
        switch self {
        case .recallAt10: "R@10"
        case .recallAt20: "R@20"
        case .ndcgAt10: "NDCG@10"
        case .precisionAt10: "P@10"
        case .mapAt10: "MAP@10"
        case .hitRateAt10: "HR@10"
        case .mrr: "MRR"
        }
    }

    /// The per-user definition (`rel` a user's relevant movies, ranks 1-based over the full ranking of
    /// the candidates: every train movie the user has not rated).
    public var definition: String {
        switch self {
        case .recallAt10: "|top-10 ∩ rel| / |rel|"
        case .recallAt20: "|top-20 ∩ rel| / |rel|"
        case .ndcgAt10: "Σ_{hits at rank r ≤ 10} 1/log2(r + 1) / Σ_{r ≤ min(10, |rel|)} 1/log2(r + 1)"
        case .precisionAt10: "|top-10 ∩ rel| / 10"
        case .mapAt10: "Σ_{hits at rank r ≤ 10} (hits in top-r / r) / min(10, |rel|)"
        case .hitRateAt10: "1 if top-10 ∩ rel is not empty, else 0"
        case .mrr: "1 / rank of the best-ranked relevant movie in the full ranking (0 if none can be ranked)"
        }
    }
}

/// One user's ranking figures (see ``RankingMetric/definition``).
public struct UserMetrics: Sendable, Equatable {
    public var recallAt10 = 0.0, recallAt20 = 0.0, ndcgAt10 = 0.0, precisionAt10 = 0.0
    public var apAt10 = 0.0, hitAt10 = 0.0, reciprocalRank = 0.0

    /// The figures of `list` (best first, at least 20 items when available) against `relevant`
    /// (not empty). `firstHitRank` is the 1-based rank of the best-ranked relevant movie in the full
    /// ranking (nil: none can be ranked); without it, the rank within `list` is used.
    public init(ranked list: [Int], relevant rel: Set<Int>, firstHitRank: Int?? = .none) {
        guard !rel.isEmpty else { return }
        let top10 = list.prefix(10), top20 = list.prefix(20)
        let h10 = top10.filter { rel.contains($0) }.count
        recallAt10 = Double(h10) / Double(rel.count)
        recallAt20 = Double(top20.filter { rel.contains($0) }.count) / Double(rel.count)
        precisionAt10 = Double(h10) / 10
        hitAt10 = h10 > 0 ? 1 : 0
        var dcg = 0.0, found = 0, precisionSum = 0.0
        for (i, item) in top10.enumerated() where rel.contains(item) {
            dcg += 1 / log2(Double(i) + 2)
            found += 1
            precisionSum += Double(found) / Double(i + 1)
        }
        let ideal = (0..<min(10, rel.count)).reduce(0.0) { $0 + 1 / log2(Double($1) + 2) }
        ndcgAt10 = dcg / ideal
        apAt10 = precisionSum / Double(min(10, rel.count))
        let rank: Int? = firstHitRank ?? list.firstIndex(where: { rel.contains($0) }).map { $0 + 1 }
        reciprocalRank = rank.map { 1 / Double($0) } ?? 0
    }

    /// The value of `metric`.
    public func value(_ metric: RankingMetric) -> Double {
        switch metric {
        case .recallAt10: recallAt10
        case .recallAt20: recallAt20
        case .ndcgAt10: ndcgAt10
        case .precisionAt10: precisionAt10
        case .mapAt10: apAt10
        case .hitRateAt10: hitAt10
        case .mrr: reciprocalRank
        }
    }
}

/// Top-N ranking metrics over the full catalogue, averaged over evaluated users, with a 95 %
/// interval for each (``MeanInterval``: the normal approximation over users).
public struct RankingMetrics: Sendable, Codable, Equatable {
    public var users: Int
    public var recallAt10: Double
    public var recallAt20: Double
    public var ndcgAt10: Double
    public var precisionAt10: Double
    public var hitRateAt10: Double
    /// Mean reciprocal rank of the best-ranked relevant movie in the full ranking.
    public var mrr: Double
    /// Mean average precision at 10: Σ_{hits at rank k ≤ 10} precision@k / min(10, |relevant|).
    public var mapAt10: Double
    /// The 95 % interval of each metric, by ``RankingMetric`` raw value.
    public var intervals: [String: MeanInterval]
    /// Share of the catalogue that appears in at least one top-10 list (nil when not computed).
    public var coverage: Double?
    /// Mean intra-list genre diversity of the top-10 lists: average pairwise 1 − Jaccard(genres).
    public var diversity: Double?
    /// Mean self-information −log₂(share of users who rated the item) of recommended items, in bits.
    public var novelty: Double?
    /// Mean intra-list content diversity of the top-10 lists: average pairwise 1 − cosine of the
    /// model's content vectors (models that carry them; nil otherwise).
    public var contentDiversity: Double?
    /// Recall@K and NDCG@K for K = 1 … the lists' length (50 in evaluations).
    public var curves: Curves?

    /// Mean Recall@K and NDCG@K over users, K = 1, 2, … (what a report plots).
    public struct Curves: Sendable, Codable, Equatable {
        public var recall: [Double]
        public var ndcg: [Double]

        /// The curves of `ranked` against `relevant` (users with no relevant item skipped), up to
        /// the longest list.
        public init(ranked: [[Int]], relevant: [Set<Int>]) {
            let depth = ranked.map(\.count).max() ?? 0
            var recall = [Double](repeating: 0, count: depth), ndcg = [Double](repeating: 0, count: depth)
            var users = 0
            for (list, rel) in zip(ranked, relevant) where !rel.isEmpty {
                users += 1
                var hits = 0, dcg = 0.0, ideal = 0.0
                for k in 0..<depth {
                    if k < list.count && rel.contains(list[k]) {
                        hits += 1
                        dcg += 1 / log2(Double(k) + 2)
                    }
                    if k < rel.count { ideal += 1 / log2(Double(k) + 2) }
                    recall[k] += Double(hits) / Double(rel.count)
                    ndcg[k] += dcg / ideal
                }
            }
            let n = Double(max(1, users))
            self.recall = recall.map { $0 / n }
            self.ndcg = ndcg.map { $0 / n }
        }
    }
    /// Each evaluated user's figures, in the order given (for paired tests; not encoded).
    public var perUser: [UserMetrics]

    enum CodingKeys: String, CodingKey {
        case users, recallAt10, recallAt20, ndcgAt10, precisionAt10, hitRateAt10, mrr, mapAt10, intervals, coverage, diversity, novelty
        case contentDiversity, curves
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        users = try c.decode(Int.self, forKey: .users)
        recallAt10 = try c.decode(Double.self, forKey: .recallAt10)
        recallAt20 = try c.decode(Double.self, forKey: .recallAt20)
        ndcgAt10 = try c.decode(Double.self, forKey: .ndcgAt10)
        precisionAt10 = try c.decode(Double.self, forKey: .precisionAt10)
        hitRateAt10 = try c.decode(Double.self, forKey: .hitRateAt10)
        mrr = try c.decode(Double.self, forKey: .mrr)
        mapAt10 = try c.decode(Double.self, forKey: .mapAt10)
        intervals = try c.decodeIfPresent([String: MeanInterval].self, forKey: .intervals) ?? [:]
        coverage = try c.decodeIfPresent(Double.self, forKey: .coverage)
        diversity = try c.decodeIfPresent(Double.self, forKey: .diversity)
        novelty = try c.decodeIfPresent(Double.self, forKey: .novelty)
        contentDiversity = try c.decodeIfPresent(Double.self, forKey: .contentDiversity)
        curves = try c.decodeIfPresent(Curves.self, forKey: .curves)
        perUser = []
    }

    /// Scores ranked lists against relevant sets: `ranked[u]` best first (≥ 20 items when available),
    /// `relevant[u]` the user's relevant items; `firstHitRanks[u]` (optional) the 1-based rank of the
    /// best-ranked relevant item in the full ranking, nil when none can be ranked — without them MRR
    /// uses the rank within the list. Users with no relevant item are skipped. Definitions:
    /// ``RankingMetric/definition``.
    public init(ranked: [[Int]], relevant: [Set<Int>], firstHitRanks: [Int?]? = nil) {
        perUser = ranked.indices.compactMap { u in
            guard u < relevant.count, !relevant[u].isEmpty else { return nil }
            let rank: Int?? = firstHitRanks.map { u < $0.count ? $0[u] : nil }
            return UserMetrics(ranked: ranked[u], relevant: relevant[u], firstHitRank: rank)
        }
        users = perUser.count
        curves = Curves(ranked: ranked, relevant: relevant)
        var intervals = [String: MeanInterval]()
        for metric in RankingMetric.allCases { intervals[metric.rawValue] = MeanInterval(perUser.map { $0.value(metric) }) }
        self.intervals = intervals
        let mean = { (m: RankingMetric) in intervals[m.rawValue]?.mean ?? 0 }
        recallAt10 = mean(.recallAt10); recallAt20 = mean(.recallAt20); ndcgAt10 = mean(.ndcgAt10)
        precisionAt10 = mean(.precisionAt10); hitRateAt10 = mean(.hitRateAt10); mrr = mean(.mrr); mapAt10 = mean(.mapAt10)
    }

    /// The mean of `metric` (from ``intervals``; 0 if absent).
    public func value(_ metric: RankingMetric) -> Double { intervals[metric.rawValue]?.mean ?? 0 }

    /// Paired t-tests of these per-user figures against `other`'s (the same users, as every model of
    /// one evaluation has), by ``RankingMetric`` raw value.
    public func pairedTests(against other: RankingMetrics) -> [String: PairedTest] {
        guard perUser.count == other.perUser.count else { return [:] }
        var tests = [String: PairedTest]()
        for metric in RankingMetric.allCases {
            tests[metric.rawValue] = PairedTest(perUser.map { $0.value(metric) }, other.perUser.map { $0.value(metric) })
        }
        return tests
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
