import LinearAlgebra

/// Collaborative factors for movies with few or no ratings, predicted from their content: a ridge
/// regression `W = (CᵀC + μI)⁻¹·CᵀY` from content vectors to item factors, fit on the well-rated
/// movies, then `ŷ_i = c_i·W` for the others — the hybrid's ALS part ranks movies nobody has rated.
///
/// A movie with `n` positives below ``blendBelow`` gets `(n / blendBelow)·y_i + (1 − n / blendBelow)·ŷ_i`:
/// the prediction alone at zero ratings, its own factors once it has enough.
public struct ContentToFactors: Sendable {
    /// Movies with at least this many positives train the regression.
    public var minimumRatings = 20
    /// Movies with fewer positives get (a share of) the predicted factors.
    public var blendBelow = 5
    /// The ridge μ.
    public var ridge: Float = 1

    public init() {}

    /// What ``apply(to:content:counts:kernels:)`` did.
    public struct Report: Sendable, Equatable {
        /// Movies the regression was fit on.
        public var fitted: Int
        /// Movies whose factors were (partly) predicted.
        public var predicted: Int
    }

    /// Replaces the factors of the rarely rated rows of `factors` (items × k) by their content
    /// prediction; `content` is items × d (aligned), `counts` each item's positives. Nothing changes
    /// when fewer movies than content dimensions are well rated.
    public func apply(to factors: inout Matrix, content: Matrix, counts: [Int], kernels: any Kernels) throws -> Report {
        let n = factors.rows, k = factors.cols, d = content.cols
        guard content.rows == n, counts.count == n, d > 0, k > 0 else { return Report(fitted: 0, predicted: 0) }
        let train = (0..<n).filter { counts[$0] >= minimumRatings }
        let rare = (0..<n).filter { counts[$0] < blendBelow }
        guard train.count > d, !rare.isEmpty else { return Report(fitted: train.count, predicted: 0) }
        var c = Matrix(rows: train.count, cols: d), y = Matrix(rows: train.count, cols: k)
        for (r, i) in train.enumerated() {
            for j in 0..<d { c[r, j] = content[i, j] }
            for j in 0..<k { y[r, j] = factors[i, j] }
        }
        var gram = Matrix(rows: d, cols: d), w = Matrix(rows: d, cols: k)
        try c.withView { cv in
            try gram.withMutableView { try kernels.gemm(.transposed, .none, alpha: 1, cv, cv, beta: 0, $0) }
            try y.withView { yv in try w.withMutableView { try kernels.gemm(.transposed, .none, alpha: 1, cv, yv, beta: 0, $0) } }
        }
        for j in 0..<d { gram[j, j] += ridge }
        try gram.withMutableView { g in
            try kernels.choleskyFactor(g)
            try w.withMutableView { try kernels.choleskySolve(factor: g.view, $0) }
        }
        for i in rare {
            let own = Float(counts[i]) / Float(blendBelow)
            for j in 0..<k {
                var predicted: Float = 0
                for p in 0..<d { predicted += content[i, p] * w[p, j] }
                factors[i, j] = own * factors[i, j] + (1 - own) * predicted
            }
        }
        return Report(fitted: train.count, predicted: rare.count)
    }
}
