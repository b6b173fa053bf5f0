import Foundation
import LinearAlgebra
import MovieLens

/// EASE (Steck 2019, "Embarrassingly Shallow Autoencoders"): a closed-form item–item model.
///
/// With `X` the binary user × item matrix of positives and `P = (XᵀX + λI)⁻¹`, the weights are
/// `B = I − P·diag(1/diag(P))`, i.e. `B[i][j] = −P[i][j] / P[j][j]` off the diagonal and 0 on it; a
/// user's scores are `x_u·B`. The Gram matrix is built from the sparse rows and inverted through
/// Cholesky (blocked `potrf` and triangular inverse on OpenBLAS).
///
/// Memory: `items²` floats for `B` (the pure-Swift inverse needs a second `items²` scratch while it
/// runs), e.g. 272 MB at 8,246 items, 2.86 GB at 26,744.
public struct EASE: Sendable {
    public var regularization: Float
    /// items × items, after ``fit(_:kernels:)``.
    public internal(set) var weights = Matrix(rows: 0, cols: 0)

    public init(regularization: Float = 500) { self.regularization = regularization }

    /// Bytes the weight matrix of `items` items takes.
    public static func memoryBytes(items: Int) -> Int { items * items * 4 }

    /// Fits on the positives of `userItems` (any stored entry counts as 1).
    ///
    /// The Gram matrix `XᵀX` is built from the sparse rows (``gramLower(_:into:threads:)``, work
    /// Σ_u |I_u|² / 2), then `P = (XᵀX + λI)⁻¹` by the kernels' Cholesky inverse in place, and `B`
    /// overwrites `P` — one `items²` matrix throughout. `stage` hears each step's wall time.
    ///
    /// `side` adds item side information as extra rows of the interaction matrix (Jeunen, Van
    /// Balen & Goethals, RecSys 2020): with `C` the items × d content vectors and weight `w`, the
    /// Gram matrix is `XᵀX + w·C·Cᵀ`, so movies alike in content share weight — and a movie
    /// without ratings gets weights from its content. `w = 0` is plain EASE.
    public mutating func fit(_ userItems: SparseMatrix, side: (vectors: Matrix, weight: Float)? = nil, kernels: any Kernels,
                             stage: (_ name: String, _ seconds: Double) -> Void = { _, _ in }) throws {
        guard regularization > 0, regularization.isFinite else {
            throw RecommenderError.invalidOptions(model: "ease", reason: "λ must be positive")
        }
        let n = userItems.cols
        var clock = DispatchTime.now().uptimeNanoseconds
        func lap(_ name: String) {
            let now = DispatchTime.now().uptimeNanoseconds
            stage(name, Double(now - clock) / 1e9)
            clock = now
        }
        var g = Matrix(rows: n, cols: n)
        g.withMutableView { v in
            Self.gramLower(userItems, into: v, threads: kernels.threads)
            for i in 0..<n { v[i, i] += regularization }
        }
        if let side, side.weight != 0 {
            guard side.vectors.rows == n, side.weight > 0, side.weight.isFinite else {
                throw RecommenderError.invalidOptions(model: "ease", reason: "side information needs one row per item and a positive weight")
            }
            try side.vectors.withView { c in try g.withMutableView { try kernels.syrk(.none, alpha: side.weight, c, beta: 1, $0) } }
        }
        lap("gram")
        try g.withMutableView { try kernels.choleskyInverse($0) }
        lap("inverse")
        // B = −P / diag(P) column-wise, zero diagonal.
        let diagonal = (0..<n).map { g[$0, $0] }
        g.withMutableView { v in
            let out = UnsafeSendable(v.base), stride = v.stride
            diagonal.withUnsafeBufferPointer { d in
                let inverse = UnsafeSendableBox(d)
                Parallel.forChunks(count: n, threads: kernels.threads, minChunk: 64) { rows in
                    let d = inverse.value
                    for i in rows {
                        let row = out.pointer + i * stride
                        for j in 0..<n { row[j] = i == j ? 0 : -row[j] / d[j] }
                    }
                }
            }
        }
        weights = g
        lap("weights")
    }

    /// Adds the lower triangle (`j ≤ i`) of `XᵀX` into `g`, for the binary matrix `X` whose
    /// entries are the stored entries of `userItems` (a column stored twice in a row counts once).
    ///
    /// Row `i` of `g` gathers, over the users of item `i`, their items `j ≤ i`: one output row is
    /// one dense accumulator (at most `items` floats, cache-resident) and rows are independent, so
    /// they are shared out over `threads`. Work Σ_u |I_u|² / 2 additions, against `users · items²`
    /// multiply-adds for a dense SYRK of `X`; the strict upper triangle of `g` is not touched.
    /// Counts are exact in `Float` up to 2²⁴ users per item pair.
    public static func gramLower(_ userItems: SparseMatrix, into g: MutableMatrixView, threads: Int) {
        let n = userItems.cols
        guard n > 0, userItems.nonzeros > 0 else { return }
        let itemUsers = userItems.transposed(threads: threads)
        let out = UnsafeSendable(g.base), stride = g.stride
        userItems.rowStarts.withUnsafeBufferPointer { userStarts in
            userItems.columns.withUnsafeBufferPointer { userColumns in
                itemUsers.rowStarts.withUnsafeBufferPointer { itemStarts in
                    itemUsers.columns.withUnsafeBufferPointer { itemColumns in
                        let input = UnsafeSendableBox((userStarts, userColumns, itemStarts, itemColumns))
                        Parallel.forChunks(count: n, threads: threads, minChunk: 16) { rows in
                            let (userStarts, userColumns, itemStarts, itemColumns) = input.value
                            for i in rows {
                                let row = out.pointer + i * stride
                                var previousUser: Int32 = -1
                                for e in itemStarts[i]..<itemStarts[i + 1] {
                                    let u = itemColumns[e]
                                    if u == previousUser { continue }
                                    previousUser = u
                                    var previousItem: Int32 = -1
                                    for f in userStarts[Int(u)]..<userStarts[Int(u) + 1] {
                                        let j = userColumns[f]
                                        if Int(j) > i { break }
                                        if j != previousItem { row[Int(j)] += 1 }
                                        previousItem = j
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
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
