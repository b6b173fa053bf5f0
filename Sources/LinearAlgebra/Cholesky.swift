import Synchronization

/// Pure-Swift Cholesky factorisation and triangular solves on row-major views.
///
/// Row-major storage makes the Cholesky–Crout recurrence a sequence of contiguous dot products:
/// `L[i][j] = (A[i][j] − Σ_{p<j} L[i][p]·L[j][p]) / L[j][j]`, and `L[i][i] = sqrt(A[i][i] − Σ_{p<i} L[i][p]²)`.
enum SwiftCholesky {
    /// Factors `a` in place into its lower Cholesky factor; the strict upper triangle is zeroed.
    static func factor(_ a: MutableMatrixView) throws {
        let n = a.rows
        let lda = a.stride
        for i in 0..<n {
            let rowI = a.base + i * lda
            for j in 0...i {
                let rowJ = a.base + j * lda
                let s = rowI[j] - VectorOps.dot(rowI, rowJ, j)
                if i == j {
                    guard s > 0, s.isFinite else {
                        throw LinearAlgebraError.notPositiveDefinite(order: n, minor: i + 1, system: nil)
                    }
                    rowI[i] = s.squareRoot()
                } else {
                    rowI[j] = s / rowJ[j]
                }
            }
            if i + 1 < n { (rowI + i + 1).update(repeating: 0, count: n - i - 1) }
        }
    }

    /// Solves `L·Lᵀ·X = B` in place.
    static func solve(factor l: MatrixView, _ b: MutableMatrixView) {
        let n = l.rows
        guard n > 0, b.cols > 0 else { return }
        if b.cols == 1 {
            let y = UnsafeMutablePointer<Float>.allocate(capacity: n)
            defer { y.deallocate() }
            for i in 0..<n { y[i] = b.base[i * b.stride] }
            solveVector(l, y)
            for i in 0..<n { b.base[i * b.stride] = y[i] }
            return
        }
        let nrhs = b.cols
        // Forward: L·Y = B, row by row.
        for i in 0..<n {
            let li = l.base + i * l.stride
            let bi = b.base + i * b.stride
            for p in 0..<i { VectorOps.axpy(-li[p], b.base + p * b.stride, bi, nrhs) }
            VectorOps.scale(1 / li[i], bi, nrhs)
        }
        // Backward: Lᵀ·X = Y, eliminating column i of Lᵀ (= row i of L) after solving row i.
        for i in stride(from: n - 1, through: 0, by: -1) {
            let li = l.base + i * l.stride
            let bi = b.base + i * b.stride
            VectorOps.scale(1 / li[i], bi, nrhs)
            for p in 0..<i { VectorOps.axpy(-li[p], bi, b.base + p * b.stride, nrhs) }
        }
    }

    /// Solves `L·Lᵀ·x = y` for one contiguous right-hand side, in place.
    @inline(__always)
    static func solveVector(_ l: MatrixView, _ y: UnsafeMutablePointer<Float>) {
        let n = l.rows
        for i in 0..<n {
            let li = l.base + i * l.stride
            y[i] = (y[i] - VectorOps.dot(li, y, i)) / li[i]
        }
        for i in stride(from: n - 1, through: 0, by: -1) {
            let li = l.base + i * l.stride
            y[i] /= li[i]
            VectorOps.axpy(-y[i], li, y, i)
        }
    }
}

extension Kernels {
    /// Solves `count` independent symmetric positive-definite systems `Aₛ·xₛ = bₛ` of order `order`,
    /// in parallel over ``threads`` threads — the inner step of ALS, one `k × k` system per user.
    ///
    /// `matrices` holds the `count` matrices back to back (row-major, `order²` floats each; only the
    /// lower triangles are read, and they are overwritten by the Cholesky factors); `rhs` holds the
    /// `count` right-hand sides (`order` floats each) and is overwritten by the solutions.
    ///
    /// - Throws: ``LinearAlgebraError/notPositiveDefinite(order:minor:system:)`` naming the first
    ///   failing system; other systems are still solved.
    /// - Complexity: O(count · order³ / 3).
    public func solveSPDBatch(order: Int, count: Int, matrices: UnsafeMutableBufferPointer<Float>,
                              rhs: UnsafeMutableBufferPointer<Float>) throws {
        guard order >= 0, count >= 0, matrices.count >= order * order * count, rhs.count >= order * count else {
            throw LinearAlgebraError.dimensionMismatch(
                operation: "solveSPDBatch",
                detail: "\(count) systems of order \(order) need \(order * order * count) matrix and \(order * count) rhs floats, got \(matrices.count) and \(rhs.count)")
        }
        guard order > 0, count > 0, let mBase = matrices.baseAddress, let rBase = rhs.baseAddress else { return }
        let mats = UnsafeSendable(mBase), vecs = UnsafeSendable(rBase)
        let firstError = Mutex<(index: Int, error: LinearAlgebraError)?>(nil)
        let serial = self.singleThreaded()
        Parallel.forChunks(count: count, threads: threads, minChunk: 16) { range in
            for s in range {
                let a = MutableMatrixView(base: mats.pointer + s * order * order, rows: order, cols: order, stride: order)
                let b = MutableMatrixView(base: vecs.pointer + s * order, rows: order, cols: 1, stride: 1)
                do {
                    try serial.choleskyFactor(a)
                    try serial.choleskySolve(factor: a.view, b)
                } catch {
                    let failure: LinearAlgebraError
                    if case let .notPositiveDefinite(order, minor, _) = error as? LinearAlgebraError {
                        failure = .notPositiveDefinite(order: order, minor: minor, system: s)
                    } else {
                        failure = (error as? LinearAlgebraError) ?? .invalidArgument(operation: "solveSPDBatch", detail: "\(error)")
                    }
                    firstError.withLock { current in
                        if let earlier = current, earlier.index < s { return }
                        current = (s, failure)
                    }
                }
            }
        }
        if let failure = firstError.withLock({ $0 }) { throw failure.error }
    }
}
