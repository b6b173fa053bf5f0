import Foundation
import LinearAlgebra

/// Exact cosine nearest neighbours of every movie over its content embedding (e.g. the prepared
/// genre + tag embeddings side by side), computed in blocks: `S = E_block · Eᵀ` by GEMM on the
/// chosen backend, then a per-row top-k that skips the movie itself. Memory: one block × movies.
public struct ContentSimilarity: Sendable {
    /// movies × k neighbour indices (−1 where fewer exist), best first.
    public let neighbors: [Int32]
    /// movies × k cosine similarities, aligned with ``neighbors``.
    public let similarities: [Float]
    public let k: Int

    /// Top-`k` cosine neighbours of every row of `embeddings` (rows of zero norm have none above −∞).
    /// - Complexity: O(movies² × dims) in GEMM, O(movies² ) in selection.
    public init(embeddings: Matrix, k: Int, kernels: any Kernels, blockRows: Int = 1024) throws {
        let n = embeddings.rows, d = embeddings.cols
        var unit = embeddings
        unit.withMutableView { v in
            for i in 0..<n {
                var norm: Float = 0
                for j in 0..<d { norm += v[i, j] * v[i, j] }
                let scale: Float = norm > 0 ? 1 / norm.squareRoot() : 0
                for j in 0..<d { v[i, j] *= scale }
            }
        }
        var neighbors = [Int32](repeating: -1, count: n * k)
        var similarities = [Float](repeating: -.infinity, count: n * k)
        var block = Matrix(rows: min(blockRows, max(1, n)), cols: n)
        var first = 0
        while first < n {
            let last = min(n, first + block.rows)
            let rows = last - first
            try unit.withView { e in
                try block.withMutableView { b in
                    let target = b.rows(0..<rows)
                    try kernels.gemm(.none, .transposed, alpha: 1, e.rows(first..<last), e, beta: 0, target)
                    for r in 0..<rows { target[r, first + r] = -.infinity }   // not its own neighbour
                }
            }
            let (idx, vals) = block.withView { TopK.rows(of: $0.rows(0..<rows), k: k, threads: kernels.threads) }
            for r in 0..<rows {
                for j in 0..<k {
                    neighbors[(first + r) * k + j] = idx[r * k + j]
                    similarities[(first + r) * k + j] = vals[r * k + j]
                }
            }
            first = last
        }
        self.neighbors = neighbors
        self.similarities = similarities
        self.k = k
    }
}
