#if OpenBLAS
import CLinearAlgebra

/// How ``OpenBLASKernels`` keeps its results independent of the thread count.
///
/// OpenBLAS splits a product's inner dimension into blocks of its `GEMM_Q` (320–448 on x86-64), but
/// its threaded and single-threaded drivers round the blocks differently, and its threaded POTRF uses
/// other block sizes than the serial one: results move in the last bits when the thread count
/// changes. Each OpenBLAS call here therefore has an inner dimension of at most ``depth`` (256), which
/// OpenBLAS never splits; longer sums are a fixed sequence of such calls accumulating into the
/// output. Within a call, threads share out rows and columns, and every entry still comes from the
/// same micro-kernel over the same terms in the same order. The Cholesky factorization and the
/// inverse are blocked algorithms built from such calls (`Tests/LinearAlgebraTests` checks that 1,
/// 2 and 3 threads give identical bits).
enum OpenBLASBlocked {
    /// The longest inner dimension of one OpenBLAS call.
    static let depth = 256
    /// The block size of the blocked Cholesky factorization and inverse.
    static let block = 256

    /// `0..<count` cut into consecutive tiles of `size` (the last one shorter), starting at `offset`.
    static func tiles(_ count: Int, size: Int, offset: Int = 0) -> [Range<Int>] {
        stride(from: 0, to: count, by: size).map { (offset + $0) ..< (offset + min(count, $0 + size)) }
    }

    static func cblas(_ t: Transpose) -> CBLAS_TRANSPOSE { t == .none ? CblasNoTrans : CblasTrans }

    /// Columns `r` of `op(x)`, as a view of `x`.
    private static func opColumns(_ x: MatrixView, _ t: Transpose, _ r: Range<Int>) -> MatrixView {
        t == .none ? x.columns(r) : x.rows(r)
    }

    /// Rows `r` of `op(x)`, as a view of `x`.
    private static func opRows(_ x: MatrixView, _ t: Transpose, _ r: Range<Int>) -> MatrixView {
        t == .none ? x.rows(r) : x.columns(r)
    }

    /// `c = alpha·op(a)·op(b) + beta·c`, as one `sgemm` per ``depth`` terms of the inner dimension.
    static func gemm(_ transA: Transpose, _ transB: Transpose, alpha: Float, _ a: MatrixView, _ b: MatrixView,
                     beta: Float, _ c: MutableMatrixView, k: Int) {
        for (index, r) in tiles(k, size: depth).enumerated() {
            let ar = opColumns(a, transA, r), br = opRows(b, transB, r)
            cblas_sgemm(CblasRowMajor, cblas(transA), cblas(transB), Int32(c.rows), Int32(c.cols), Int32(r.count),
                        alpha, ar.base, Int32(ar.stride), br.base, Int32(br.stride), index == 0 ? beta : 1,
                        c.base, Int32(c.stride))
        }
    }

    /// The lower triangle of `c = alpha·op(a)·op(a)ᵀ + beta·c`, one `ssyrk` per ``depth`` terms.
    static func syrkLower(_ trans: Transpose, alpha: Float, _ a: MatrixView, beta: Float, _ c: MutableMatrixView, k: Int) {
        for (index, r) in tiles(k, size: depth).enumerated() {
            let ar = opColumns(a, trans, r)
            cblas_ssyrk(CblasRowMajor, CblasLower, cblas(trans), Int32(c.rows), Int32(r.count), alpha, ar.base,
                        Int32(ar.stride), index == 0 ? beta : 1, c.base, Int32(c.stride))
        }
    }

    /// The order up to which LAPACK's own `spotrf` and `strtri` run (OpenBLAS runs them single-threaded
    /// there; larger ones it threads with thread-dependent blocks).
    static let leaf = 64

    /// `spotrf` of a row-major lower triangle (the column-major upper one) of order ≤ ``leaf``, a
    /// diagonal block starting at row `offset` of a matrix of order `order` (for the error).
    private static func potrf(_ a: MutableMatrixView, offset: Int, order: Int) throws {
        let info = LAPACKE_spotrf(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "U")), Int32(a.rows), a.base, Int32(a.stride))
        if info > 0 { throw LinearAlgebraError.notPositiveDefinite(order: order, minor: offset + Int(info), system: nil) }
        if info < 0 { throw LinearAlgebraError.nonFinite(operation: "choleskyFactor") }
    }

    /// The block size for a matrix of order `n`: ``block``, or ``leaf`` inside a diagonal block.
    private static func blockSize(_ n: Int) -> Int { n <= block ? leaf : block }

    /// The lower Cholesky factor of `a` in place, right-looking by blocks: factor the diagonal block
    /// (recursively, down to ``leaf``), solve the panel below it, update the trailing lower triangle
    /// with one SYRK. The strict upper triangle is left as it was.
    static func choleskyLower(_ a: MutableMatrixView, offset: Int = 0, order: Int? = nil) throws {
        let n = a.rows, order = order ?? a.rows
        if n <= leaf { try potrf(a, offset: offset, order: order); return }
        for j in tiles(n, size: blockSize(n)) {
            try choleskyLower(a.block(rows: j, cols: j), offset: offset + j.lowerBound, order: order)
            guard j.upperBound < n else { break }
            let rest = j.upperBound..<n
            let diag = a.block(rows: j, cols: j), panel = a.block(rows: rest, cols: j)
            cblas_strsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, Int32(panel.rows),
                        Int32(panel.cols), 1, diag.base, Int32(diag.stride), panel.base, Int32(panel.stride))
            syrkLower(.none, alpha: -1, panel.view, beta: 1, a.block(rows: rest, cols: rest), k: j.count)
        }
    }

    /// `L⁻¹` in place for a lower-triangular `L` whose strict upper triangle is zero, by block rows:
    /// block row `i` is `−L_ii⁻¹ · L[i, ..<i] · L⁻¹[..<i, ..<i]` (through `scratch`, at least
    /// `block × n`), then `L_ii⁻¹` (recursively, down to ``leaf``) on the diagonal.
    static func invertLower(_ a: MutableMatrixView, scratch: MutableMatrixView) throws {
        let n = a.rows
        if n <= leaf {
            let info = LAPACKE_strtri(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "U")), CChar(UInt8(ascii: "N")),
                                      Int32(n), a.base, Int32(a.stride))
            guard info == 0 else { throw LinearAlgebraError.lapack(routine: "strtri", info: Int(info)) }
            return
        }
        for i in tiles(n, size: blockSize(n)) {
            if i.lowerBound > 0 {
                let before = 0..<i.lowerBound
                let t = scratch.block(rows: 0..<i.count, cols: before)
                t.fill(0)
                // Rows r of L⁻¹ are zero right of r's end: each chunk of the inner dimension updates only
                // the columns before its end.
                for r in tiles(before.count, size: depth) {
                    gemm(.none, .none, alpha: 1, a.block(rows: i, cols: r).view, a.block(rows: r, cols: 0..<r.upperBound).view,
                         beta: 1, t.columns(0..<r.upperBound), k: r.count)
                }
                let lii = a.block(rows: i, cols: i)
                cblas_strsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, Int32(t.rows),
                            Int32(t.cols), -1, lii.base, Int32(lii.stride), t.base, Int32(t.stride))
                a.block(rows: i, cols: before).assign(t.view)
            }
            try invertLower(a.block(rows: i, cols: i), scratch: scratch)
        }
    }

    /// `a⁻¹` in place from its lower Cholesky factor `L` (strict upper triangle zero), as `L⁻ᵀ·L⁻¹`:
    /// ``invertLower(_:scratch:)``, then block row `i` of the lower triangle of `L⁻ᵀ·L⁻¹`, which is
    /// `L⁻¹[i..., i]ᵀ · L⁻¹[i..., ...i]`, top to bottom (rows below `i` are still `L⁻¹`). Returns the
    /// full symmetric inverse.
    static func inverseFromCholesky(_ a: MutableMatrixView) throws {
        let n = a.rows
        var scratch = Matrix(rows: min(n, block), cols: n)
        try scratch.withMutableView { s in
            try invertLower(a, scratch: s)
            for i in tiles(n, size: block) {
                let depth = i.lowerBound..<n, upTo = 0..<i.upperBound
                let t = s.block(rows: 0..<i.count, cols: upTo)
                gemm(.transposed, .none, alpha: 1, a.block(rows: depth, cols: i).view, a.block(rows: depth, cols: upTo).view,
                     beta: 0, t, k: depth.count)
                a.block(rows: i, cols: upTo).assign(t.view)
            }
        }
        a.mirrorLowerToUpper()
    }
}
#endif
