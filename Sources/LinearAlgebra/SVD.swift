/// A thin singular value decomposition `A ≈ U·diag(S)·Vᵀ`.
///
/// Singular values are in descending order. Signs are normalised so both backends agree: in each
/// column of `U` the entry of largest magnitude (the first such, on ties) is positive, and the
/// matching row of `Vᵀ` is flipped with it.
public struct SVDResult: Sendable, Equatable {
    /// Left singular vectors, `m × r`, orthonormal columns.
    public var u: Matrix
    /// Singular values, descending, `r` of them.
    public var singularValues: [Float]
    /// Right singular vectors as rows, `r × n`.
    public var vt: Matrix

    /// Number of triplets held.
    public var rank: Int { singularValues.count }

    /// Creates a decomposition from its factors.
    public init(u: Matrix, singularValues: [Float], vt: Matrix) {
        self.u = u
        self.singularValues = singularValues
        self.vt = vt
    }

    /// Flips signs so that the largest-magnitude entry of every `U` column is positive.
    public mutating func normalizeSigns() {
        let r = rank
        guard r > 0 else { return }
        for j in 0..<r {
            var best: Float = -1
            var sign: Float = 1
            for i in 0..<u.rows {
                let x = u[i, j]
                if abs(x) > best { best = abs(x); sign = x < 0 ? -1 : 1 }
            }
            if sign < 0 {
                for i in 0..<u.rows { u[i, j] = -u[i, j] }
                for c in 0..<vt.cols { vt[j, c] = -vt[j, c] }
            }
        }
    }

    /// The first `rank` triplets.
    public func truncated(to rank: Int) -> SVDResult {
        let r = min(rank, self.rank)
        var uNew = Matrix(rows: u.rows, cols: r)
        for i in 0..<u.rows { for j in 0..<r { uNew[i, j] = u[i, j] } }
        return SVDResult(u: uNew, singularValues: Array(singularValues.prefix(r)), vt: vt.rows(0..<r))
    }

    /// `U·diag(S)·Vᵀ`, computed directly (for checks, not speed).
    public func reconstruction() -> Matrix {
        var out = Matrix(rows: u.rows, cols: vt.cols)
        for i in 0..<u.rows {
            for c in 0..<vt.cols {
                var sum: Double = 0
                for j in 0..<rank { sum += Double(u[i, j]) * Double(singularValues[j]) * Double(vt[j, c]) }
                out[i, c] = Float(sum)
            }
        }
        return out
    }
}

extension Kernels {
    /// The top-`rank` singular triplets of `a` by randomized SVD (Halko, Martinsson & Tropp 2011,
    /// algorithms 4.4 and 5.1): sample the range with a seeded Gaussian test matrix of
    /// `rank + oversampling` columns, refine it with `powerIterations` orthonormalised power
    /// iterations `Q ← orth(A·orth(Aᵀ·Q))`, then take the exact SVD of the small `Qᵀ·A`.
    ///
    /// When `rank + oversampling` reaches `min(m, n)` the full SVD is computed and truncated.
    /// The result's signs are normalised (see ``SVDResult``), and the same seed gives the same test
    /// matrix on both backends.
    /// - Complexity: O(m·n·l·(2q + 2)) for `l = rank + oversampling` and `q` power iterations.
    public func truncatedSVD(_ a: MatrixView, rank: Int, oversampling: Int = 10, powerIterations: Int = 4,
                             seed: UInt64 = 0) throws -> SVDResult {
        guard rank >= 0, oversampling >= 0, powerIterations >= 0 else {
            throw LinearAlgebraError.invalidArgument(
                operation: "truncatedSVD",
                detail: "rank \(rank), oversampling \(oversampling), power iterations \(powerIterations) must be ≥ 0")
        }
        let m = a.rows, n = a.cols
        let r = min(rank, m, n)
        let l = min(r + oversampling, m, n)
        try ShapeCheck.finite("truncatedSVD", a)
        if l >= min(m, n) || r == 0 {
            return try svd(a).truncated(to: r)
        }
        var generator = SeededGenerator(seed: seed)
        let omega = Matrix.gaussian(rows: n, cols: l, using: &generator)
        var y = Matrix(rows: m, cols: l)
        var z = Matrix(rows: n, cols: l)
        // Y = A·Ω
        try omega.withView { o in try y.withMutableView { try gemm(.none, .none, alpha: 1, a, o, beta: 0, $0) } }
        var q = try y.withView { try orthonormalBasis($0) }
        for _ in 0..<powerIterations {
            try q.withView { qv in try z.withMutableView { try gemm(.transposed, .none, alpha: 1, a, qv, beta: 0, $0) } }
            let qz = try z.withView { try orthonormalBasis($0) }
            try qz.withView { qv in try y.withMutableView { try gemm(.none, .none, alpha: 1, a, qv, beta: 0, $0) } }
            q = try y.withView { try orthonormalBasis($0) }
        }
        // B = Qᵀ·A (l × n), then its exact SVD.
        var b = Matrix(rows: l, cols: n)
        try q.withView { qv in try b.withMutableView { try gemm(.transposed, .none, alpha: 1, qv, a, beta: 0, $0) } }
        let small = try b.withView { try svd($0) }
        var u = Matrix(rows: m, cols: small.rank)
        try q.withView { qv in
            try small.u.withView { ub in try u.withMutableView { try gemm(.none, .none, alpha: 1, qv, ub, beta: 0, $0) } }
        }
        var result = SVDResult(u: u, singularValues: small.singularValues, vt: small.vt).truncated(to: r)
        result.normalizeSigns()
        return result
    }
}

/// Pure-Swift SVD by one-sided Jacobi rotations (Hestenes), after a QR reduction for tall inputs.
enum SwiftSVD {
    /// Thin SVD with signs normalised.
    static func svd(_ a: MatrixView, kernels: SwiftKernels) throws -> SVDResult {
        try ShapeCheck.finite("svd", a)
        if a.rows < a.cols {
            // A = U S Vᵀ  ⇔  Aᵀ = V S Uᵀ
            let t = a.copy().transposed
            let inner = try t.withView { try svd($0, kernels: kernels) }
            var result = SVDResult(u: inner.vt.transposed, singularValues: inner.singularValues, vt: inner.u.transposed)
            result.normalizeSigns()
            return result
        }
        let m = a.rows, n = a.cols
        if n == 0 { return SVDResult(u: Matrix(rows: m, cols: 0), singularValues: [], vt: Matrix(rows: 0, cols: 0)) }
        if m >= 2 * n && n > 1 {
            // A = Q·R with R = Qᵀ·A (n × n); SVD(R) = U_R S Vᵀ gives U = Q·U_R.
            let q = SwiftQR.orthonormalBasis(a)
            var r = Matrix(rows: n, cols: n)
            try q.withView { qv in try r.withMutableView { try kernels.gemm(.transposed, .none, alpha: 1, qv, a, beta: 0, $0) } }
            let inner = r.withView { jacobi($0) }
            var u = Matrix(rows: m, cols: n)
            try q.withView { qv in
                try inner.u.withView { ur in try u.withMutableView { try kernels.gemm(.none, .none, alpha: 1, qv, ur, beta: 0, $0) } }
            }
            var result = SVDResult(u: u, singularValues: inner.singularValues, vt: inner.vt)
            result.normalizeSigns()
            return result
        }
        var result = jacobi(a)
        result.normalizeSigns()
        return result
    }

    /// One-sided Jacobi on the columns of `a` (`m ≥ n`): rotate column pairs until every pair is
    /// orthogonal to working precision; then `σⱼ = ‖wⱼ‖`, `uⱼ = wⱼ/σⱼ`, and `V` is the product of rotations.
    static func jacobi(_ a: MatrixView) -> SVDResult {
        let m = a.rows, n = a.cols
        let w = UnsafeMutablePointer<Float>.allocate(capacity: m * n)   // column j at w + j*m
        let v = UnsafeMutablePointer<Float>.allocate(capacity: n * n)   // column j at v + j*n
        defer { w.deallocate(); v.deallocate() }
        for i in 0..<m { for j in 0..<n { w[j * m + i] = a[i, j] } }
        v.update(repeating: 0, count: n * n)
        for j in 0..<n { v[j * n + j] = 1 }

        let tolerance: Float = 4 * Float.ulpOfOne * Float(max(m, 8)).squareRoot()
        var norms = [Float](repeating: 0, count: n)
        for j in 0..<n { norms[j] = VectorOps.dot(w + j * m, w + j * m, m) }
        let tiny = Float.leastNormalMagnitude * 16
        for _ in 0..<60 {
            var rotated = false
            for i in 0..<(n - 1) {
                for j in (i + 1)..<n {
                    let alpha = norms[i], beta = norms[j]
                    if alpha < tiny || beta < tiny { continue }
                    let wi = w + i * m, wj = w + j * m
                    let gamma = VectorOps.dot(wi, wj, m)
                    if abs(gamma) <= tolerance * (alpha * beta).squareRoot() { continue }
                    rotated = true
                    let zeta = (beta - alpha) / (2 * gamma)
                    let t = (zeta >= 0 ? 1 : -1) / (abs(zeta) + (1 + zeta * zeta).squareRoot())
                    let c = 1 / (1 + t * t).squareRoot()
                    let s = c * t
                    rotate(wi, wj, m, c, s)
                    rotate(v + i * n, v + j * n, n, c, s)
                    norms[i] = VectorOps.dot(wi, wi, m)
                    norms[j] = VectorOps.dot(wj, wj, m)
                }
            }
            if !rotated { break }
        }

        let sigma = (0..<n).map { VectorOps.dot(w + $0 * m, w + $0 * m, m).squareRoot() }
        let order = (0..<n).sorted { sigma[$0] > sigma[$1] || (sigma[$0] == sigma[$1] && $0 < $1) }
        var u = Matrix(rows: m, cols: n)
        var vt = Matrix(rows: n, cols: n)
        let cutoff = (sigma.max() ?? 0) * Float(m) * Float.ulpOfOne
        var basis = [[Float]]()
        for (k, j) in order.enumerated() {
            var col = [Float](repeating: 0, count: m)
            if sigma[j] > cutoff && sigma[j] > 0 {
                for i in 0..<m { col[i] = w[j * m + i] / sigma[j] }
            } else {
                col = completion(orthogonalTo: basis, length: m)
            }
            basis.append(col)
            for i in 0..<m { u[i, k] = col[i] }
            for c in 0..<n { vt[k, c] = v[j * n + c] }
        }
        return SVDResult(u: u, singularValues: order.map { sigma[$0] }, vt: vt)
    }

    @inline(__always)
    static func rotate(_ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ c: Float, _ s: Float) {
        for k in 0..<n {
            let xk = x[k], yk = y[k]
            x[k] = c * xk - s * yk
            y[k] = s * xk + c * yk
        }
    }

    /// A unit vector orthogonal to every vector of `basis` (modified Gram–Schmidt over the unit vectors).
    static func completion(orthogonalTo basis: [[Float]], length m: Int) -> [Float] {
        for e in 0..<m {
            var x = [Float](repeating: 0, count: m)
            x[e] = 1
            for _ in 0..<2 {
                for b in basis {
                    var d: Float = 0
                    for i in 0..<m { d += b[i] * x[i] }
                    for i in 0..<m { x[i] -= d * b[i] }
                }
            }
            let norm = x.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > 0.5 { return x.map { $0 / norm } }
        }
        return [Float](repeating: 0, count: m)
    }
}
