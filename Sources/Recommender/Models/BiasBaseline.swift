import Foundation
import MovieLens

/// The global/bias baseline for rating prediction: `r̂(u, i) = μ + b_u + b_i`, fitted by
/// alternating regularised least squares as Surprise's `BaselineOnly` does (defaults: 10 epochs,
/// λ_item 10, λ_user 15):
///
///     b_i = Σ_{u∈U(i)} (r − μ − b_u) / (λ_item + |U(i)|)
///     b_u = Σ_{i∈I(u)} (r − μ − b_i) / (λ_user + |I(u)|)
public struct BiasBaseline: Sendable {
    public var epochs: Int
    public var itemRegularization: Float
    public var userRegularization: Float
    public private(set) var globalMean: Float = 0
    public private(set) var userBias: [Float] = []
    public private(set) var itemBias: [Float] = []

    public init(epochs: Int = 10, itemRegularization: Float = 10, userRegularization: Float = 15) {
        self.epochs = epochs
        self.itemRegularization = itemRegularization
        self.userRegularization = userRegularization
    }

    /// Fits to `userItems` (users × items, values = ratings).
    /// - Complexity: O(epochs × nnz).
    public mutating func fit(_ userItems: SparseMatrix) {
        let n = max(1, userItems.nonzeros)
        globalMean = userItems.values.reduce(0, +) / Float(n)
        userBias = [Float](repeating: 0, count: userItems.rows)
        itemBias = [Float](repeating: 0, count: userItems.cols)
        for _ in 0..<epochs {
            var sums = [Float](repeating: 0, count: userItems.cols), counts = [Float](repeating: 0, count: userItems.cols)
            for u in 0..<userItems.rows {
                for e in userItems.range(ofRow: u) {
                    let i = Int(userItems.columns[e])
                    sums[i] += userItems.values[e] - globalMean - userBias[u]
                    counts[i] += 1
                }
            }
            for i in 0..<userItems.cols { itemBias[i] = sums[i] / (itemRegularization + counts[i]) }
            for u in 0..<userItems.rows {
                var sum: Float = 0
                let entries = userItems.range(ofRow: u)
                for e in entries { sum += userItems.values[e] - globalMean - itemBias[Int(userItems.columns[e])] }
                userBias[u] = sum / (userRegularization + Float(entries.count))
            }
        }
    }

    /// `μ + b_u + b_i`, with an unknown user or item (index −1 or out of range) contributing 0.
    public func predict(user: Int, item: Int) -> Float {
        globalMean + (userBias.indices.contains(user) ? userBias[user] : 0) + (itemBias.indices.contains(item) ? itemBias[item] : 0)
    }
}
