import LinearAlgebra

/// Maximal marginal relevance (Carbonell & Goldstein, SIGIR 1998) over unit content vectors:
/// `recommend`/`export`/`evaluate`'s `--diversity λ`.
///
/// From the best ``pool(for:)`` candidates of a score row, the list is built greedily: each step
/// takes the candidate maximising `(1 − λ)·rel(i) − λ·max_{j chosen} cos(i, j)`, where `rel` is the
/// score min–max scaled over the pool (so λ means the same for every model's score scale). λ = 0
/// gives the plain ranking; λ = 1 ignores the scores after the first pick. Ties go to the better
/// plain rank.
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

    /// How many of the best candidates a list of `count` is chosen from.
    public static func pool(for count: Int) -> Int { max(100, 5 * count) }

    /// The re-ranked top `count` of `scores` (−∞ = not a candidate), as (item, original score).
    public func rerank(_ scores: UnsafeBufferPointer<Float>, count: Int) -> [(index: Int, value: Float)] {
        let pool = TopK.select(scores, k: Self.pool(for: count)).filter { $0.value > -.infinity }
        return rerank(pool: pool, count: count)
    }

    /// The re-ranked first `count` of `pool` (best first, as ``TopK/select(_:k:)`` returns it).
    public func rerank(pool: [(index: Int, value: Float)], count: Int) -> [(index: Int, value: Float)] {
        guard let best = pool.first?.value, let worst = pool.last?.value else { return [] }
        let span = best - worst
        let relevance = pool.map { span > 0 ? ($0.value - worst) / span : 1 }
        var closest = [Float](repeating: 0, count: pool.count)
        var taken = [Bool](repeating: false, count: pool.count)
        var out = [(index: Int, value: Float)]()
        out.reserveCapacity(min(count, pool.count))
        let d = vectors.cols
        vectors.withView { v in
            while out.count < min(count, pool.count) {
                var pick = -1, pickValue = -Float.infinity
                for c in 0..<pool.count where !taken[c] {
                    let value = (1 - lambda) * relevance[c] - (out.isEmpty ? 0 : lambda * closest[c])
                    if value > pickValue { (pick, pickValue) = (c, value) }
                }
                guard pick >= 0 else { break }
                taken[pick] = true
                out.append(pool[pick])
                guard lambda > 0 else { continue }
                let chosen = v.base + pool[pick].index * v.stride
                for c in 0..<pool.count where !taken[c] {
                    let similarity = VectorOps.dot(v.base + pool[c].index * v.stride, chosen, d)
                    if out.count == 1 || similarity > closest[c] { closest[c] = similarity }
                }
            }
        }
        return out
    }
}
