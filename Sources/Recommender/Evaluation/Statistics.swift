import Foundation

/// A mean over users with its 95 % confidence interval by the normal approximation:
/// `mean ± 1.96 · s / √n`, `s` the sample standard deviation (n − 1). With the hundreds of users
/// of any MovieLens split the mean of per-user values is close to normal; the interval has zero
/// width when every user has the same value.
public struct MeanInterval: Sendable, Codable, Equatable {
    public var mean: Double
    public var low: Double
    public var high: Double

    /// The mean and interval of `values` (an empty list gives zeros).
    public init(_ values: [Double]) {
        let n = Double(values.count)
        guard n > 0 else { self.init(mean: 0, low: 0, high: 0); return }
        let mean = values.reduce(0, +) / n
        let half = 1.959963984540054 * Statistics.standardDeviation(values, mean: mean) / n.squareRoot()
        self.init(mean: mean, low: mean - half, high: mean + half)
    }

    public init(mean: Double, low: Double, high: Double) {
        self.mean = mean
        self.low = low
        self.high = high
    }

    /// Half the interval's width (the "±" figure).
    public var halfWidth: Double { (high - low) / 2 }
}

/// A paired two-sided t-test of per-user differences `a − b` (the same users, in the same order).
public struct PairedTest: Sendable, Codable, Equatable {
    /// Users compared.
    public var users: Int
    /// Mean of `a − b`, with its 95 % interval (normal approximation).
    public var difference: MeanInterval
    /// The t statistic (0 when every difference is 0).
    public var t: Double
    /// Two-sided p-value from Student's t with n − 1 degrees of freedom: 1 when every difference
    /// is 0 (nothing to tell apart); below 0.05, "a differs from b" can be said at the 5 % level.
    public var p: Double

    /// The test of `a` against `b`.
    /// - Precondition: `a.count == b.count` (callers pair the same users).
    public init(_ a: [Double], _ b: [Double]) {
        let d = zip(a, b).map { $0 - $1 }
        users = d.count
        difference = MeanInterval(d)
        let n = Double(d.count)
        let s = Statistics.standardDeviation(d, mean: difference.mean)
        if d.count < 2 || s == 0 {
            // No spread: identical pairs give p = 1; a constant non-zero difference is certain.
            t = difference.mean == 0 ? 0 : (difference.mean > 0 ? .infinity : -.infinity)
            p = difference.mean == 0 || d.count < 2 ? 1 : 0
        } else {
            t = difference.mean / (s / n.squareRoot())
            p = Statistics.studentTwoSidedP(t: t, degrees: n - 1)
        }
    }
}

/// The distribution functions the evaluation's intervals and tests use.
public enum Statistics {
    /// Sample standard deviation (divisor n − 1; 0 for fewer than two values).
    public static func standardDeviation(_ values: [Double], mean: Double) -> Double {
        guard values.count > 1 else { return 0 }
        let squares = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        return (squares / Double(values.count - 1)).squareRoot()
    }

    /// `P(|T| ≥ |t|)` for Student's t with `degrees` degrees of freedom:
    /// `I_{ν/(ν+t²)}(ν/2, 1/2)`, the regularized incomplete beta function.
    public static func studentTwoSidedP(t: Double, degrees: Double) -> Double {
        guard t.isFinite else { return t.isNaN ? 1 : 0 }
        return min(1, max(0, incompleteBeta(degrees / (degrees + t * t), a: degrees / 2, b: 0.5)))
    }

    /// The regularized incomplete beta function `I_x(a, b)`, by its continued fraction (modified
    /// Lentz), using the symmetry `I_x(a, b) = 1 − I_{1−x}(b, a)` where the fraction converges slowly.
    public static func incompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        if x > (a + 1) / (a + b + 2) { return 1 - incompleteBeta(1 - x, a: b, b: a) }
        let logBeta: Double = lgamma(a + b) - lgamma(a) - lgamma(b)
        let logPowers: Double = a * log(x) + b * log(1 - x)
        let logFront = logBeta + logPowers
        return exp(logFront) * betaContinuedFraction(x, a: a, b: b) / a
    }

    private static func betaContinuedFraction(_ x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...300 {
            let m = Double(m), m2 = 2 * m
            // Even step: d_{2m} = m(b − m)x / ((a + 2m − 1)(a + 2m)).
            var coefficient = m * (b - m) * x / ((a + m2 - 1) * (a + m2))
            d = 1 + coefficient * d
            if abs(d) < tiny { d = tiny }
            c = 1 + coefficient / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            // Odd step: d_{2m+1} = −(a + m)(a + b + m)x / ((a + 2m)(a + 2m + 1)).
            coefficient = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))
            d = 1 + coefficient * d
            if abs(d) < tiny { d = tiny }
            c = 1 + coefficient / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let step = d * c
            h *= step
            if abs(step - 1) < 1e-14 { break }
        }
        return h
    }
}
