/// The pure-Swift kernels: blocked, packed SIMD GEMM; SIMD dot/axpy loops for everything else.
///
/// Always available, including in builds without the `OpenBLAS` trait. See `SwiftGEMM.swift` for
/// the GEMM design and `make bench-native` for building with host-CPU code generation.
public struct SwiftKernels: Kernels {
    public var backend: Backend { .swift }
    public let threads: Int

    /// Kernels that use at most `threads` threads per call.
    public init(threads: Int = Parallel.cores) {
        self.threads = max(1, threads)
    }

    public func singleThreaded() -> any Kernels { SwiftKernels(threads: 1) }

    public func gemm(_ transA: Transpose, _ transB: Transpose, alpha: Float, _ a: MatrixView, _ b: MatrixView,
                     beta: Float, _ c: MutableMatrixView) throws {
        let (m, n, k) = try ShapeCheck.gemm(transA, transB, a, b, c)
        SwiftGEMM.gemm(transA, transB, m: m, n: n, k: k, alpha: alpha, a, b, beta: beta, c, threads: threads)
    }

    public func gemv(_ trans: Transpose, alpha: Float, _ a: MatrixView, _ x: UnsafeBufferPointer<Float>,
                     beta: Float, _ y: UnsafeMutableBufferPointer<Float>) throws {
        let (m, _) = try ShapeCheck.gemv(trans, a, xCount: x.count, yCount: y.count)
        guard let yp = y.baseAddress else { return }
        if beta == 0 { yp.update(repeating: 0, count: m) } else { VectorOps.scale(beta, yp, m) }
        guard alpha != 0, let xp = x.baseAddress else { return }
        if trans == .none {
            for i in 0..<a.rows { yp[i] += alpha * VectorOps.dot(a.base + i * a.stride, xp, a.cols) }
        } else {
            for i in 0..<a.rows { VectorOps.axpy(alpha * xp[i], a.base + i * a.stride, yp, a.cols) }
        }
    }

    public func syrk(_ trans: Transpose, alpha: Float, _ a: MatrixView, beta: Float, _ c: MutableMatrixView) throws {
        let (n, _) = try ShapeCheck.syrk(trans, a, c)
        // Lower triangle by blocks of rows: block i of C gets op(A)[block i] · op(A)[0..<end of block i]ᵀ.
        let block = 64
        let blocks = (n + block - 1) / block
        let other: Transpose = trans == .none ? .transposed : .none
        for bi in 0..<blocks {
            let rows = (bi * block) ..< min(n, (bi + 1) * block)
            let upTo = 0 ..< rows.upperBound
            let aRows = trans == .none ? a.rows(rows) : a.columns(rows)
            let aCols = trans == .none ? a.rows(upTo) : a.columns(upTo)
            SwiftGEMM.gemm(trans, other, m: rows.count, n: upTo.count, k: trans == .none ? a.cols : a.rows,
                           alpha: alpha, aRows, aCols, beta: beta, c.block(rows: rows, cols: upTo), threads: threads)
        }
        c.mirrorLowerToUpper()
    }

    public func dot(_ x: UnsafeBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>) throws -> Float {
        try ShapeCheck.vectors("dot", x.count, y.count)
        return VectorOps.dot(x.baseAddress, y.baseAddress, x.count)
    }

    public func axpy(_ alpha: Float, _ x: UnsafeBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>) throws {
        try ShapeCheck.vectors("axpy", x.count, y.count)
        VectorOps.axpy(alpha, x.baseAddress, y.baseAddress, x.count)
    }

    public func scale(_ alpha: Float, _ x: UnsafeMutableBufferPointer<Float>) {
        VectorOps.scale(alpha, x.baseAddress, x.count)
    }

    public func choleskyFactor(_ a: MutableMatrixView) throws {
        try ShapeCheck.square("choleskyFactor", a.view)
        try SwiftCholesky.factor(a)
    }

    public func choleskySolve(factor: MatrixView, _ b: MutableMatrixView) throws {
        try ShapeCheck.choleskySolve(factor, b)
        SwiftCholesky.solve(factor: factor, b)
    }

    public func choleskyInverse(_ a: MutableMatrixView) throws {
        try ShapeCheck.square("choleskyInverse", a.view)
        try ShapeCheck.finite("choleskyInverse", a.view)
        let n = a.rows
        guard n > 0 else { return }
        try SwiftCholesky.factor(a)
        // Z = L⁻¹ by forward substitution, row by row (Z is lower triangular).
        var z = Matrix(rows: n, cols: n)
        z.withMutableView { zv in
            for i in 0..<n {
                let zi = zv.base + i * zv.stride
                let li = a.base + i * a.stride
                zi[i] = 1
                for p in 0..<i where li[p] != 0 { VectorOps.axpy(-li[p], zv.base + p * zv.stride, zi, p + 1) }
                VectorOps.scale(1 / li[i], zi, i + 1)
            }
        }
        // A⁻¹ = Zᵀ·Z.
        try z.withView { zv in try gemm(.transposed, .none, alpha: 1, zv, zv, beta: 0, a) }
    }

    public func orthonormalBasis(_ a: MatrixView) throws -> Matrix {
        try ShapeCheck.tallBasis(a)
        return SwiftQR.orthonormalBasis(a)
    }

    public func svd(_ a: MatrixView) throws -> SVDResult {
        try SwiftSVD.svd(a, kernels: self)
    }
}
