import Foundation
import LinearAlgebra
import MovieLens

/// Implicit-feedback matrix factorization by alternating least squares (Hu, Koren & Volinsky 2008),
/// the collaborative model for top-N ranking.
///
/// Every observed (user, item) pair with value `r` is a positive with confidence `c = 1 + α·r`;
/// every other pair is a negative with confidence 1. Each half-iteration solves, for every user `u`
/// (then symmetrically for every item), the regularised normal equations
///
///     (YᵀY + Σ_{i∈I(u)} (c_ui − 1)·y_i·y_iᵀ + λI) · x_u = Σ_{i∈I(u)} c_ui · y_i
///
/// with `YᵀY` computed once per half (SYRK) — the trick that makes the cost O(nnz·k² + (users +
/// items)·k³) rather than O(users·items·k²). The per-user Gram terms are rank-k updates over the
/// gathered item rows (SYRK on the backend), the systems are solved by Cholesky, and users are
/// spread over the cores, each thread with its own scratch and single-threaded kernels.
///
/// ```swift
/// var model = ImplicitALS(factors: 64, regularization: 0.05, alpha: 1, iterations: 15, seed: 0)
/// try model.fit(userItems, kernels: try Backend.openblas.makeKernels())
/// let top = try model.recommend(user: 0, userItems: userItems, count: 10)
/// ```
public struct ImplicitALS: Sendable {
    /// How each row's normal equations are solved.
    public enum Solver: Sendable, Hashable, Codable {
        /// Exact: the Gram matrix by SYRK over the gathered rows, then Cholesky (the backend's kernels).
        case cholesky
        /// `steps` conjugate-gradient steps warm-started from the previous factors, with matrix-free
        /// products `(YᵀY + λI)·p + Σ (c − 1)(y·p)·y` — the `implicit` library's default (3 steps):
        /// O(nnz·k + rows·k²) per step instead of O(nnz·k² + rows·k³).
        case conjugateGradient(steps: Int)

        /// `cholesky` or `cg3` (three CG steps).
        public var label: String {
            switch self {
            case .cholesky: "cholesky"
            case .conjugateGradient(let steps): "cg\(steps)"
            }
        }
    }

    public var factors: Int
    public var regularization: Float
    public var alpha: Float
    public var iterations: Int
    public var seed: UInt64
    public var solver: Solver = .cholesky
    /// users × factors, after ``fit(_:kernels:progress:)``.
    public internal(set) var userFactors = Matrix(rows: 0, cols: 0)
    /// items × factors.
    public internal(set) var itemFactors = Matrix(rows: 0, cols: 0)

    public init(factors: Int = 64, regularization: Float = 0.05, alpha: Float = 1, iterations: Int = 15, seed: UInt64 = 0,
                solver: Solver = .cholesky) {
        self.solver = solver
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.seed = seed
    }

    /// One iteration's report.
    public struct Iteration: Sendable, Codable {
        public var index: Int
        /// Time of the two half-iterations (the loss is not included).
        public var seconds: Double
        /// The full weighted squared loss plus regularisation, per observed pair (nil when not tracked).
        public var loss: Double?
    }

    /// Fits the factors to `userItems` (users × items, values = the observation strength `r`).
    /// - Throws: ``RecommenderError`` for invalid settings, ``LinearAlgebraError`` if a system is not positive definite.
    public mutating func fit(_ userItems: SparseMatrix, kernels: any Kernels, trackLoss: Bool = true,
                             progress: (Iteration) -> Void = { _ in }) throws -> [Iteration] {
        guard factors > 0, iterations >= 0, regularization > 0, alpha >= 0 else {
            throw RecommenderError.invalidOptions(model: "als", reason: "factors and λ must be positive, iterations and α not negative")
        }
        var g = SeededGenerator(seed: seed)
        func initial(_ rows: Int) -> Matrix {
            var m = Matrix(rows: rows, cols: factors)
            m.withMutableView { v in for i in 0..<rows { for j in 0..<factors { v[i, j] = g.nextUnitFloat() * 0.01 } } }
            return m
        }
        userFactors = initial(userItems.rows)
        itemFactors = initial(userItems.cols)
        let itemUsers = userItems.transposed(threads: kernels.threads)
        var history = [Iteration]()
        for it in 0..<iterations {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try Self.solveHalf(userItems, fixed: itemFactors, into: &userFactors, lambda: regularization, alpha: alpha,
                               solver: solver, kernels: kernels)
            try Self.solveHalf(itemUsers, fixed: userFactors, into: &itemFactors, lambda: regularization, alpha: alpha,
                               solver: solver, kernels: kernels)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            let report = Iteration(index: it + 1, seconds: seconds, loss: trackLoss ? try loss(userItems, kernels: kernels) : nil)
            history.append(report)
            progress(report)
        }
        return history
    }

    /// Solves every row's normal equations against the fixed factors, in parallel.
    static func solveHalf(_ rows: SparseMatrix, fixed: Matrix, into target: inout Matrix, lambda: Float, alpha: Float,
                          solver: Solver, kernels: any Kernels) throws {
        let k = fixed.cols
        var gram = Matrix(rows: k, cols: k)
        try fixed.withView { y in try gram.withMutableView { try kernels.syrk(.transposed, alpha: 1, y, beta: 0, $0) } }
        let serial = kernels.singleThreaded()
        let failure = FirstError()
        let chunks = balancedChunks(rows, parts: kernels.threads * 16, cost: solver == .cholesky ? k : 1)
        let input = UnsafeSendableBox((rows, fixed, gram, chunks))
        target.withMutableView { out in
            let output = UnsafeSendableBox(out)
            Parallel.forEach(count: chunks.count, threads: kernels.threads) { chunk in
                let (rows, fixed, gram, chunks) = input.value
                let range = chunks[chunk]
                let out = output.value
                // Scratch for this chunk: the k×k system and the gathered rows (sized for the longest row).
                let longest = range.map { rows.range(ofRow: $0).count }.max() ?? 0
                let a = UnsafeMutablePointer<Float>.allocate(capacity: max(k * k, 3 * k))
                let gathered = UnsafeMutablePointer<Float>.allocate(capacity: max(1, longest) * k)
                let weights = UnsafeMutablePointer<Float>.allocate(capacity: max(1, longest))
                defer { a.deallocate(); gathered.deallocate(); weights.deallocate() }
                let av = MutableMatrixView(base: a, rows: k, cols: k, stride: k)
                fixed.withView { y in
                    gram.withView { g in
                        rows.columns.withUnsafeBufferPointer { cols in
                            rows.values.withUnsafeBufferPointer { vals in
                                for r in range {
                                    let entries = rows.range(ofRow: r)
                                    let gv = MutableMatrixView(base: gathered, rows: entries.count, cols: k, stride: k)
                                    switch solver {
                                    case .cholesky:
                                        do {
                                            try solveRow(entries, cols, vals, y, g, av, gv, out.base + r * out.stride,
                                                         lambda: lambda, alpha: alpha, kernels: serial)
                                        } catch {
                                            failure.record(r, error)
                                        }
                                    case .conjugateGradient(let steps):
                                        conjugateGradientRow(entries, cols, vals, y, g, out.base + r * out.stride,
                                                             gathered: gathered, weights: weights, scratch: a,
                                                             lambda: lambda, alpha: alpha, steps: steps)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if let error = failure.first { throw error }
    }

    /// Contiguous row ranges of near-equal work, `rowCost + entries` per row: item popularity is
    /// Zipf-like, so equal row counts would leave one core with the blockbusters.
    static func balancedChunks(_ rows: SparseMatrix, parts: Int, cost rowCost: Int) -> [Range<Int>] {
        guard rows.rows > 0 else { return [] }
        let total = rows.nonzeros + rows.rows * rowCost
        let target = max(1, total / max(1, parts))
        var chunks = [Range<Int>]()
        var start = 0, work = 0
        for r in 0..<rows.rows {
            work += rows.range(ofRow: r).count + rowCost
            if work >= target { chunks.append(start..<(r + 1)); start = r + 1; work = 0 }
        }
        if start < rows.rows { chunks.append(start..<rows.rows) }
        return chunks
    }

    /// `x = (YᵀY + GᵀG + λI)⁻¹ · Σ c·y` for one row, written to `x`, with `G` the gathered fixed
    /// rows scaled by √(c − 1).
    @inline(__always)
    static func solveRow(_ entries: Range<Int>, _ cols: UnsafeBufferPointer<Int32>, _ vals: UnsafeBufferPointer<Float>,
                         _ y: MatrixView, _ gram: MatrixView, _ a: MutableMatrixView, _ gathered: MutableMatrixView,
                         _ x: UnsafeMutablePointer<Float>, lambda: Float, alpha: Float, kernels: any Kernels) throws {
        let k = y.cols
        let n = entries.count
        x.update(repeating: 0, count: k)
        for (slot, e) in entries.enumerated() {
            let confidence = 1 + alpha * vals[e]
            let src = y.base + Int(cols[e]) * y.stride
            VectorOps.scaledCopy(src, (confidence - 1).squareRoot(), gathered.base + slot * gathered.stride, k)
            VectorOps.axpy(confidence, src, x, k)
        }
        a.assign(gram)
        if n > 0 { try kernels.syrk(.transposed, alpha: 1, gathered.view, beta: 1, a) }
        for j in 0..<k { a[j, j] += lambda }
        try kernels.choleskyFactor(a)
        try kernels.choleskySolve(factor: a.view, MutableMatrixView(base: x, rows: k, cols: 1, stride: 1))
    }

    /// `scores[i] = x_user · y_i` for every item.
    static func scores(user: Int, userFactors: Matrix, itemFactors: Matrix, into scores: inout [Float]) {
        userFactors.withView { x in
            itemFactors.withView { y in
                for i in 0..<y.rows { scores[i] = VectorOps.dot(x.base + user * x.stride, y.base + i * y.stride, y.cols) }
            }
        }
    }

    /// Improves `x` (warm start) by `steps` conjugate-gradient steps on
    /// `(YᵀY + λI + Σ (c − 1)·y·yᵀ)·x = Σ c·y`, without forming the matrix. The row's fixed factors
    /// are first gathered into `gathered` (one pass of scattered reads; every product after that
    /// streams contiguous memory) with their weights `c − 1` in `weights`; `scratch` holds 3·k floats.
    @inline(__always)
    static func conjugateGradientRow(_ entries: Range<Int>, _ cols: UnsafeBufferPointer<Int32>, _ vals: UnsafeBufferPointer<Float>,
                                     _ y: MatrixView, _ gram: MatrixView, _ x: UnsafeMutablePointer<Float>,
                                     gathered: UnsafeMutablePointer<Float>, weights: UnsafeMutablePointer<Float>,
                                     scratch: UnsafeMutablePointer<Float>, lambda: Float, alpha: Float, steps: Int) {
        let k = y.cols
        let n = entries.count
        let r = scratch, p = scratch + k, ap = scratch + 2 * k
        // One pass over the scattered rows: gather them, and build r = b − A·x on the way, with
        // b = Σ c·y and A·x = (YᵀY + λI)·x + Σ (c − 1)(y·x)·y (the Gram part after the loop).
        r.update(repeating: 0, count: k)
        for (slot, e) in entries.enumerated() {
            let src = y.base + Int(cols[e]) * y.stride
            let dst = gathered + slot * k
            let c = 1 + alpha * vals[e]
            let yx = VectorOps.copyAndDot(src, dst, x, k)
            weights[slot] = c - 1
            VectorOps.axpy(c - (c - 1) * yx, dst, r, k)
        }
        for i in 0..<k { r[i] -= VectorOps.dot(gram.base + i * gram.stride, x, k) + lambda * x[i] }
        // A·v into `out`: (YᵀY + λI)·v + Σ (c − 1)(y·v)·y.
        func apply(_ v: UnsafeMutablePointer<Float>, _ out: UnsafeMutablePointer<Float>) {
            for i in 0..<k { out[i] = VectorOps.dot(gram.base + i * gram.stride, v, k) + lambda * v[i] }
            VectorOps.addWeightedProjections(gathered, weights, n, k, v, out)
        }
        p.update(from: r, count: k)
        var rsOld = VectorOps.dot(r, r, k)
        for _ in 0..<steps {
            if rsOld < 1e-20 { break }
            apply(p, ap)
            let pap = VectorOps.dot(p, ap, k)
            guard pap > 0 else { break }
            let step = rsOld / pap
            VectorOps.axpy(step, p, x, k)
            VectorOps.axpy(-step, ap, r, k)
            let rsNew = VectorOps.dot(r, r, k)
            let beta = rsNew / rsOld
            for i in 0..<k { p[i] = r[i] + beta * p[i] }
            rsOld = rsNew
        }
    }

    /// `Σ_{u,i} c_ui (p_ui − x_u·y_i)² + λ(‖X‖² + ‖Y‖²)` divided by the number of observed pairs,
    /// computed with the YᵀY trick in O(nnz·k + users·k²).
    public func loss(_ userItems: SparseMatrix, kernels: any Kernels) throws -> Double {
        let k = factors
        var gram = Matrix(rows: k, cols: k)
        try itemFactors.withView { y in try gram.withMutableView { try kernels.syrk(.transposed, alpha: 1, y, beta: 0, $0) } }
        // x_uᵀ (YᵀY) x_u for every user at once: rowwise dot of X and X·(YᵀY).
        let xg = try kernels.multiply(userFactors, gram)
        let parts = Parallel.split(userItems.rows, parts: kernels.threads)
        var partial = [Double](repeating: 0, count: parts.count)
        let input = UnsafeSendableBox((userItems, userFactors, itemFactors, xg, alpha))
        partial.withUnsafeMutableBufferPointer { pb in
            guard let pp = pb.baseAddress else { return }
            let out = UnsafeSendable(pp)
            Parallel.forEach(count: parts.count, threads: kernels.threads) { p in
                let (ui, x, y, xg, alpha) = input.value
                var total = 0.0
                x.withView { xv in
                    y.withView { yv in
                        xg.withView { gv in
                            for u in parts[p] {
                                let xu = xv.base + u * xv.stride
                                // Every item counted as a negative …
                                total += Double(VectorOps.dot(xu, gv.base + u * gv.stride, k))
                                // … then the positives corrected: c(1 − s)² instead of s².
                                for e in ui.range(ofRow: u) {
                                    let s = VectorOps.dot(xu, yv.base + Int(ui.columns[e]) * yv.stride, k)
                                    let c = Double(1 + alpha * ui.values[e])
                                    total += c * Double((1 - s) * (1 - s)) - Double(s * s)
                                }
                            }
                        }
                    }
                }
                out.pointer[p] = total
            }
        }
        let xNorm = Double(userFactors.frobeniusNorm), yNorm = Double(itemFactors.frobeniusNorm)
        let reg = Double(regularization) * (xNorm * xNorm + yNorm * yNorm)
        return (partial.reduce(0, +) + reg) / Double(max(1, userItems.nonzeros))
    }

    /// The `count` best items for `user` by `x_u · y_i`, excluding the items the user has in
    /// `userItems` unless `includeSeen`.
    public func recommend(user: Int, userItems: SparseMatrix, count: Int, includeSeen: Bool = false) throws -> [(item: Int, score: Float)] {
        guard user >= 0, user < userFactors.rows else {
            throw RecommenderError.invalidOptions(model: "als", reason: "user index \(user) outside 0..<\(userFactors.rows)")
        }
        var scores = [Float](repeating: 0, count: itemFactors.rows)
        Self.scores(user: user, userFactors: userFactors, itemFactors: itemFactors, into: &scores)
        if !includeSeen, user < userItems.rows {
            for e in userItems.range(ofRow: user) { scores[Int(userItems.columns[e])] = -.infinity }
        }
        return scores.withUnsafeBufferPointer { TopK.select($0, k: count) }
            .filter { $0.value > -.infinity }.map { (item: $0.index, score: $0.value) }
    }
}

extension ImplicitALS {
    /// Factors of a new user from their interactions, against fitted item factors, without retraining:
    /// one solve of the user's normal equations, exactly as a half-iteration would (`items` holds
    /// item indices and observation strengths `r`, confidence `1 + α·r`).
    /// - Throws: ``LinearAlgebraError`` for an index outside the item factors.
    /// - Complexity: O(items·k² + |interactions|·k² + k³).
    public static func foldIn(_ interactions: [(item: Int, value: Float)], itemFactors: Matrix, regularization: Float,
                              alpha: Float, kernels: any Kernels) throws -> [Float] {
        let k = itemFactors.cols
        if let bad = interactions.first(where: { $0.item < 0 || $0.item >= itemFactors.rows }) {
            throw LinearAlgebraError.invalidArgument(operation: "ImplicitALS.foldIn", detail: "item index \(bad.item) outside 0..<\(itemFactors.rows)")
        }
        var gram = Matrix(rows: k, cols: k), a = Matrix(rows: k, cols: k), gathered = Matrix(rows: max(1, interactions.count), cols: k)
        var x = [Float](repeating: 0, count: k)
        let cols = interactions.map { Int32($0.item) }, vals = interactions.map(\.value)
        try itemFactors.withView { y in
            try gram.withMutableView { try kernels.syrk(.transposed, alpha: 1, y, beta: 0, $0) }
            try gram.withView { g in
                try a.withMutableView { av in
                    try gathered.withMutableView { gv in
                        try cols.withUnsafeBufferPointer { c in
                            try vals.withUnsafeBufferPointer { v in
                                try x.withUnsafeMutableBufferPointer { xb in
                                    guard let xp = xb.baseAddress else { return }
                                    try solveRow(0..<cols.count, c, v, y, g, av, gv.rows(0..<cols.count), xp,
                                                 lambda: regularization, alpha: alpha, kernels: kernels)
                                }
                            }
                        }
                    }
                }
            }
        }
        return x
    }
}
