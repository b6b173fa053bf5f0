extension MatrixView {
    /// The cosine similarity of every row with row `r`: `⟨a, b⟩ / (‖a‖·‖b‖)`, 0 where either row is zero.
    /// - Complexity: O(rows × cols).
    public func cosines(toRow r: Int) -> [Float] {
        let a = base + r * stride
        let na = VectorOps.dot(a, a, cols).squareRoot()
        return (0..<rows).map { i in
            let b = base + i * stride
            let nb = VectorOps.dot(b, b, cols).squareRoot()
            return na > 0 && nb > 0 ? VectorOps.dot(a, b, cols) / (na * nb) : 0
        }
    }
}

extension VectorMath {
    /// Scales each of the `n` floats at `x` by `1 / ‖x‖` (a zero vector stays zero).
    public static func normalize(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
        let norm = VectorOps.dot(x, x, n).squareRoot()
        guard norm > 0 else { return }
        VectorOps.scale(1 / norm, x, n)
    }
}
