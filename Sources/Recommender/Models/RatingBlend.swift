import Foundation
import LinearAlgebra
import MovieLens

/// A model that predicts ratings: what ``RatingBlend`` combines.
public protocol RatingPredictor: Sendable {
    /// One line naming the model and its settings.
    var label: String { get }
    /// Fits to every rating of `ratings`.
    mutating func fit(_ ratings: TimedRatings, kernels: any Kernels) throws
    /// The predicted rating of item index `item` by user index `user` on `day` (nil: unknown);
    /// −1 for an unknown user or item.
    func predict(user: Int, item: Int, day: Int32?) -> Float
}

extension BiasBaseline: RatingPredictor {
    public var label: String { "bias baseline (μ + b_u + b_i)" }
    public mutating func fit(_ ratings: TimedRatings, kernels: any Kernels) throws { fit(ratings.matrix()) }
    public func predict(user: Int, item: Int, day: Int32?) -> Float { predict(user: user, item: item) }
}

extension ExplicitALS: RatingPredictor {
    public var label: String { "explicit ALS (\(factors)f, weighted λ \(regularization), \(iterations) it)" }
    public mutating func fit(_ ratings: TimedRatings, kernels: any Kernels) throws { _ = try fit(ratings.matrix(), kernels: kernels) }
    public func predict(user: Int, item: Int, day: Int32?) -> Float { predict(user: user, item: item) }
}

extension SVDPlusPlus: RatingPredictor {
    public mutating func fit(_ ratings: TimedRatings, kernels: any Kernels) throws { _ = try fit(ratings) }
}

/// A linear blend of rating predictors fitted on a probe set, as the Netflix-prize blends were:
/// every member is trained on the ratings minus a probe carved from them, the weights (an
/// intercept and one per member) are the least-squares fit of the probe ratings on the members'
/// predictions, then every member is refitted on all the ratings and the weights applied to its
/// predictions, clipped to the rating range.
///
/// The probe is each user's last ``probeFraction`` of ratings by time (users with at least 5
/// ratings), or a seeded random share of all ratings — match it to how the test ratings are
/// chosen. The fit costs each member twice.
public struct RatingBlend: RatingPredictor {
    /// How the probe ratings are chosen.
    public typealias Probe = Carve

    public var members: [any RatingPredictor]
    public var probe: Probe
    public var probeFraction: Double
    public var seed: UInt64
    /// The intercept, then one weight per member (empty before fitting).
    public private(set) var weights: [Double] = []
    /// RMSE of each member and of the blend on the probe ratings.
    public private(set) var probeRMSE: [Double] = []
    public private(set) var ratingRange: ClosedRange<Float> = 0.5...5

    public init(members: [any RatingPredictor], probe: Probe = .temporal, probeFraction: Double = 0.1, seed: UInt64 = 0) {
        self.members = members
        self.probe = probe
        self.probeFraction = probeFraction
        self.seed = seed
    }

    public var label: String {
        let parts = weights.isEmpty ? members.map(\.label)
            : zip(weights.dropFirst(), members).map { String(format: "%.2f·", $0) + $1.label.prefix { $0 != "(" }.trimmingCharacters(in: .whitespaces) }
        return "blend (\(probe.rawValue) probe: \(parts.joined(separator: " + ")))"
    }

    /// Fits the blend to `ratings`.
    /// - Throws: ``RecommenderError/invalidOptions(model:reason:)`` without members, with a probe
    ///   fraction outside (0, 1) or without probe ratings; any member's error.
    public mutating func fit(_ ratings: TimedRatings, kernels: any Kernels) throws {
        guard !members.isEmpty, probeFraction > 0, probeFraction < 1 else {
            throw RecommenderError.invalidOptions(model: "blend", reason: "needs members and a probe fraction in (0, 1)")
        }
        let (inner, held) = ratings.carve(probe, fraction: probeFraction, seed: seed)
        guard held.count > 0 else {
            throw RecommenderError.invalidOptions(model: "blend", reason: "no probe ratings (too few ratings per user)")
        }
        var probed = members
        for m in probed.indices { try probed[m].fit(inner, kernels: kernels) }
        let d = members.count + 1
        // Normal equations of the least-squares fit, in Double, with a tiny ridge for collinear members.
        var gram = [Double](repeating: 0, count: d * d), rhs = [Double](repeating: 0, count: d)
        var squared = [Double](repeating: 0, count: members.count + 1)
        var x = [Double](repeating: 1, count: d)
        var predictions = [[Double]]()
        predictions.reserveCapacity(held.count)
        for u in 0..<held.users.count {
            for e in held.entries(ofUser: u) {
                let target = Double(held.values[e])
                for m in probed.indices {
                    let p = Double(probed[m].predict(user: u, item: Int(held.itemIndices[e]), day: held.days[e]))
                    x[m + 1] = p
                    squared[m] += (p - target) * (p - target)
                }
                for a in 0..<d {
                    rhs[a] += x[a] * target
                    for b in 0..<d { gram[a * d + b] += x[a] * x[b] }
                }
                predictions.append(x)
            }
        }
        for a in 1..<d { gram[a * d + a] += 1e-6 * Double(held.count) }
        weights = try Self.solve(gram, rhs, d)
        ratingRange = (ratings.values.min() ?? 0.5)...(ratings.values.max() ?? 5)
        for (x, target) in zip(predictions, held.values) {
            let p = clip(zip(weights, x).reduce(0) { $0 + $1.0 * $1.1 })
            squared[members.count] += (p - Double(target)) * (p - Double(target))
        }
        probeRMSE = squared.map { ($0 / Double(held.count)).squareRoot() }
        for m in members.indices { try members[m].fit(ratings, kernels: kernels) }
    }

    private func clip(_ p: Double) -> Double {
        min(Double(ratingRange.upperBound), max(Double(ratingRange.lowerBound), p))
    }

    public func predict(user: Int, item: Int, day: Int32?) -> Float {
        guard weights.count == members.count + 1 else { return 0 }
        var p = weights[0]
        for m in members.indices { p += weights[m + 1] * Double(members[m].predict(user: user, item: item, day: day)) }
        return Float(clip(p))
    }

    /// Solves the symmetric positive definite `d × d` system by Cholesky in Double.
    static func solve(_ a: [Double], _ b: [Double], _ d: Int) throws -> [Double] {
        var l = [Double](repeating: 0, count: d * d)
        for i in 0..<d {
            for j in 0...i {
                var s = a[i * d + j]
                for k in 0..<j { s -= l[i * d + k] * l[j * d + k] }
                if i == j {
                    guard s > 0 else { throw RecommenderError.invalidOptions(model: "blend", reason: "the members' probe predictions are degenerate") }
                    l[i * d + i] = s.squareRoot()
                } else {
                    l[i * d + j] = s / l[j * d + j]
                }
            }
        }
        var y = b
        for i in 0..<d {
            for k in 0..<i { y[i] -= l[i * d + k] * y[k] }
            y[i] /= l[i * d + i]
        }
        for i in stride(from: d - 1, through: 0, by: -1) {
            for k in (i + 1)..<d { y[i] -= l[k * d + i] * y[k] }
            y[i] /= l[i * d + i]
        }
        return y
    }
}

extension TimedRatings {
    /// The ratings split into a fitting part and a probe, over the same users and items: each
    /// user's last `fraction` of ratings by time (at least one, for users with 5 or more), or a
    /// seeded random `fraction` of all ratings.
    public func carve(_ probe: RatingBlend.Probe, fraction: Double, seed: UInt64) -> (fit: TimedRatings, probe: TimedRatings) {
        var held = [Bool](repeating: false, count: count)
        switch probe {
        case .temporal:
            for u in 0..<users.count {
                let range = entries(ofUser: u)
                guard range.count >= 5 else { continue }
                let n = max(1, Int(Double(range.count) * fraction))
                for e in range.suffix(n) { held[e] = true }
            }
        case .random:
            var g = SeededGenerator(seed: seed)
            for e in 0..<count { held[e] = g.nextUnitDouble() < fraction }
        }
        return (subset { !held[$0] }, subset { held[$0] })
    }

    /// The ratings at the positions `keep` accepts, in the same order.
    func subset(_ keep: (Int) -> Bool) -> TimedRatings {
        var starts = [0], kept = [Int]()
        for u in 0..<users.count {
            for e in entries(ofUser: u) where keep(e) { kept.append(e) }
            starts.append(kept.count)
        }
        return TimedRatings(users: users, items: items, rowStarts: starts, itemIndices: kept.map { itemIndices[$0] },
                            values: kept.map { values[$0] }, days: kept.map { days[$0] })
    }

    /// users × items, valued by the ratings.
    public func matrix() -> SparseMatrix {
        var rows = [Int32](repeating: 0, count: count)
        for u in 0..<users.count { for e in entries(ofUser: u) { rows[e] = Int32(u) } }
        return SparseMatrix(rows: users.count, cols: items.count, rowIndices: rows, colIndices: itemIndices, values: values)
    }
}
