import Foundation

/// The dense kernels MovieRec's models run on, with two interchangeable implementations:
/// ``SwiftKernels`` (pure Swift, always available) and `OpenBLASKernels` (OpenBLAS + LAPACKE,
/// present when the package is built with its default `OpenBLAS` trait).
///
/// Pick one at run time with ``Backend/makeKernels(threads:)``. Every method checks shapes and
/// throws ``LinearAlgebraError`` rather than trapping. Views are row-major (see ``MatrixView``).
public protocol Kernels: Sendable {
    /// Which implementation this is.
    var backend: Backend { get }
    /// How many threads the kernel may use for one call.
    var threads: Int { get }

    /// The same backend restricted to one thread per call, for use inside an outer parallel loop.
    func singleThreaded() -> any Kernels

    /// General matrix multiply: `C ← α·op(A)·op(B) + β·C`.
    ///
    /// `op(A)` is `m × k`, `op(B)` is `k × n`, `C` is `m × n`; `k == 0` scales `C` by `β`.
    /// With `β == 0`, `C` is overwritten (NaNs in it do not propagate).
    /// - Complexity: O(m·n·k).
    func gemm(_ transA: Transpose, _ transB: Transpose, alpha: Float, _ a: MatrixView, _ b: MatrixView,
              beta: Float, _ c: MutableMatrixView) throws

    /// Matrix-vector multiply: `y ← α·op(A)·x + β·y`.
    /// - Complexity: O(rows × cols).
    func gemv(_ trans: Transpose, alpha: Float, _ a: MatrixView, _ x: UnsafeBufferPointer<Float>,
              beta: Float, _ y: UnsafeMutableBufferPointer<Float>) throws

    /// Symmetric rank-k update: `C ← α·op(A)·op(A)ᵀ + β·C`, writing both triangles of `C`.
    ///
    /// With `.none`, `A` is `n × k`; with `.transposed`, `A` is `k × n` and the update is `α·AᵀA`.
    /// - Complexity: O(n²·k).
    func syrk(_ trans: Transpose, alpha: Float, _ a: MatrixView, beta: Float, _ c: MutableMatrixView) throws

    /// Dot product `Σ xᵢ·yᵢ`.
    /// - Complexity: O(n).
    func dot(_ x: UnsafeBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>) throws -> Float

    /// `y ← α·x + y`.
    /// - Complexity: O(n).
    func axpy(_ alpha: Float, _ x: UnsafeBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>) throws

    /// `x ← α·x`.
    /// - Complexity: O(n).
    func scale(_ alpha: Float, _ x: UnsafeMutableBufferPointer<Float>)

    /// In-place Cholesky factorisation of a symmetric positive-definite matrix: on return the lower
    /// triangle holds `L` with `A = L·Lᵀ` and the strict upper triangle is zero. Only the lower
    /// triangle of the input is read.
    /// - Throws: ``LinearAlgebraError/notPositiveDefinite(order:minor:system:)``.
    /// - Complexity: O(n³/3).
    func choleskyFactor(_ a: MutableMatrixView) throws

    /// Solves `L·Lᵀ·X = B` in place (`B` is `n × nrhs`, overwritten with `X`) given the factor from
    /// ``choleskyFactor(_:)``.
    /// - Complexity: O(n²·nrhs).
    func choleskySolve(factor: MatrixView, _ b: MutableMatrixView) throws

    /// In-place inverse of a symmetric positive-definite matrix through its Cholesky factor
    /// (LAPACK `spotrf` + `spotri`, or `L⁻¹` by substitution and `L⁻ᵀ·L⁻¹` by GEMM). Only the lower
    /// triangle of `a` is read; both triangles of the result are written.
    /// - Throws: ``LinearAlgebraError/notPositiveDefinite(order:minor:system:)``.
    /// - Complexity: O(n³).
    func choleskyInverse(_ a: MutableMatrixView) throws

    /// The thin QR factor `Q` (`m × n`, orthonormal columns) of a matrix with `m ≥ n`, by Householder reflections.
    /// - Complexity: O(m·n²).
    func orthonormalBasis(_ a: MatrixView) throws -> Matrix

    /// The thin singular value decomposition `A = U·diag(S)·Vᵀ` (LAPACK `sgesdd` or one-sided Jacobi),
    /// singular values descending, signs normalised (see ``SVDResult``).
    /// - Complexity: O(m·n·min(m, n)).
    func svd(_ a: MatrixView) throws -> SVDResult
}

/// The two kernel implementations.
public enum Backend: String, Sendable, CaseIterable, CustomStringConvertible {
    /// OpenBLAS (CBLAS) and LAPACKE.
    case openblas
    /// The pure-Swift kernels.
    case swift

    /// Whether this build contains the backend.
    public var isAvailable: Bool {
        switch self {
        case .swift: return true
        case .openblas:
            #if OpenBLAS
            return true
            #else
            return false
            #endif
        }
    }

    /// The backends this build contains, OpenBLAS first when present.
    public static var available: [Backend] { allCases.filter(\.isAvailable) }

    /// The kernel set OpenBLAS chose for this CPU ("Haswell", "SkylakeX", "Zen", …; nil without
    /// OpenBLAS). A CPU newer than the OpenBLAS build gets a generic set ("Prescott": SSE3, several
    /// times slower); the `OPENBLAS_CORETYPE` environment variable overrides the choice at start-up.
    public static var openBLASCore: String? {
        #if OpenBLAS
        return OpenBLASKernels.coreName
        #else
        return nil
        #endif
    }

    /// OpenBLAS when compiled in, else pure Swift.
    public static var `default`: Backend { Backend.openblas.isAvailable ? .openblas : .swift }

    /// The default backend's kernels on every core: what library calls use when given none.
    public static var defaultKernels: any Kernels {
        #if OpenBLAS
        OpenBLASKernels(threads: Parallel.cores)
        #else
        SwiftKernels(threads: Parallel.cores)
        #endif
    }

    /// Kernels of this backend using at most `threads` threads per call.
    /// - Throws: ``LinearAlgebraError/backendUnavailable(_:)`` for OpenBLAS in a build without it.
    public func makeKernels(threads: Int = Parallel.cores) throws -> any Kernels {
        let threads = max(1, threads)
        switch self {
        case .swift:
            return SwiftKernels(threads: threads)
        case .openblas:
            #if OpenBLAS
            return OpenBLASKernels(threads: threads)
            #else
            throw LinearAlgebraError.backendUnavailable(rawValue)
            #endif
        }
    }

    public var description: String { self == .openblas ? "OpenBLAS" : "Swift" }
}

// MARK: - Shape checks shared by both backends

enum ShapeCheck {
    static func gemm(_ transA: Transpose, _ transB: Transpose, _ a: MatrixView, _ b: MatrixView,
                     _ c: MutableMatrixView) throws -> (m: Int, n: Int, k: Int) {
        let (m, k) = a.shape(transA)
        let (kb, n) = b.shape(transB)
        guard k == kb, c.rows == m, c.cols == n else {
            throw LinearAlgebraError.dimensionMismatch(
                operation: "gemm",
                detail: "op(A) is \(m)×\(k), op(B) is \(kb)×\(n), C is \(c.rows)×\(c.cols)")
        }
        return (m, n, k)
    }

    static func gemv(_ trans: Transpose, _ a: MatrixView, xCount: Int, yCount: Int) throws -> (m: Int, n: Int) {
        let (m, n) = a.shape(trans)
        guard xCount == n, yCount == m else {
            throw LinearAlgebraError.dimensionMismatch(
                operation: "gemv", detail: "op(A) is \(m)×\(n), x has \(xCount), y has \(yCount)")
        }
        return (m, n)
    }

    static func syrk(_ trans: Transpose, _ a: MatrixView, _ c: MutableMatrixView) throws -> (n: Int, k: Int) {
        let (n, k) = a.shape(trans)
        guard c.rows == n, c.cols == n else {
            throw LinearAlgebraError.dimensionMismatch(
                operation: "syrk", detail: "op(A) is \(n)×\(k), C is \(c.rows)×\(c.cols) (must be \(n)×\(n))")
        }
        return (n, k)
    }

    static func vectors(_ operation: String, _ x: Int, _ y: Int) throws {
        guard x == y else {
            throw LinearAlgebraError.dimensionMismatch(operation: operation, detail: "x has \(x) entries, y has \(y)")
        }
    }

    static func square(_ operation: String, _ a: MatrixView) throws {
        guard a.rows == a.cols else {
            throw LinearAlgebraError.dimensionMismatch(operation: operation, detail: "matrix is \(a.rows)×\(a.cols), must be square")
        }
    }

    static func choleskySolve(_ factor: MatrixView, _ b: MutableMatrixView) throws {
        try square("choleskySolve", factor)
        guard b.rows == factor.rows else {
            throw LinearAlgebraError.dimensionMismatch(
                operation: "choleskySolve", detail: "factor is \(factor.rows)×\(factor.cols), B is \(b.rows)×\(b.cols)")
        }
    }

    static func finite(_ operation: String, _ a: MatrixView) throws {
        guard a.allFinite else { throw LinearAlgebraError.nonFinite(operation: operation) }
    }

    static func tallBasis(_ a: MatrixView) throws {
        guard a.rows >= a.cols else {
            throw LinearAlgebraError.dimensionMismatch(
                operation: "orthonormalBasis", detail: "matrix is \(a.rows)×\(a.cols), needs rows ≥ cols")
        }
        try finite("orthonormalBasis", a)
    }
}

// MARK: - Conveniences on whole matrices

extension Kernels {
    /// Runs `body` — an outer parallel loop — with ``singleThreaded()`` kernels, whose every call
    /// stays on the thread that makes it. Use it around loops of many mid-sized calls
    /// (per-sequence attention, the LSTM's per-block recurrence).
    public func withSingleThreadedCalls<T>(_ body: (any Kernels) throws -> T) rethrows -> T { try body(singleThreaded()) }

    /// `op(A)·op(B)` as a new matrix.
    public func multiply(_ a: Matrix, _ b: Matrix, transA: Transpose = .none, transB: Transpose = .none) throws -> Matrix {
        let m = transA == .none ? a.rows : a.cols
        let n = transB == .none ? b.cols : b.rows
        var c = Matrix(rows: m, cols: n)
        try a.withView { av in
            try b.withView { bv in
                try c.withMutableView { cv in
                    try gemm(transA, transB, alpha: 1, av, bv, beta: 0, cv)
                }
            }
        }
        return c
    }

    /// Solves the symmetric positive-definite system `A·X = B` (both given as matrices).
    public func solveSPD(_ a: Matrix, _ b: Matrix) throws -> Matrix {
        var factor = a
        var x = b
        try factor.withMutableView { fv in
            try choleskyFactor(fv)
            try x.withMutableView { xv in try choleskySolve(factor: fv.view, xv) }
        }
        return x
    }
}
