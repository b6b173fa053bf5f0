/// Pure-Swift Householder QR producing the thin orthonormal factor.
enum SwiftQR {
    /// The thin `Q` (`m × n`) of `A = Q·R` for `m ≥ n`, by Householder reflections
    /// `Hⱼ = I − τⱼ·vⱼ·vⱼᵀ` with `τⱼ = 2 / vⱼᵀvⱼ`, accumulated backwards onto the first `n` columns of `I`.
    /// Columns are worked on contiguously (column-major scratch).
    /// - Complexity: O(m·n²).
    static func orthonormalBasis(_ a: MatrixView) -> Matrix {
        let m = a.rows, n = a.cols
        guard n > 0 else { return Matrix(rows: m, cols: 0) }
        // Column-major copy: column j at w + j*m.
        let w = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        let q = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        var tau = [Float](repeating: 0, count: n)
        defer { w.deallocate(); q.deallocate() }
        for i in 0..<m { for j in 0..<n { w[j * m + i] = a[i, j] } }

        for j in 0..<n {
            let v = w + j * m + j
            let len = m - j
            let norm = VectorOps.dot(v, v, len).squareRoot()
            guard norm > 0 else { continue }
            let alpha = v[0] >= 0 ? -norm : norm
            v[0] -= alpha
            let beta = VectorOps.dot(v, v, len)
            guard beta > 0 else { continue }
            tau[j] = 2 / beta
            for k in (j + 1)..<max(j + 1, n) {
                let col = w + k * m + j
                VectorOps.axpy(-tau[j] * VectorOps.dot(v, col, len), v, col, len)
            }
        }

        q.update(repeating: 0, count: m * n)
        for j in 0..<n { q[j * m + j] = 1 }
        for j in stride(from: n - 1, through: 0, by: -1) where tau[j] != 0 {
            let v = w + j * m + j
            let len = m - j
            for k in j..<n {
                let col = q + k * m + j
                VectorOps.axpy(-tau[j] * VectorOps.dot(v, col, len), v, col, len)
            }
        }

        var result = Matrix(rows: m, cols: n)
        result.withMutableView { out in
            for j in 0..<n { for i in 0..<m { out[i, j] = q[j * m + i] } }
        }
        return result
    }
}
