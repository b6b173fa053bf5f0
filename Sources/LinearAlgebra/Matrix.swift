/// Whether a kernel reads a matrix operand as stored or as its transpose.
public enum Transpose: Sendable, Hashable {
    /// Use the matrix as stored.
    case none
    /// Use the transpose of the stored matrix.
    case transposed
}

/// A dense, row-major matrix of `Float` that owns its storage.
///
/// `Matrix` is a value type with copy-on-write storage. Kernels work on borrowed
/// ``MatrixView`` and ``MutableMatrixView`` values, which are cheap windows (a base
/// pointer, a shape and a row stride) obtained with ``withView(_:)`` and
/// ``withMutableView(_:)``; slicing a view never copies.
///
/// ```swift
/// var c = Matrix(rows: 2, cols: 2)
/// let a = try Matrix([[1, 2], [3, 4]])
/// try a.withView { av in
///     try c.withMutableView { cv in
///         try kernels.gemm(.none, .transposed, alpha: 1, av, av, beta: 0, cv)
///     }
/// }
/// ```
public struct Matrix: Sendable, Hashable {
    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let cols: Int
    /// The entries in row-major order; `elements.count == rows * cols`.
    public private(set) var elements: [Float]

    /// A `rows × cols` matrix with every entry equal to `value`.
    ///
    /// Storage of 4 MiB and more is advised onto transparent huge pages before it is first touched:
    /// factor matrices are read by random row, and with 4 KiB pages every such read can miss the TLB.
    public init(rows: Int, cols: Int, repeating value: Float = 0) {
        precondition(rows >= 0 && cols >= 0, "matrix dimensions must be non-negative")
        self.rows = rows
        self.cols = cols
        let count = rows * cols
        self.elements = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let base = buffer.baseAddress {
                HugePages.advise(base, count: count)
                base.initialize(repeating: value, count: count)
            }
            initialized = count
        }
    }

    /// A `rows × cols` matrix over `elements` given in row-major order.
    ///
    /// - Throws: ``LinearAlgebraError/dimensionMismatch(operation:detail:)`` when the
    ///   element count is not `rows * cols` or a dimension is negative.
    public init(rows: Int, cols: Int, elements: [Float]) throws {
        guard rows >= 0, cols >= 0, elements.count == rows * cols else {
            throw LinearAlgebraError.dimensionMismatch(
                operation: "Matrix.init",
                detail: "\(elements.count) elements cannot fill \(rows)×\(cols)")
        }
        self.rows = rows
        self.cols = cols
        self.elements = elements
    }

    /// A matrix from nested row arrays, e.g. `Matrix([[1, 2], [3, 4]])`.
    ///
    /// - Throws: ``LinearAlgebraError/dimensionMismatch(operation:detail:)`` when rows differ in length.
    public init(_ nestedRows: [[Float]]) throws {
        let cols = nestedRows.first?.count ?? 0
        for (index, row) in nestedRows.enumerated() where row.count != cols {
            throw LinearAlgebraError.dimensionMismatch(
                operation: "Matrix.init",
                detail: "row \(index) has \(row.count) entries, row 0 has \(cols)")
        }
        try self.init(rows: nestedRows.count, cols: cols, elements: nestedRows.flatMap { $0 })
    }

    /// The `n × n` identity matrix.
    public static func identity(_ n: Int) -> Matrix {
        var m = Matrix(rows: n, cols: n)
        for i in 0..<n { m.elements[i * n + i] = 1 }
        return m
    }

    /// The entry at row `row`, column `col`.
    public subscript(row: Int, col: Int) -> Float {
        get {
            precondition(row >= 0 && row < rows && col >= 0 && col < cols, "matrix index out of range")
            return elements[row * cols + col]
        }
        set {
            precondition(row >= 0 && row < rows && col >= 0 && col < cols, "matrix index out of range")
            elements[row * cols + col] = newValue
        }
    }

    /// The entries of row `row`.
    ///
    /// - Complexity: O(1).
    public func row(_ row: Int) -> ArraySlice<Float> {
        elements[row * cols ..< (row + 1) * cols]
    }

    /// The transpose, as a new matrix.
    ///
    /// - Complexity: O(rows × cols).
    public var transposed: Matrix {
        var t = Matrix(rows: cols, cols: rows)
        elements.withUnsafeBufferPointer { src in
            t.elements.withUnsafeMutableBufferPointer { dst in
                for i in 0..<rows {
                    for j in 0..<cols { dst[j * rows + i] = src[i * cols + j] }
                }
            }
        }
        return t
    }

    /// A copy of the rows in `range`.
    public func rows(_ range: Range<Int>) -> Matrix {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "row range out of bounds")
        var m = Matrix(rows: range.count, cols: cols)
        m.elements = Array(elements[range.lowerBound * cols ..< range.upperBound * cols])
        return m
    }

    /// Calls `body` with a read-only view of the whole matrix, valid only inside `body`.
    public func withView<R, E: Error>(_ body: (MatrixView) throws(E) -> R) throws(E) -> R {
        let (rows, cols) = (self.rows, self.cols)
        return try elements.withUnsafeBufferPointer { (buffer) throws(E) -> R in
            try body(MatrixView(base: buffer.baseAddress ?? MatrixView.emptyBase,
                                rows: rows, cols: cols, stride: max(1, cols)))
        }
    }

    /// Calls `body` with a mutable view of the whole matrix, valid only inside `body`.
    public mutating func withMutableView<R, E: Error>(_ body: (MutableMatrixView) throws(E) -> R) throws(E) -> R {
        let (rows, cols) = (self.rows, self.cols)
        return try elements.withUnsafeMutableBufferPointer { (buffer) throws(E) -> R in
            try body(MutableMatrixView(base: buffer.baseAddress ?? MutableMatrixView.emptyBase,
                                       rows: rows, cols: cols, stride: max(1, cols)))
        }
    }

    /// Maximum absolute entry-wise difference to `other` (infinity when the shapes differ).
    public func maxAbsDifference(_ other: Matrix) -> Float {
        guard rows == other.rows, cols == other.cols else { return .infinity }
        var worst: Float = 0
        for (x, y) in zip(elements, other.elements) { worst = max(worst, abs(x - y)) }
        return worst
    }

    /// The Frobenius norm `sqrt(Σ aᵢⱼ²)`, accumulated in `Double`.
    public var frobeniusNorm: Float {
        var sum = 0.0
        for x in elements { sum += Double(x) * Double(x) }
        return Float(sum.squareRoot())
    }
}

/// A read-only window onto row-major `Float` storage: `rows × cols` entries whose rows start
/// `stride` elements apart (the BLAS leading dimension).
///
/// A view borrows memory it does not own: it is valid only inside the closure that produced it.
/// Slicing with ``rows(_:)``, ``columns(_:)`` or ``block(rows:cols:)`` is O(1).
public struct MatrixView: @unchecked Sendable {
    static var emptyBase: UnsafePointer<Float> { UnsafePointer(MutableMatrixView.emptyBase) }

    /// Address of entry (0, 0).
    public let base: UnsafePointer<Float>
    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let cols: Int
    /// Distance in elements between the starts of consecutive rows (`stride >= max(1, cols)`).
    public let stride: Int

    /// A view over `base` with the given shape and row stride.
    public init(base: UnsafePointer<Float>, rows: Int, cols: Int, stride: Int) {
        precondition(rows >= 0 && cols >= 0 && stride >= max(1, cols), "invalid matrix view shape")
        self.base = base
        self.rows = rows
        self.cols = cols
        self.stride = stride
    }

    /// The entry at (`row`, `col`).
    @inlinable public subscript(row: Int, col: Int) -> Float {
        base[row * stride + col]
    }

    /// The sub-view of the rows in `range`.
    public func rows(_ range: Range<Int>) -> MatrixView {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "row range out of bounds")
        return MatrixView(base: base + range.lowerBound * stride, rows: range.count, cols: cols, stride: stride)
    }

    /// The sub-view of the columns in `range`.
    public func columns(_ range: Range<Int>) -> MatrixView {
        precondition(range.lowerBound >= 0 && range.upperBound <= cols, "column range out of bounds")
        return MatrixView(base: base + range.lowerBound, rows: rows, cols: range.count, stride: stride)
    }

    /// The sub-view of the given rows and columns.
    public func block(rows r: Range<Int>, cols c: Range<Int>) -> MatrixView {
        self.rows(r).columns(c)
    }

    /// The dimensions of `op(self)`.
    func shape(_ trans: Transpose) -> (rows: Int, cols: Int) {
        trans == .none ? (rows, cols) : (cols, rows)
    }

    /// A dense copy.
    public func copy() -> Matrix {
        var m = Matrix(rows: rows, cols: cols)
        m.withMutableView { $0.assign(self) }
        return m
    }

    /// Whether every entry is finite.
    public var allFinite: Bool {
        for i in 0..<rows {
            let row = base + i * stride
            for j in 0..<cols where !row[j].isFinite { return false }
        }
        return true
    }
}

/// A mutable window onto row-major `Float` storage; see ``MatrixView``.
public struct MutableMatrixView: @unchecked Sendable {
    /// A valid, never-dereferenced address for views of empty arrays.
    nonisolated(unsafe) static let emptyBase = UnsafeMutablePointer<Float>.allocate(capacity: 1)

    /// Address of entry (0, 0).
    public let base: UnsafeMutablePointer<Float>
    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let cols: Int
    /// Distance in elements between the starts of consecutive rows (`stride >= max(1, cols)`).
    public let stride: Int

    /// A view over `base` with the given shape and row stride.
    public init(base: UnsafeMutablePointer<Float>, rows: Int, cols: Int, stride: Int) {
        precondition(rows >= 0 && cols >= 0 && stride >= max(1, cols), "invalid matrix view shape")
        self.base = base
        self.rows = rows
        self.cols = cols
        self.stride = stride
    }

    /// The read-only view of the same entries.
    public var view: MatrixView {
        MatrixView(base: UnsafePointer(base), rows: rows, cols: cols, stride: stride)
    }

    /// The entry at (`row`, `col`).
    @inlinable public subscript(row: Int, col: Int) -> Float {
        get { base[row * stride + col] }
        nonmutating set { base[row * stride + col] = newValue }
    }

    /// The sub-view of the rows in `range`.
    public func rows(_ range: Range<Int>) -> MutableMatrixView {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "row range out of bounds")
        return MutableMatrixView(base: base + range.lowerBound * stride, rows: range.count, cols: cols, stride: stride)
    }

    /// The sub-view of the columns in `range`.
    public func columns(_ range: Range<Int>) -> MutableMatrixView {
        precondition(range.lowerBound >= 0 && range.upperBound <= cols, "column range out of bounds")
        return MutableMatrixView(base: base + range.lowerBound, rows: rows, cols: range.count, stride: stride)
    }

    /// The sub-view of the given rows and columns.
    public func block(rows r: Range<Int>, cols c: Range<Int>) -> MutableMatrixView {
        self.rows(r).columns(c)
    }

    /// Copies `source` (same shape) into this view.
    public func assign(_ source: MatrixView) {
        precondition(source.rows == rows && source.cols == cols, "assign: shape mismatch")
        for i in 0..<rows {
            (base + i * stride).update(from: source.base + i * source.stride, count: cols)
        }
    }

    /// Sets every entry to `value`.
    public func fill(_ value: Float) {
        for i in 0..<rows { (base + i * stride).update(repeating: value, count: cols) }
    }

    /// Multiplies every entry by `factor`; `factor == 0` stores exact zeros (clearing NaNs), as BLAS does for β = 0.
    func scale(by factor: Float) {
        if factor == 1 { return }
        if factor == 0 { fill(0); return }
        for i in 0..<rows {
            let row = base + i * stride
            for j in 0..<cols { row[j] *= factor }
        }
    }

    /// Copies the lower triangle onto the upper one (square views only).
    func mirrorLowerToUpper() {
        for i in 0..<rows {
            for j in (i + 1)..<max(i + 1, cols) { base[i * stride + j] = base[j * stride + i] }
        }
    }
}
