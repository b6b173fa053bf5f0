import LinearAlgebra

/// Every backend compiled into this build, as created for tests (2 threads, to exercise the parallel paths).
let allKernels: [any Kernels] = Backend.available.compactMap { try? $0.makeKernels(threads: 2) }

func randomMatrix(_ rows: Int, _ cols: Int, seed: UInt64) -> Matrix {
    var g = SeededGenerator(seed: seed)
    var m = Matrix(rows: rows, cols: cols)
    for i in 0..<rows { for j in 0..<cols { m[i, j] = g.nextUnitFloat() * 2 - 1 } }
    return m
}

/// `α·op(A)·op(B) + β·C` in Double, the obvious way.
func referenceGEMM(_ ta: Transpose, _ tb: Transpose, alpha: Float, _ a: Matrix, _ b: Matrix, beta: Float, _ c: Matrix) -> Matrix {
    let opA = ta == .none ? a : a.transposed
    let opB = tb == .none ? b : b.transposed
    var out = c
    for i in 0..<opA.rows {
        for j in 0..<opB.cols {
            var s = 0.0
            for p in 0..<opA.cols { s += Double(opA[i, p]) * Double(opB[p, j]) }
            out[i, j] = Float(Double(alpha) * s + (beta == 0 ? 0 : Double(beta) * Double(c[i, j])))
        }
    }
    return out
}

/// A random symmetric positive-definite matrix `MᵀM + n·I`.
func randomSPD(_ n: Int, seed: UInt64) -> Matrix {
    let m = randomMatrix(n, n, seed: seed)
    var a = referenceGEMM(.transposed, .none, alpha: 1, m, m, beta: 0, Matrix(rows: n, cols: n))
    for i in 0..<n { a[i, i] += Float(n) }
    return a
}

/// Largest |entry| of `QᵀQ − I`.
func orthogonalityError(columnsOf q: Matrix) -> Float {
    let g = referenceGEMM(.transposed, .none, alpha: 1, q, q, beta: 0, Matrix(rows: q.cols, cols: q.cols))
    return g.maxAbsDifference(.identity(q.cols))
}
