#if OpenBLAS
import CLinearAlgebra

/// How ``OpenBLASKernels`` runs on several threads with results independent of the thread count.
///
/// OpenBLAS runs single-threaded. Each product is cut into fixed blocks of ``tile`` rows or columns
/// of its output, shared out over the threads (``Parallel``), each block one sequence of OpenBLAS
/// calls of inner dimension at most ``depth`` accumulating into it. The blocks and the calls depend
/// on the shapes only: every entry comes from the same calls on 1, 2 or 3 threads. The Cholesky
/// factorization and the inverse are blocked algorithms built from such products, their triangular
/// solves cut into blocks of independent rows or columns the same way (`Tests/LinearAlgebraTests`
/// checks that 1, 2 and 3 threads give identical bits).
enum OpenBLASBlocked {
    /// The longest inner dimension of one OpenBLAS call.
    static let depth = 256
    /// The block size of the blocked Cholesky factorization and inverse.
    static let block = 256
    /// Rows or columns of the output per parallel block of a product or triangular solve.
    static let tile = 128

    /// Calls `body` with each block of ``tile`` of `0..<count`, on up to `threads` threads.
    static func forTiles(_ count: Int, threads: Int, _ body: @Sendable (Range<Int>) -> Void) {
        let ranges = tiles(count, size: tile)
        Parallel.forEach(count: ranges.count, threads: threads) { body(ranges[$0]) }
    }

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

    /// `c = alpha·op(a)·op(b) + beta·c`: blocks of ``tile`` rows of `c` (columns, when `c` is wider
    /// than tall) on `threads` threads, each as one `sgemm` per ``depth`` terms of the inner dimension.
    static func gemm(_ transA: Transpose, _ transB: Transpose, alpha: Float, _ a: MatrixView, _ b: MatrixView,
                     beta: Float, _ c: MutableMatrixView, k: Int, threads: Int) {
        if c.rows >= c.cols {
            forTiles(c.rows, threads: threads) { r in
                gemmSerial(transA, transB, alpha: alpha, opRows(a, transA, r), b, beta: beta, c.rows(r), k: k)
            }
        } else {
            forTiles(c.cols, threads: threads) { r in
                gemmSerial(transA, transB, alpha: alpha, a, opColumns(b, transB, r), beta: beta, c.columns(r), k: k)
            }
        }
    }

    /// `c = alpha·op(a)·op(b) + beta·c` on the calling thread, one `sgemm` per ``depth`` terms.
    private static func gemmSerial(_ transA: Transpose, _ transB: Transpose, alpha: Float, _ a: MatrixView, _ b: MatrixView,
                                   beta: Float, _ c: MutableMatrixView, k: Int) {
        for (index, r) in tiles(k, size: depth).enumerated() {
            let ar = opColumns(a, transA, r), br = opRows(b, transB, r)
            cblas_sgemm(CblasRowMajor, cblas(transA), cblas(transB), Int32(c.rows), Int32(c.cols), Int32(r.count),
                        alpha, ar.base, Int32(ar.stride), br.base, Int32(br.stride), index == 0 ? beta : 1,
                        c.base, Int32(c.stride))
        }
    }

    /// The lower triangle of `c = alpha·op(a)·op(a)ᵀ + beta·c`: per block of ``tile`` rows, one
    /// `ssyrk` per ``depth`` terms for the diagonal block and ``gemm`` for the rows left of it, the
    /// blocks on `threads` threads.
    static func syrkLower(_ trans: Transpose, alpha: Float, _ a: MatrixView, beta: Float, _ c: MutableMatrixView, k: Int, threads: Int) {
        let other: Transpose = trans == .none ? .transposed : .none
        forTiles(c.rows, threads: threads) { rows in
            let ar = opRows(a, trans, rows), diagonal = c.block(rows: rows, cols: rows)
            for (index, r) in tiles(k, size: depth).enumerated() {
                let ark = opColumns(ar, trans, r)
                cblas_ssyrk(CblasRowMajor, CblasLower, cblas(trans), Int32(diagonal.rows), Int32(r.count), alpha, ark.base,
                            Int32(ark.stride), index == 0 ? beta : 1, diagonal.base, Int32(diagonal.stride))
            }
            if rows.lowerBound > 0 {
                let before = 0..<rows.lowerBound
                gemmSerial(trans, other, alpha: alpha, ar, opRows(a, trans, before), beta: beta, c.block(rows: rows, cols: before), k: k)
            }
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
    static func choleskyLower(_ a: MutableMatrixView, offset: Int = 0, order: Int? = nil, threads: Int) throws {
        let n = a.rows, order = order ?? a.rows
        if n <= leaf { try potrf(a, offset: offset, order: order); return }
        for j in tiles(n, size: blockSize(n)) {
            try choleskyLower(a.block(rows: j, cols: j), offset: offset + j.lowerBound, order: order, threads: threads)
            guard j.upperBound < n else { break }
            let rest = j.upperBound..<n
            let diag = a.block(rows: j, cols: j), panel = a.block(rows: rest, cols: j)
            // Each row of the panel is solved on its own: blocks of rows in parallel.
            forTiles(panel.rows, threads: threads) { r in
                let rows = panel.rows(r)
                cblas_strsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, Int32(rows.rows),
                            Int32(rows.cols), 1, diag.base, Int32(diag.stride), rows.base, Int32(rows.stride))
            }
            syrkLower(.none, alpha: -1, panel.view, beta: 1, a.block(rows: rest, cols: rest), k: j.count, threads: threads)
        }
    }

    /// `L⁻¹` in place for a lower-triangular `L` whose strict upper triangle is zero, by block rows:
    /// block row `i` is `−L_ii⁻¹ · L[i, ..<i] · L⁻¹[..<i, ..<i]` (through `scratch`, at least
    /// `block × n`), then `L_ii⁻¹` (recursively, down to ``leaf``) on the diagonal.
    static func invertLower(_ a: MutableMatrixView, scratch: MutableMatrixView, threads: Int) throws {
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
                         beta: 1, t.columns(0..<r.upperBound), k: r.count, threads: threads)
                }
                let lii = a.block(rows: i, cols: i)
                // Each column of t is solved on its own: blocks of columns in parallel.
                forTiles(t.cols, threads: threads) { r in
                    let columns = t.columns(r)
                    cblas_strsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, Int32(columns.rows),
                                Int32(columns.cols), -1, lii.base, Int32(lii.stride), columns.base, Int32(columns.stride))
                }
                a.block(rows: i, cols: before).assign(t.view)
            }
            try invertLower(a.block(rows: i, cols: i), scratch: scratch, threads: threads)
        }
    }

    /// `a⁻¹` in place from its lower Cholesky factor `L` (strict upper triangle zero), as `L⁻ᵀ·L⁻¹`:
    /// ``invertLower(_:scratch:)``, then block row `i` of the lower triangle of `L⁻ᵀ·L⁻¹`, which is
    /// `L⁻¹[i..., i]ᵀ · L⁻¹[i..., ...i]`, top to bottom (rows below `i` are still `L⁻¹`). Returns the
    /// full symmetric inverse.
    static func inverseFromCholesky(_ a: MutableMatrixView, threads: Int) throws {
        let n = a.rows
        var scratch = Matrix(rows: min(n, block), cols: n)
        try scratch.withMutableView { s in
            try invertLower(a, scratch: s, threads: threads)
            for i in tiles(n, size: block) {
                let depth = i.lowerBound..<n, upTo = 0..<i.upperBound
                let t = s.block(rows: 0..<i.count, cols: upTo)
                gemm(.transposed, .none, alpha: 1, a.block(rows: depth, cols: i).view, a.block(rows: depth, cols: upTo).view,
                     beta: 0, t, k: depth.count, threads: threads)
                a.block(rows: i, cols: upTo).assign(t.view)
            }
        }
        a.mirrorLowerToUpper()
    }
}
#endif
