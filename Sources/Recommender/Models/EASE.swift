import Foundation
import LinearAlgebra
import MovieLens

/// EASE (Steck 2019, "Embarrassingly Shallow Autoencoders"): a closed-form item–item model.
///
/// With `X` the binary user × item matrix of positives and `P = (XᵀX + λI)⁻¹`, the weights are
/// `B = I − P·diag(1/diag(P))`, i.e. `B[i][j] = −P[i][j] / P[j][j]` off the diagonal and 0 on it; a
/// user's scores are `x_u·B`. The Gram matrix is streamed from the sparse data in blocks of users
/// (SYRK), and inverted through Cholesky (`potrf`/`potri` on OpenBLAS).
///
/// Memory: `items²` floats for `B` (plus a block of users × items), e.g. 272 MB at 8,246 items.
public struct EASE: Sendable {
    public var regularization: Float
    /// items × items, after ``fit(_:kernels:)``.
    public internal(set) var weights = Matrix(rows: 0, cols: 0)

    public init(regularization: Float = 500) { self.regularization = regularization }

    /// Bytes the weight matrix of `items` items takes.
    public static func memoryBytes(items: Int) -> Int { items * items * 4 }

    /// Fits on the positives of `userItems` (any stored entry counts as 1).
    public mutating func fit(_ userItems: SparseMatrix, kernels: any Kernels, blockRows: Int = 1024) throws {
        guard regularization > 0 else {
            throw RecommenderError.invalidOptions(model: "ease", reason: "λ must be positive")
        }
        let n = userItems.cols
        var g = Matrix(rows: n, cols: n)
        var block = Matrix(rows: min(blockRows, max(1, userItems.rows)), cols: n)
        var first = 0
        while first < userItems.rows {
            let last = min(userItems.rows, first + block.rows)
            block.withMutableView { b in
                b.fill(0)
                for u in first..<last {
                    for e in userItems.range(ofRow: u) { b[u - first, Int(userItems.columns[e])] = 1 }
                }
            }
            try block.withView { bv in
                try g.withMutableView { try kernels.syrk(.transposed, alpha: 1, bv.rows(0..<(last - first)), beta: 1, $0) }
            }
            first = last
        }
        g.withMutableView { v in for i in 0..<n { v[i, i] += regularization } }
        try g.withMutableView { try kernels.choleskyInverse($0) }
        // B = −P / diag(P) column-wise, zero diagonal.
        let diagonal = (0..<n).map { g[$0, $0] }
        g.withMutableView { v in
            for i in 0..<n {
                let row = v.base + i * v.stride
                for j in 0..<n { row[j] = i == j ? 0 : -row[j] / diagonal[j] }
            }
        }
        weights = g
    }

    /// Scores of every item for a user with the given positive items: `Σ_{i ∈ items} B[i, ·]`.
    public func scores(positives items: some Sequence<Int>, into scores: inout [Float]) {
        Self.scores(weights: weights, positives: items, into: &scores)
    }

    /// `scores = Σ_{i ∈ items} weights[i, ·]` for an item–item weight matrix.
    static func scores(weights: Matrix, positives items: some Sequence<Int>, into scores: inout [Float]) {
        let n = weights.cols
        for j in 0..<n { scores[j] = 0 }
        weights.withView { w in
            scores.withUnsafeMutableBufferPointer { s in
                guard let base = s.baseAddress else { return }
                for i in items { VectorOps.axpy(1, w.base + i * w.stride, base, n) }
            }
        }
    }
}
