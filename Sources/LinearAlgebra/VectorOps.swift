/// SIMD building blocks of the pure-Swift kernels, over raw pointers (no bounds checks in the loops).
///
/// Under a default build the `SIMD16<Float>` operations lower to four SSE instructions each; built with
/// `-target-cpu` they use AVX-512 directly.
enum VectorOps {
    typealias Lane = SIMD16<Float>

    /// `Σ x[i]·y[i]` for `i < n`.
    @inline(__always)
    static func dot(_ x: UnsafePointer<Float>?, _ y: UnsafePointer<Float>?, _ n: Int) -> Float {
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
    @inline(__always)
    static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>?, _ n: Int) {
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
    @inline(__always)
    static func scale(_ alpha: Float, _ x: UnsafeMutablePointer<Float>?, _ n: Int) {
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

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Lane {
        UnsafeRawPointer(p).loadUnaligned(as: Lane.self)
    }

    @inline(__always)
    static func store(_ v: Lane, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lane.self)
    }
}
