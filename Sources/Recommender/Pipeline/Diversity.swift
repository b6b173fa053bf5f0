import LinearAlgebra

/// Maximal marginal relevance (Carbonell & Goldstein, SIGIR 1998) over unit content vectors:
/// `recommend`/`export`/`evaluate`'s `--diversity λ`.
///
/// From the best ``pool(for:)`` candidates of a score row, the list is built greedily: each step
/// takes the candidate maximising `(1 − λ)·rel(i) − λ·red(i)`, where `rel` is the score
/// standardized over the pool and `red` the redundancy `mean_{j chosen} cos(i, j)` standardized
/// over the candidates left — both in standard deviations, so λ means the same for every model's
/// score scale and every content space (λ = 0.5 weighs one sd of each alike). The mean (rather
/// than MMR's classic maximum) makes each pick the largest gain in the list's intra-list
/// distance, and traded better on MovieLens (BENCHMARKS.md). λ = 0 gives the plain ranking;
/// λ = 1 ignores the scores after the first pick. Ties go to the better plain rank.
public struct DiversityReranker: Sendable {
    /// The trade-off λ in [0, 1].
    public let lambda: Float
    /// items × dims, unit rows (zero rows count as unlike everything).
    public let vectors: Matrix

    /// - Throws: ``RecommenderError/invalidOptions(model:reason:)`` unless 0 ≤ λ ≤ 1.
    public init(lambda: Float, vectors: Matrix) throws {
        guard lambda.isFinite, (0...1).contains(lambda) else {
            throw RecommenderError.invalidOptions(model: "diversity", reason: "λ must be between 0 and 1 (0 = off), got \(lambda)")
        }
        self.lambda = lambda
        self.vectors = vectors
    }

    /// `(x − mean) / sd` (all 0 when the values are equal).
    static func standardized(_ x: [Float]) -> [Float] {
        let n = Double(x.count)
        guard n > 0 else { return [] }
        let mean = x.reduce(0.0) { $0 + Double($1) } / n
        let variance = x.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
        let scale = variance > 0 ? 1 / variance.squareRoot() : 0
        return x.map { Float((Double($0) - mean) * scale) }
    }

    /// How many of the best candidates a list of `count` is chosen from.
    public static func pool(for count: Int) -> Int { max(200, 10 * count) }

    /// The re-ranked top `count` of `scores` (−∞ = not a candidate), as (item, original score).
    public func rerank(_ scores: UnsafeBufferPointer<Float>, count: Int) -> [(index: Int, value: Float)] {
        let pool = TopK.select(scores, k: Self.pool(for: count)).filter { $0.value > -.infinity }
        return rerank(pool: pool, count: count)
    }

    /// The re-ranked first `count` of `pool` (best first, as ``TopK/select(_:k:)`` returns it).
    public func rerank(pool: [(index: Int, value: Float)], count: Int) -> [(index: Int, value: Float)] {
        guard !pool.isEmpty else { return [] }
        let relevance = Self.standardized(pool.map(\.value))
        var similaritySum = [Float](repeating: 0, count: pool.count)   // to the movies picked so far
        var taken = [Bool](repeating: false, count: pool.count)
        var out = [(index: Int, value: Float)]()
        out.reserveCapacity(min(count, pool.count))
        let d = vectors.cols
        vectors.withView { v in
            while out.count < min(count, pool.count) {
                // Redundancy on the same scale as relevance: standardized over the remaining candidates.
                let open = (0..<pool.count).filter { !taken[$0] }
                let redundancy = out.isEmpty ? [Float](repeating: 0, count: open.count) : Self.standardized(open.map { similaritySum[$0] })
                var pick = -1, pickValue = -Float.infinity
                for (o, c) in open.enumerated() {
                    let value = (1 - lambda) * relevance[c] - lambda * redundancy[o]
                    if value > pickValue { (pick, pickValue) = (c, value) }
                }
                guard pick >= 0 else { break }
                taken[pick] = true
                out.append(pool[pick])
                guard lambda > 0 else { continue }
                let chosen = v.base + pool[pick].index * v.stride
                for c in 0..<pool.count where !taken[c] {
                    let similarity = VectorOps.dot(v.base + pool[c].index * v.stride, chosen, d)
                    similaritySum[c] += similarity
                }
            }
        }
        return out
    }
}
