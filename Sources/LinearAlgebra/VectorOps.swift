/// Level-1 SIMD building blocks over raw pointers (no bounds checks in the loops): the pure-Swift
/// kernels' and the models' inner loops.
///
/// Under a default build the `SIMD16<Float>` operations lower to four SSE instructions each; built with
/// `-target-cpu` they use AVX-512 directly. Every function is inlinable, so callers in other modules
/// get the loop inlined as their own.
public enum VectorOps {
    public typealias Lane = SIMD16<Float>

    /// `Σ x[i]·y[i]` for `i < n`.
    @inlinable
    public static func dot(_ x: UnsafePointer<Float>?, _ y: UnsafePointer<Float>?, _ n: Int) -> Float {
        guard n > 0, let x, let y else { return 0 }
        var acc0 = Lane(), acc1 = Lane()
        var i = 0
        while i + 32 <= n {
            acc0 += load(x + i) * load(y + i)
            acc1 += load(x + i + 16) * load(y + i + 16)
            i += 32
        }
        if i + 16 <= n {
            acc0 += load(x + i) * load(y + i)
            i += 16
        }
        var sum = (acc0 + acc1).sum()
        while i < n {
            sum += x[i] * y[i]
            i += 1
        }
        return sum
    }

    /// `y[i] += α·x[i]` for `i < n`.
    @inlinable
    public static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>?, _ n: Int) {
        guard n > 0, let x, let y else { return }
        let a = Lane(repeating: alpha)
        var i = 0
        while i + 16 <= n {
            store(load(UnsafePointer(y + i)) + a * load(x + i), y + i)
            i += 16
        }
        while i < n {
            y[i] += alpha * x[i]
            i += 1
        }
    }

    /// `x[i] *= α` for `i < n`.
    @inlinable
    public static func scale(_ alpha: Float, _ x: UnsafeMutablePointer<Float>?, _ n: Int) {
        guard n > 0, let x else { return }
        let a = Lane(repeating: alpha)
        var i = 0
        while i + 16 <= n {
            store(load(UnsafePointer(x + i)) * a, x + i)
            i += 16
        }
        while i < n {
            x[i] *= alpha
            i += 1
        }
    }

    @inlinable
    static func load(_ p: UnsafePointer<Float>) -> Lane {
        UnsafeRawPointer(p).loadUnaligned(as: Lane.self)
    }

    @inlinable
    static func store(_ v: Lane, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lane.self)
    }

    /// `out += Σ_s w_s·(g_s·v)·g_s` over the `n` contiguous rows `g_s` (length `k`) of `rows`, four
    /// rows at a time so that four independent dot products are in flight.
    @inlinable
    public static func addWeightedProjections(_ rows: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ n: Int, _ k: Int,
                                              _ v: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>) {
        var s = 0
        let vectorEnd = k - k % 8
        while s + 4 <= n {
            let r0 = rows + s * k, r1 = r0 + k, r2 = r1 + k, r3 = r2 + k
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
            var i = 0
            while i < vectorEnd {
                let vv = UnsafeRawPointer(v + i).loadUnaligned(as: SIMD8<Float>.self)
                a0 += UnsafeRawPointer(r0 + i).loadUnaligned(as: SIMD8<Float>.self) * vv
                a1 += UnsafeRawPointer(r1 + i).loadUnaligned(as: SIMD8<Float>.self) * vv
                a2 += UnsafeRawPointer(r2 + i).loadUnaligned(as: SIMD8<Float>.self) * vv
                a3 += UnsafeRawPointer(r3 + i).loadUnaligned(as: SIMD8<Float>.self) * vv
                i += 8
            }
            var d0 = a0.sum(), d1 = a1.sum(), d2 = a2.sum(), d3 = a3.sum()
            while i < k { d0 += r0[i] * v[i]; d1 += r1[i] * v[i]; d2 += r2[i] * v[i]; d3 += r3[i] * v[i]; i += 1 }
            d0 *= w[s]; d1 *= w[s + 1]; d2 *= w[s + 2]; d3 *= w[s + 3]
            let (s0, s1, s2, s3) = (SIMD8<Float>(repeating: d0), SIMD8<Float>(repeating: d1),
                                    SIMD8<Float>(repeating: d2), SIMD8<Float>(repeating: d3))
            i = 0
            while i < vectorEnd {
                var o = UnsafeRawPointer(out + i).loadUnaligned(as: SIMD8<Float>.self)
                o += s0 * UnsafeRawPointer(r0 + i).loadUnaligned(as: SIMD8<Float>.self)
                o += s1 * UnsafeRawPointer(r1 + i).loadUnaligned(as: SIMD8<Float>.self)
                o += s2 * UnsafeRawPointer(r2 + i).loadUnaligned(as: SIMD8<Float>.self)
                o += s3 * UnsafeRawPointer(r3 + i).loadUnaligned(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(out + i).storeBytes(of: o, as: SIMD8<Float>.self)
                i += 8
            }
            while i < k { out[i] += d0 * r0[i] + d1 * r1[i] + d2 * r2[i] + d3 * r3[i]; i += 1 }
            s += 4
        }
        while s < n {
            let row = rows + s * k
            axpy(w[s] * dot(row, v, k), row, out, k)
            s += 1
        }
    }

    /// Copies `n` floats from `src` to `dst` and returns `Σ src[i]·x[i]`, in one pass.
    @inlinable
    public static func copyAndDot(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            let v = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(dst + i).storeBytes(of: v, as: SIMD8<Float>.self)
            acc += v * UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var sum = acc.sum()
        while i < n { dst[i] = src[i]; sum += src[i] * x[i]; i += 1 }
        return sum
    }

    /// `dst[i] = w · src[i]` for `i < n`.
    @inlinable
    public static func scaledCopy(_ src: UnsafePointer<Float>, _ w: Float, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        let wv = SIMD8<Float>(repeating: w)
        while i + 8 <= n {
            UnsafeMutableRawPointer(dst + i).storeBytes(of: wv * UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { dst[i] = w * src[i]; i += 1 }
    }
}
