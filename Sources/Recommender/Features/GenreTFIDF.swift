import Foundation
import LinearAlgebra

/// TF-IDF vectors of each movie's genre list, as in scikit-learn's `TfidfVectorizer` with the
/// default smooth idf and L2 row normalisation, one token per genre label.
///
/// For `n` movies and a genre `g` that `df(g)` movies carry:
///
///     tf(m, g)  = number of times g appears in m's list (1 for MovieLens lists)
///     idf(g)    = ln((1 + n) / (1 + df(g))) + 1
///     x(m, g)   = tf(m, g) · idf(g) / ‖(tf(m, ·) · idf(·))‖₂
///
/// `Sci-Fi` and `Film-Noir` are single tokens; `(no genres listed)` is no token, so such a movie's
/// row is all zeros. The vocabulary is sorted by name (so columns do not depend on input order).
public struct GenreTFIDF: Sendable {
    /// The genre labels, sorted; column `j` of ``matrix`` is `vocabulary[j]`.
    public let vocabulary: [String]
    /// Smooth idf of each vocabulary entry.
    public let idf: [Float]
    /// Document frequency of each vocabulary entry.
    public let documentFrequency: [Int]
    /// movies × vocabulary, rows L2-normalised.
    public let matrix: Matrix

    /// TF-IDF of `genres[m]` for every movie `m`.
    /// - Complexity: O(movies × genres per movie + movies × vocabulary).
    public init(genres: [[String]]) {
        let labels = genres.map { $0.filter { !$0.isEmpty && $0 != "(no genres listed)" } }
        let vocabulary = Array(Set(labels.joined())).sorted()
        let column = Dictionary(uniqueKeysWithValues: vocabulary.enumerated().map { ($1, $0) })
        var df = [Int](repeating: 0, count: vocabulary.count)
        for list in labels { for g in Set(list) { if let j = column[g] { df[j] += 1 } } }
        let n = Double(labels.count)
        let idf = df.map { Float(log((1 + n) / (1 + Double($0))) + 1) }
        var matrix = Matrix(rows: labels.count, cols: vocabulary.count)
        matrix.withMutableView { x in
            for (m, list) in labels.enumerated() {
                for g in list { if let j = column[g] { x[m, j] += idf[j] } }
                var norm: Float = 0
                for j in 0..<vocabulary.count { norm += x[m, j] * x[m, j] }
                guard norm > 0 else { continue }
                let scale = 1 / norm.squareRoot()
                for j in 0..<vocabulary.count { x[m, j] *= scale }
            }
        }
        self.vocabulary = vocabulary
        self.idf = idf
        self.documentFrequency = df
        self.matrix = matrix
    }
}

/// Dense low-dimensional embeddings by truncated SVD, as scikit-learn's `TruncatedSVD` gives them:
/// `X ≈ U·Σ·Vᵀ`, embedding `= U·Σ` (= `X·V`), one row per input row.
public struct SVDEmbedding: Sendable {
    /// rows × dims.
    public let embeddings: Matrix
    /// dims × features (`Vᵀ`).
    public let components: Matrix
    public let singularValues: [Float]
    /// Variance of each embedding column over the total variance of the input's columns
    /// (`explained_variance_ratio_` in scikit-learn), in `Double`.
    public let explainedVarianceRatio: [Double]

    /// Embeds the rows of `x` in `dims` dimensions (randomized SVD with 4 power iterations).
    /// - Complexity: O(rows × features × (dims + 10) × 10).
    public init(_ x: Matrix, dims: Int, kernels: any Kernels, seed: UInt64) throws {
        let svd = try x.withView { try kernels.truncatedSVD($0, rank: dims, seed: seed) }
        var emb = svd.u
        emb.withMutableView { e in
            for i in 0..<e.rows { for j in 0..<e.cols { e[i, j] *= svd.singularValues[j] } }
        }
        embeddings = emb
        components = svd.vt
        singularValues = svd.singularValues
        let total = SVDEmbedding.columnVarianceSum(x)
        let explained = (0..<emb.cols).map { SVDEmbedding.columnVariance(emb, $0) }
        explainedVarianceRatio = explained.map { total > 0 ? $0 / total : 0 }
    }

    static func columnVariance(_ m: Matrix, _ j: Int) -> Double {
        guard m.rows > 0 else { return 0 }
        var sum = 0.0, sq = 0.0
        for i in 0..<m.rows { let v = Double(m[i, j]); sum += v; sq += v * v }
        let mean = sum / Double(m.rows)
        return max(0, sq / Double(m.rows) - mean * mean)
    }

    static func columnVarianceSum(_ m: Matrix) -> Double {
        guard m.rows > 0, m.cols > 0 else { return 0 }
        var sums = [Double](repeating: 0, count: m.cols), squares = [Double](repeating: 0, count: m.cols)
        m.withView { v in
            for i in 0..<v.rows {
                for j in 0..<v.cols { let x = Double(v[i, j]); sums[j] += x; squares[j] += x * x }
            }
        }
        let n = Double(m.rows)
        return (0..<m.cols).reduce(0) { $0 + max(0, squares[$1] / n - (sums[$1] / n) * (sums[$1] / n)) }
    }
}
