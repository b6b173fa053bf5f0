#if OpenBLAS
import CLinearAlgebra

/// Sets OpenBLAS to one thread, once per process (see ``OpenBLASKernels``).
private let openBLASSingleThreaded: Void = {
    openblas_set_num_threads(1)
    // Inputs are checked for NaN/∞ where it matters before LAPACK sees them; LAPACKE's own
    // O(n²) scan of every small ALS system would cost more than the solve's bookkeeping.
    LAPACKE_set_nancheck(0)
}()

/// The kernels on OpenBLAS (CBLAS, row-major calls) and LAPACKE.
///
/// OpenBLAS itself runs on one thread; these kernels spread each product over `threads` threads
/// themselves, as single-threaded OpenBLAS calls on fixed blocks of the output (``OpenBLASBlocked``).
/// The blocks depend on the shapes only, so results do not depend on the thread count — which
/// OpenBLAS's own threading does not promise (its threaded and serial drivers round differently on
/// some CPUs, even for short inner dimensions) — and no OpenBLAS worker waits spinning between
/// calls while the caller's own parallel loops run. ``singleThreaded()`` kernels can be called
/// from an outer ``Parallel`` loop.
public struct OpenBLASKernels: Kernels {
    public var backend: Backend { .openblas }
    public let threads: Int

    /// Kernels spreading each call over `threads` threads (OpenBLAS itself is set to one thread).
    public init(threads: Int = Parallel.cores) {
        openBLASSingleThreaded
        self.threads = max(1, threads)
    }

    public func singleThreaded() -> any Kernels { OpenBLASKernels(threads: 1) }

    /// The name of the kernel set OpenBLAS runs (see ``Backend/openBLASCore``).
    static var coreName: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }

    public func gemm(_ transA: Transpose, _ transB: Transpose, alpha: Float, _ a: MatrixView, _ b: MatrixView,
                     beta: Float, _ c: MutableMatrixView) throws {
        let (m, n, k) = try ShapeCheck.gemm(transA, transB, a, b, c)
        guard m > 0, n > 0 else { return }
        if k == 0 { c.scale(by: beta); return }
        try Self.checkInt32("gemm", m, n, k, a.stride, b.stride, c.stride)
        OpenBLASBlocked.gemm(transA, transB, alpha: alpha, a, b, beta: beta, c, k: k, threads: threads)
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
        OpenBLASBlocked.syrkLower(trans, alpha: alpha, a, beta: beta, c, k: k, threads: threads)
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
        try OpenBLASBlocked.choleskyLower(a, threads: threads)
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
        try OpenBLASBlocked.choleskyLower(a, threads: threads)
        Self.zeroStrictUpper(a)
        try OpenBLASBlocked.inverseFromCholesky(a, threads: threads)
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

    private static func checkInt32(_ operation: String, _ values: Int...) throws {
        for v in values where v > Int(Int32.max) {
            throw LinearAlgebraError.invalidArgument(operation: operation, detail: "dimension \(v) exceeds OpenBLAS's 32-bit integers")
        }
    }
}
#endif
