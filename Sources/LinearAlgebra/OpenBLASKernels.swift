#if OpenBLAS
import CLinearAlgebra
import Synchronization

/// OpenBLAS's process-wide thread count, set under one lock: the count the latest kernels asked for,
/// and the QR/SVD calls in progress, which need one thread throughout (``OpenBLASKernels/lapackSingleThreaded()``).
/// Kernels created while such a call runs take effect when the last one ends, so a QR or SVD never
/// sees its thread count change under it.
private let openBLASThreads = Mutex<(requested: Int32, singleThreadedCalls: Int)>((1, 0))

/// The kernels on OpenBLAS (CBLAS, row-major calls) and LAPACKE.
///
/// OpenBLAS's thread count is process-wide: creating these kernels sets it to `threads`. Results do not
/// depend on it: every call's inner dimension is short enough that OpenBLAS never splits it, and the
/// Cholesky factorization and inverse are blocked from such calls (``OpenBLASBlocked``). Small problems
/// (the per-user solves of ALS) run single-threaded inside OpenBLAS, so they can be called from an
/// outer ``Parallel`` loop through ``singleThreaded()``.
public struct OpenBLASKernels: Kernels {
    public var backend: Backend { .openblas }
    public let threads: Int

    /// Kernels using `threads` OpenBLAS threads (sets OpenBLAS's process-wide thread count).
    public init(threads: Int = Parallel.cores) {
        self.threads = max(1, threads)
        openBLASThreads.withLock { state in
            state.requested = Int32(self.threads)
            if state.singleThreadedCalls == 0 { openblas_set_num_threads(state.requested) }
        }
        // Inputs are checked for NaN/∞ where it matters before LAPACK sees them; LAPACKE's own
        // O(n²) scan of every small ALS system would cost more than the solve's bookkeeping.
        LAPACKE_set_nancheck(0)
    }

    private init(keepingGlobalThreads threads: Int) {
        self.threads = threads
    }

    public func singleThreaded() -> any Kernels { OpenBLASKernels(keepingGlobalThreads: 1) }

    /// Sets OpenBLAS to one thread while `body` runs (as ``lapackSingleThreaded()`` does for QR and SVD).
    public func withSingleThreadedCalls<T>(_ body: (any Kernels) throws -> T) rethrows -> T {
        let restore = Self.lapackSingleThreaded()
        defer { restore() }
        return try body(singleThreaded())
    }

    public func gemm(_ transA: Transpose, _ transB: Transpose, alpha: Float, _ a: MatrixView, _ b: MatrixView,
                     beta: Float, _ c: MutableMatrixView) throws {
        let (m, n, k) = try ShapeCheck.gemm(transA, transB, a, b, c)
        guard m > 0, n > 0 else { return }
        if k == 0 { c.scale(by: beta); return }
        try Self.checkInt32("gemm", m, n, k, a.stride, b.stride, c.stride)
        OpenBLASBlocked.gemm(transA, transB, alpha: alpha, a, b, beta: beta, c, k: k)
    }

    public func gemv(_ trans: Transpose, alpha: Float, _ a: MatrixView, _ x: UnsafeBufferPointer<Float>,
                     beta: Float, _ y: UnsafeMutableBufferPointer<Float>) throws {
        let (m, n) = try ShapeCheck.gemv(trans, a, xCount: x.count, yCount: y.count)
        guard m > 0, let yp = y.baseAddress else { return }
        guard n > 0, let xp = x.baseAddress else {
            if beta == 0 { yp.update(repeating: 0, count: m) } else { VectorOps.scale(beta, yp, m) }
            return
        }
        try Self.checkInt32("gemv", a.rows, a.cols, a.stride)
        cblas_sgemv(CblasRowMajor, OpenBLASBlocked.cblas(trans), Int32(a.rows), Int32(a.cols), alpha, a.base, Int32(a.stride),
                    xp, 1, beta, yp, 1)
    }

    public func syrk(_ trans: Transpose, alpha: Float, _ a: MatrixView, beta: Float, _ c: MutableMatrixView) throws {
        let (n, k) = try ShapeCheck.syrk(trans, a, c)
        guard n > 0 else { return }
        if k == 0 { c.scale(by: beta); return }
        try Self.checkInt32("syrk", n, k, a.stride, c.stride)
        OpenBLASBlocked.syrkLower(trans, alpha: alpha, a, beta: beta, c, k: k)
        c.mirrorLowerToUpper()
    }

    public func dot(_ x: UnsafeBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>) throws -> Float {
        try ShapeCheck.vectors("dot", x.count, y.count)
        guard let xp = x.baseAddress, let yp = y.baseAddress, x.count > 0 else { return 0 }
        try Self.checkInt32("dot", x.count)
        return cblas_sdot(Int32(x.count), xp, 1, yp, 1)
    }

    public func axpy(_ alpha: Float, _ x: UnsafeBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>) throws {
        try ShapeCheck.vectors("axpy", x.count, y.count)
        guard let xp = x.baseAddress, let yp = y.baseAddress, x.count > 0 else { return }
        try Self.checkInt32("axpy", x.count)
        cblas_saxpy(Int32(x.count), alpha, xp, 1, yp, 1)
    }

    public func scale(_ alpha: Float, _ x: UnsafeMutableBufferPointer<Float>) {
        guard let xp = x.baseAddress, x.count > 0 else { return }
        guard x.count <= Int(Int32.max) else { VectorOps.scale(alpha, xp, x.count); return }
        cblas_sscal(Int32(x.count), alpha, xp, 1)
    }

    public func choleskyFactor(_ a: MutableMatrixView) throws {
        try ShapeCheck.square("choleskyFactor", a.view)
        let n = a.rows
        guard n > 0 else { return }
        try Self.checkInt32("choleskyFactor", n, a.stride)
        try OpenBLASBlocked.choleskyLower(a)
        Self.zeroStrictUpper(a)
    }

    private static func zeroStrictUpper(_ a: MutableMatrixView) {
        let n = a.rows
        for i in 0..<n where i + 1 < n { (a.base + i * a.stride + i + 1).update(repeating: 0, count: n - i - 1) }
    }

    public func choleskyInverse(_ a: MutableMatrixView) throws {
        try ShapeCheck.square("choleskyInverse", a.view)
        try ShapeCheck.finite("choleskyInverse", a.view)
        let n = a.rows
        guard n > 0 else { return }
        try Self.checkInt32("choleskyInverse", n, a.stride)
        try OpenBLASBlocked.choleskyLower(a)
        Self.zeroStrictUpper(a)
        try OpenBLASBlocked.inverseFromCholesky(a)
    }

    public func choleskySolve(factor: MatrixView, _ b: MutableMatrixView) throws {
        try ShapeCheck.choleskySolve(factor, b)
        let n = factor.rows
        guard n > 0, b.cols > 0 else { return }
        try Self.checkInt32("choleskySolve", n, b.cols, factor.stride, b.stride)
        let l = UnsafeMutablePointer(mutating: factor.base)
        if b.cols == 1 {
            cblas_strsv(CblasRowMajor, CblasLower, CblasNoTrans, CblasNonUnit, Int32(n), l, Int32(factor.stride),
                        b.base, Int32(b.stride))
            cblas_strsv(CblasRowMajor, CblasLower, CblasTrans, CblasNonUnit, Int32(n), l, Int32(factor.stride),
                        b.base, Int32(b.stride))
        } else {
            cblas_strsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, Int32(n), Int32(b.cols), 1,
                        l, Int32(factor.stride), b.base, Int32(b.stride))
            cblas_strsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, Int32(n), Int32(b.cols), 1,
                        l, Int32(factor.stride), b.base, Int32(b.stride))
        }
    }

    public func orthonormalBasis(_ a: MatrixView) throws -> Matrix {
        try ShapeCheck.tallBasis(a)
        let m = a.rows, n = a.cols
        guard n > 0 else { return Matrix(rows: m, cols: 0) }
        try Self.checkInt32("orthonormalBasis", m, n)
        var q = a.copy()
        var tau = [Float](repeating: 0, count: n)
        let restore = Self.lapackSingleThreaded()
        defer { restore() }
        try q.withMutableView { qv in
            var info = LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, Int32(m), Int32(n), qv.base, Int32(qv.stride), &tau)
            guard info == 0 else { throw LinearAlgebraError.lapack(routine: "sgeqrf", info: Int(info)) }
            info = LAPACKE_sorgqr(LAPACK_ROW_MAJOR, Int32(m), Int32(n), Int32(n), qv.base, Int32(qv.stride), &tau)
            guard info == 0 else { throw LinearAlgebraError.lapack(routine: "sorgqr", info: Int(info)) }
        }
        return q
    }

    public func svd(_ a: MatrixView) throws -> SVDResult {
        try ShapeCheck.finite("svd", a)
        let m = a.rows, n = a.cols
        let r = min(m, n)
        if r == 0 {
            return SVDResult(u: Matrix(rows: m, cols: 0), singularValues: [], vt: Matrix(rows: 0, cols: n))
        }
        try Self.checkInt32("svd", m, n)
        // The row-major m×n buffer is the column-major n×m matrix Aᵀ = V·S·Uᵀ. Column-major sgesdd of Aᵀ
        // returns its left factor V (n×r, column-major) — which read row-major is Vᵀ (r×n) — and its
        // right factor Uᵀ (r×m, column-major) — which read row-major is U (m×r). No transposes needed.
        var work = a.copy()
        var s = [Float](repeating: 0, count: r)
        let restore = Self.lapackSingleThreaded()
        defer { restore() }
        var vt = Matrix(rows: r, cols: n)
        var u = Matrix(rows: m, cols: r)
        try work.withMutableView { wv in
            try vt.withMutableView { vtv in
                try u.withMutableView { uv in
                    let info = LAPACKE_sgesdd(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "S")), Int32(n), Int32(m),
                                              wv.base, Int32(n), &s, vtv.base, Int32(n), uv.base, Int32(r))
                    guard info == 0 else {
                        if info > 0 { throw LinearAlgebraError.noConvergence(operation: "sgesdd", detail: "info = \(info)") }
                        throw LinearAlgebraError.lapack(routine: "sgesdd", info: Int(info))
                    }
                }
            }
        }
        var result = SVDResult(u: u, singularValues: s, vt: vt)
        result.normalizeSigns()
        return result
    }

    /// Sets OpenBLAS to one thread for a QR or SVD and returns the call that ends it. LAPACK's
    /// threaded QR and SVD block their work by the thread count (their results would depend on it);
    /// they only see thin matrices here (genres, genome sketches, weight initialisations), where one
    /// thread is as fast. Concurrent QR/SVD calls and kernels created meanwhile are counted under
    /// one lock: the last call to end restores the count the latest kernels asked for. Other calls
    /// running meanwhile merely run on one thread, which changes no result.
    static func lapackSingleThreaded() -> () -> Void {
        openBLASThreads.withLock { state in
            if state.singleThreadedCalls == 0 {
                state.requested = openblas_get_num_threads()
                openblas_set_num_threads(1)
            }
            state.singleThreadedCalls += 1
        }
        return {
            openBLASThreads.withLock { state in
                state.singleThreadedCalls -= 1
                if state.singleThreadedCalls == 0 { openblas_set_num_threads(state.requested) }
            }
        }
    }

    private static func checkInt32(_ operation: String, _ values: Int...) throws {
        for v in values where v > Int(Int32.max) {
            throw LinearAlgebraError.invalidArgument(operation: operation, detail: "dimension \(v) exceeds OpenBLAS's 32-bit integers")
        }
    }
}
#endif
