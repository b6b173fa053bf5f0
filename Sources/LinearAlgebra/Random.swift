import Foundation

/// A fast, seedable pseudo-random generator (xoshiro256**, seeded through SplitMix64).
///
/// Every random choice in MovieRec takes a seed and draws from this generator, so the same seed
/// gives the same output on every machine and with either kernel backend.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    @usableFromInline var s0, s1, s2, s3: UInt64

    /// A generator whose whole stream is determined by `seed`.
    public init(seed: UInt64) {
        var sm = seed
        func splitMix() -> UInt64 {
            sm &+= 0x9E37_79B9_7F4A_7C15
            var z = sm
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
    }

    /// An independent stream for parallel work item `index`, derived from `seed`.
    public init(seed: UInt64, stream index: UInt64) {
        self.init(seed: seed ^ (index &* 0xD1B5_4A32_D192_ED03) &+ 0x632B_E59B_D9B4_E019)
    }

    @inlinable public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// A uniform `Float` in `[0, 1)` with 24 random bits.
    @inlinable public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// A uniform `Double` in `[0, 1)` with 53 random bits.
    @inlinable public mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// A standard normal sample (Box–Muller).
    public mutating func nextGaussian() -> Double {
        let u1 = 1.0 - nextUnitDouble()  // in (0, 1]
        let u2 = nextUnitDouble()
        return (-2.0 * log(u1)).squareRoot() * cos(2.0 * .pi * u2)
    }
}

extension Matrix {
    /// A `rows × cols` matrix of independent standard normal entries drawn from `generator`.
    public static func gaussian(rows: Int, cols: Int, using generator: inout SeededGenerator) -> Matrix {
        var m = Matrix(rows: rows, cols: cols)
        m.withMutableView { v in
            for i in 0..<rows { for j in 0..<cols { v[i, j] = Float(generator.nextGaussian()) } }
        }
        return m
    }
}
