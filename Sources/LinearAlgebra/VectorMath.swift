import Foundation

/// Element-wise transcendental functions over Float buffers, eight lanes at a time, for the
/// neural layers (softmax, sigmoid and tanh gates).
///
/// `exp` uses the classic range reduction `x = n·ln 2 + r`, |r| ≤ ln 2 / 2, a degree-6 polynomial
/// for `eʳ` (Cephes `expf` coefficients) and `2ⁿ` built in the exponent bits: relative error below
/// 2·10⁻⁷ over the float range, inputs clamped to [−87.3, 88.7] (no infinities, no denormals).
public enum VectorMath {
    @inline(__always)
    static func exp8(_ v: SIMD8<Float>) -> SIMD8<Float> {
        var x = v
        x.replace(with: SIMD8(repeating: -87.3), where: x .< -87.3)
        x.replace(with: SIMD8(repeating: 88.7), where: x .> 88.7)
        // Adding 1.5·2²³ rounds to the nearest integer, which then sits in the low mantissa bits.
        let shifted = x * 1.442_695_04 + 12_582_912
        let n = shifted - 12_582_912
        var r = x - n * 0.693_359_375
        r = r + n * 2.121_944_4e-4
        var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        p = p * (r * r) + r + 1
        let bits = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
        return p * unsafeBitCast(bits, to: SIMD8<Float>.self)
    }

    /// `x[i] ← eˣ⁽ⁱ⁾` for `i < n`.
    /// - Complexity: O(n).
    public static func exp(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        while i + 8 <= n {
            let p = UnsafeMutableRawPointer(x + i)
            p.storeBytes(of: exp8(p.loadUnaligned(as: SIMD8<Float>.self)), as: SIMD8<Float>.self)
            i += 8
        }
        if i < n {
            var tail = SIMD8<Float>(repeating: 0)
            for j in i..<n { tail[j - i] = x[j] }
            let e = exp8(tail)
            for j in i..<n { x[j] = e[j - i] }
        }
    }

    /// `x[i] ← 1 / (1 + e⁻ˣ⁽ⁱ⁾)`.
    public static func sigmoid(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { x[i] = -x[i] }
        exp(x, n)
        for i in 0..<n { x[i] = 1 / (1 + x[i]) }
    }

    /// `x[i] ← tanh(x[i])`, as `1 − 2 / (e²ˣ + 1)` (absolute error below 4·10⁻⁷).
    public static func tanh(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { x[i] *= 2 }
        exp(x, n)
        for i in 0..<n { x[i] = 1 - 2 / (x[i] + 1) }
    }

    /// Probabilities below this are returned as 0 by ``softmax(_:_:)``: 10⁻²⁰, so that their
    /// products with gradients as small as 10⁻¹⁸ stay normal floats.
    public static let negligibleProbability: Float = 1e-20

    /// `v` (non-negative lanes) with the lanes below ``negligibleProbability`` set to 0. Integer
    /// operations only: a non-negative float's bits order like the float, so `bits − cut` is
    /// negative exactly for the lanes below the cut, and its sign spread over the lane clears
    /// them (a lane-wise `replace(with:where:)` compiles to a scalar loop through memory here).
    @inline(__always)
    static func zeroNegligible(_ v: SIMD8<Float>) -> SIMD8<Float> {
        let bits = unsafeBitCast(v, to: SIMD8<Int32>.self)
        let below = (bits &- SIMD8(repeating: Int32(bitPattern: negligibleProbability.bitPattern))) &>> 31
        return unsafeBitCast(bits & ~below, to: SIMD8<Float>.self)
    }

    /// Turns `x` into `softmax(x)` in place (probabilities below ``negligibleProbability`` as 0)
    /// and returns `log Σ eˣ` (computed stably, max subtracted).
    /// - Complexity: O(n), three passes eight lanes at a time.
    @discardableResult
    public static func softmax(_ x: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
        softmax(x, n, scale: 1, target: -1)
    }

    /// Softmax cross-entropy of the logits `x` against class `target`: leaves the gradient
    /// `scale · (softmax(x) − onehot(target))` in `x` (probabilities below
    /// ``negligibleProbability`` as 0, before scaling) and returns `log Σ eˣ`, so the loss is that
    /// minus the target's logit. One pass fewer than ``softmax(_:_:)`` followed by the scaling.
    @discardableResult
    public static func softmaxGradient(_ x: UnsafeMutablePointer<Float>, _ n: Int, target: Int, scale: Float) -> Float {
        softmax(x, n, scale: scale, target: target)
    }

    /// ``softmax(_:_:)`` with each probability times `scale` and, when `target` ≥ 0, 1 taken
    /// from its probability first.
    @inline(__always)
    static func softmax(_ x: UnsafeMutablePointer<Float>, _ n: Int, scale: Float, target: Int) -> Float {
        guard n > 0 else { return -.infinity }
        let raw = UnsafeMutableRawPointer(x)
        let whole = n / 8 * 8
        var m8 = SIMD8<Float>(repeating: -.infinity)
        var i = 0
        while i < whole {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            m8.replace(with: v, where: v .> m8)
            i += 8
        }
        var m = m8.max()
        for j in whole..<n where x[j] > m { m = x[j] }
        guard m.isFinite else { return m }
        // A term below ``negligibleProbability`` is 0 at once (the sum is ≥ 1, so its probability
        // would be too): scaling exp's floor (~1e-38) by 1 / sum would make a subnormal float,
        // which x86 cores produce many times slower.
        var sum8 = SIMD8<Float>(repeating: 0)
        i = 0
        while i < whole {
            let e = zeroNegligible(exp8(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - m))
            raw.storeBytes(of: e, toByteOffset: i * 4, as: SIMD8<Float>.self)
            sum8 += e
            i += 8
        }
        for j in whole..<n { x[j] -= m }
        exp(x + whole, n - whole)
        for j in whole..<n where x[j] < negligibleProbability { x[j] = 0 }
        var sum = sum8.sum()
        for j in whole..<n { sum += x[j] }
        // Probabilities below ``negligibleProbability`` become 0: far below float precision beside
        // the row's largest (≥ 1/n), they would otherwise make subnormal products with gradients
        // downstream, which x86 cores compute many times slower.
        let inv = 1 / sum, tiny = Self.negligibleProbability
        let picked = target >= 0 && target < n ? x[target] : 0
        i = 0
        while i < whole {
            let p = zeroNegligible(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * inv) * scale
            raw.storeBytes(of: p, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        for j in whole..<n { x[j] = (x[j] * inv < tiny ? 0 : x[j] * inv) * scale }
        if target >= 0 && target < n {
            let p = picked * inv < tiny ? 0 : picked * inv
            x[target] = (p - 1) * scale
        }
        return m + Foundation.log(sum)
    }
}
