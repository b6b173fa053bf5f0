import Foundation
import LinearAlgebra
import MovieLens

/// Explicit-rating matrix factorization with biases by alternating least squares, for rating
/// prediction: `r̂(u, i) = μ + b_u + b_i + x_u·y_i`, fitted with weighted-λ regularisation
/// (Zhou et al. 2008: each row's penalty is `λ·n` for its `n` ratings).
///
/// Biases ride along as an extra coordinate: solving for a user uses features `[y_i, 1]` and target
/// `r − μ − b_i` to get `[x_u, b_u]`; solving for an item uses `[x_u, 1]` and `r − μ − b_u` to get
/// `[y_i, b_i]`. Each row's (k+1)-dimensional system is built by SYRK over the gathered rows and
/// solved by Cholesky on the chosen backend; rows are spread over the cores.
public struct ExplicitALS: Sendable {
    public var factors: Int
    public var regularization: Float
    public var iterations: Int
    public var seed: UInt64
    public private(set) var globalMean: Float = 0
    /// users × (factors + 1): the last column is the user bias.
    public private(set) var users = Matrix(rows: 0, cols: 0)
    /// items × (factors + 1): the last column is the item bias.
    public private(set) var items = Matrix(rows: 0, cols: 0)
    public private(set) var ratingRange: ClosedRange<Float> = 0.5...5

    public init(factors: Int = 64, regularization: Float = 0.12, iterations: Int = 15, seed: UInt64 = 0) {
        self.factors = factors
        self.regularization = regularization
        self.iterations = iterations
        self.seed = seed
    }

    /// Fits to `userItems` (users × items, values = ratings). Returns the training RMSE after each iteration.
    public mutating func fit(_ userItems: SparseMatrix, kernels: any Kernels) throws -> [Double] {
        guard factors > 0, regularization > 0, iterations >= 0, userItems.nonzeros > 0 else {
            throw RecommenderError.invalidOptions(model: "explicit ALS", reason: "needs ratings, factors > 0 and λ > 0")
        }
        globalMean = userItems.values.reduce(0, +) / Float(userItems.nonzeros)
        ratingRange = (userItems.values.min() ?? 0.5)...(userItems.values.max() ?? 5)
        var g = SeededGenerator(seed: seed)
        func initial(_ rows: Int) -> Matrix {
            var m = Matrix(rows: rows, cols: factors + 1)
            m.withMutableView { v in for i in 0..<rows { for j in 0..<factors { v[i, j] = Float(g.nextGaussian()) * 0.1 } } }
            return m
        }
        users = initial(userItems.rows)
        items = initial(userItems.cols)
        let byItem = userItems.transposed(threads: kernels.threads)
        var history = [Double]()
        for _ in 0..<iterations {
            try Self.solveHalf(userItems, fixed: items, into: &users, mean: globalMean, lambda: regularization, kernels: kernels)
            try Self.solveHalf(byItem, fixed: users, into: &items, mean: globalMean, lambda: regularization, kernels: kernels)
            history.append(rmse(userItems))
        }
        return history
    }

    /// For every row: solve `(ZᵀZ + λ·n·I)·w = Zᵀ(r − μ − b_other)` with `Z` the rows `[v_j, 1]` of
    /// the fixed side; `w` = `[factors, bias]`.
    static func solveHalf(_ rows: SparseMatrix, fixed: Matrix, into target: inout Matrix, mean: Float, lambda: Float,
                          kernels: any Kernels) throws {
        let d = fixed.cols            // factors + 1
        let serial = kernels.singleThreaded()
        let failure = FirstError()
        let input = UnsafeSendableBox((rows, fixed))
        target.withMutableView { out in
            let output = UnsafeSendableBox(out)
            Parallel.forChunks(count: rows.rows, threads: kernels.threads, minChunk: 64) { range in
                let (rows, fixed) = input.value
                let out = output.value
                let longest = range.map { rows.range(ofRow: $0).count }.max() ?? 0
                let z = UnsafeMutablePointer<Float>.allocate(capacity: max(1, longest) * d)
                let a = UnsafeMutablePointer<Float>.allocate(capacity: d * d)
                let b = UnsafeMutablePointer<Float>.allocate(capacity: d)
                defer { z.deallocate(); a.deallocate(); b.deallocate() }
                fixed.withView { f in
                    for r in range {
                        let entries = rows.range(ofRow: r)
                        let w = out.base + r * out.stride
                        guard !entries.isEmpty else { w.update(repeating: 0, count: d); continue }
                        b.update(repeating: 0, count: d)
                        for (slot, e) in entries.enumerated() {
                            let src = f.base + Int(rows.columns[e]) * f.stride
                            let row = z + slot * d
                            row.update(from: src, count: d - 1)
                            row[d - 1] = 1
                            let target = rows.values[e] - mean - src[d - 1]
                            VectorOps.axpy(target, row, b, d)
                        }
                        let av = MutableMatrixView(base: a, rows: d, cols: d, stride: d)
                        do {
                            try serial.syrk(.transposed, alpha: 1, MatrixView(base: z, rows: entries.count, cols: d, stride: d), beta: 0, av)
                            let penalty = lambda * Float(entries.count)
                            for j in 0..<d { av[j, j] += penalty }
                            try serial.choleskyFactor(av)
                            try serial.choleskySolve(factor: av.view, MutableMatrixView(base: b, rows: d, cols: 1, stride: 1))
                            w.update(from: b, count: d)
                        } catch {
                            failure.record(r, error)
                        }
                    }
                }
            }
        }
        if let error = failure.first { throw error }
    }

    /// Predicted rating, clipped to the training range; unknown users or items (index −1) get their
    /// missing parts as zero (so an unknown pair predicts the global mean).
    public func predict(user: Int, item: Int) -> Float {
        var r = globalMean
        let k = factors
        let knownUser = user >= 0 && user < users.rows, knownItem = item >= 0 && item < items.rows
        if knownUser { r += users[user, k] }
        if knownItem { r += items[item, k] }
        if knownUser && knownItem {
            users.withView { u in items.withView { i in r += VectorOps.dot(u.base + user * u.stride, i.base + item * i.stride, k) } }
        }
        return min(ratingRange.upperBound, max(ratingRange.lowerBound, r))
    }

    /// Root mean squared error over the stored entries of `userItems`.
    public func rmse(_ userItems: SparseMatrix) -> Double {
        var sum = 0.0
        for u in 0..<userItems.rows {
            for e in userItems.range(ofRow: u) {
                let diff = Double(predict(user: u, item: Int(userItems.columns[e])) - userItems.values[e])
                sum += diff * diff
            }
        }
        return (sum / Double(max(1, userItems.nonzeros))).squareRoot()
    }
}
