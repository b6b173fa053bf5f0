// The pure-Swift SGEMM: Goto/BLIS-style blocking with packed panels and a 6 × (2·W) register
// micro-kernel over SIMD vectors of width W.
//
// The micro-kernel keeps 12 vector accumulators live. In a default build (SSE2 only) W = 4, so the
// 12 accumulators, 2 B vectors and 1 broadcast fill the 16 XMM registers. Built with
// `-Xswiftc -target-cpu -Xswiftc haswell -Xswiftc -DNATIVE_FMA` (`make bench-native`), W = 8 and the
// update is a fused multiply-add on the 16 AVX2 YMM registers. Transposes and leading dimensions are
// absorbed by the packing routines, so the micro-kernel only ever sees contiguous panels.

#if NATIVE_FMA
typealias GEMMVector = SIMD8<Float>
#else
typealias GEMMVector = SIMD4<Float>
#endif

// Without AVX there is no broadcast-from-memory instruction: splatting A's scalars in the
// micro-kernel would cost a load and a shuffle each, and the shuffles compete with the multiplies
// for the FP pipes. So in the default build the packing routine stores every A value already
// splatted across a vector (`aSplat` copies), and the micro-kernel loads it as a plain operand.

enum SwiftGEMM {
    static let w = GEMMVector.scalarCount
    /// Rows of C per micro-tile.
    static let mr = 6
    /// Columns of C per micro-tile.
    static let nr = 2 * GEMMVector.scalarCount
    /// Depth of one packed block (A block and B panel share it).
    static let kc = 256
    /// Rows of A packed at once (a multiple of `mr`; the A block stays in L2).
    static let mc = 96
    /// Columns of B packed at once (a multiple of `nr`).
    static let nc = 2048
    #if NATIVE_FMA
    /// Copies of each packed A value (1: the micro-kernel broadcasts from memory).
    static let aSplat = 1
    #else
    /// Copies of each packed A value (a whole vector: the micro-kernel loads it pre-splatted).
    static let aSplat = GEMMVector.scalarCount
    #endif

    /// `C ← α·op(A)·op(B) + β·C` on `threads` threads; shapes already checked.
    static func gemm(_ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int, alpha: Float,
                     _ a: MatrixView, _ b: MatrixView, beta: Float, _ c: MutableMatrixView, threads: Int) {
        c.scale(by: beta)
        guard m > 0, n > 0, k > 0, alpha != 0 else { return }
        let flops = Double(m) * Double(n) * Double(k)
        let parts = flops < 2e6 ? 1 : threads
        if parts <= 1 {
            serial(transA, transB, m: m, n: n, k: k, alpha: alpha, a, b, c)
            return
        }
        // Split C into independent slabs along its larger side; each thread packs its own panels.
        if n >= m {
            let ranges = alignedSplit(n, parts: parts, unit: nr)
            Parallel.forEach(count: ranges.count, threads: parts) { p in
                let r = ranges[p]
                let bPart = transB == .none ? b.columns(r) : b.rows(r)
                serial(transA, transB, m: m, n: r.count, k: k, alpha: alpha, a, bPart, c.columns(r))
            }
        } else {
            let ranges = alignedSplit(m, parts: parts, unit: mr)
            Parallel.forEach(count: ranges.count, threads: parts) { p in
                let r = ranges[p]
                let aPart = transA == .none ? a.rows(r) : a.columns(r)
                serial(transA, transB, m: r.count, n: n, k: k, alpha: alpha, aPart, b, c.rows(r))
            }
        }
    }

    /// Near-equal contiguous ranges of `0..<count` whose boundaries are multiples of `unit`.
    static func alignedSplit(_ count: Int, parts: Int, unit: Int) -> [Range<Int>] {
        let units = (count + unit - 1) / unit
        return Parallel.split(units, parts: parts).map { r in
            (r.lowerBound * unit) ..< min(count, r.upperBound * unit)
        }.filter { !$0.isEmpty }
    }

    /// Single-threaded blocked multiply adding `α·op(A)·op(B)` into `C`.
    static func serial(_ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int, alpha: Float,
                       _ a: MatrixView, _ b: MatrixView, _ c: MutableMatrixView) {
        let packA = UnsafeMutableRawPointer.allocate(byteCount: (mc + mr) * kc * aSplat * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: (mc + mr) * kc * aSplat)
        let packB = UnsafeMutableRawPointer.allocate(byteCount: (nc + nr) * kc * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: (nc + nr) * kc)
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: mr * nr)
        defer { packA.deallocate(); packB.deallocate(); tile.deallocate() }

        var jc = 0
        while jc < n {
            let ncCur = min(nc, n - jc)
            var pc = 0
            while pc < k {
                let kcCur = min(kc, k - pc)
                packPanelsB(transB, b, rows: pc, depth: kcCur, cols: jc, width: ncCur, into: packB)
                var ic = 0
                while ic < m {
                    let mcCur = min(mc, m - ic)
                    packPanelsA(transA, a, rows: ic, height: mcCur, cols: pc, depth: kcCur, alpha: alpha, into: packA)
                    macroKernel(mcCur, ncCur, kcCur, packA, packB, c.base + ic * c.stride + jc, c.stride, tile)
                    ic += mcCur
                }
                pc += kcCur
            }
            jc += ncCur
        }
    }

    /// Runs the micro-kernel over every `mr × nr` tile of an `mc × nc` block of C.
    @inline(__always)
    static func macroKernel(_ mc: Int, _ nc: Int, _ kc: Int, _ pa: UnsafePointer<Float>, _ pb: UnsafePointer<Float>,
                            _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ tile: UnsafeMutablePointer<Float>) {
        var jr = 0
        while jr < nc {
            let cols = min(nr, nc - jr)
            let bPanel = pb + jr * kc
            var ir = 0
            while ir < mc {
                let rows = min(mr, mc - ir)
                let aPanel = pa + ir * kc * aSplat
                let cTile = c + ir * ldc + jr
                if rows == mr && cols == nr {
                    microKernel(kc, aPanel, bPanel, cTile, ldc)
                } else {
                    tile.update(repeating: 0, count: mr * nr)
                    microKernel(kc, aPanel, bPanel, tile, nr)
                    for i in 0..<rows {
                        for j in 0..<cols { cTile[i * ldc + j] += tile[i * nr + j] }
                    }
                }
                ir += mr
            }
            jr += nr
        }
    }

    @inline(__always)
    static func madd(_ acc: GEMMVector, _ x: GEMMVector, _ y: GEMMVector) -> GEMMVector {
        #if NATIVE_FMA
        return acc.addingProduct(x, y)
        #else
        return acc + x * y
        #endif
    }

    /// The packed A value of row `r` at the current depth, as a vector.
    @inline(__always)
    static func aValue(_ pa: UnsafePointer<Float>, _ r: Int) -> GEMMVector {
        #if NATIVE_FMA
        return GEMMVector(repeating: pa[r])
        #else
        return load(pa + r * aSplat)
        #endif
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> GEMMVector {
        UnsafeRawPointer(p).loadUnaligned(as: GEMMVector.self)
    }

    @inline(__always)
    static func accumulate(_ v: GEMMVector, _ p: UnsafeMutablePointer<Float>) {
        let sum = UnsafeRawPointer(p).loadUnaligned(as: GEMMVector.self) + v
        UnsafeMutableRawPointer(p).storeBytes(of: sum, as: GEMMVector.self)
    }

    /// `C[0..<6, 0..<nr] += Apanel · Bpanel` over depth `kc`, with 12 accumulators in registers.
    @inline(__always)
    static func microKernel(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                            _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        var c00 = GEMMVector(), c01 = GEMMVector(), c10 = GEMMVector(), c11 = GEMMVector()
        var c20 = GEMMVector(), c21 = GEMMVector(), c30 = GEMMVector(), c31 = GEMMVector()
        var c40 = GEMMVector(), c41 = GEMMVector(), c50 = GEMMVector(), c51 = GEMMVector()
        var pa = a, pb = b
        for _ in 0..<kc {
            let b0 = load(pb), b1 = load(pb + w)
            var x = aValue(pa, 0)
            c00 = madd(c00, x, b0); c01 = madd(c01, x, b1)
            x = aValue(pa, 1)
            c10 = madd(c10, x, b0); c11 = madd(c11, x, b1)
            x = aValue(pa, 2)
            c20 = madd(c20, x, b0); c21 = madd(c21, x, b1)
            x = aValue(pa, 3)
            c30 = madd(c30, x, b0); c31 = madd(c31, x, b1)
            x = aValue(pa, 4)
            c40 = madd(c40, x, b0); c41 = madd(c41, x, b1)
            x = aValue(pa, 5)
            c50 = madd(c50, x, b0); c51 = madd(c51, x, b1)
            pa += 6 * aSplat
            pb += 2 * w
        }
        accumulate(c00, c); accumulate(c01, c + w)
        accumulate(c10, c + ldc); accumulate(c11, c + ldc + w)
        accumulate(c20, c + 2 * ldc); accumulate(c21, c + 2 * ldc + w)
        accumulate(c30, c + 3 * ldc); accumulate(c31, c + 3 * ldc + w)
        accumulate(c40, c + 4 * ldc); accumulate(c41, c + 4 * ldc + w)
        accumulate(c50, c + 5 * ldc); accumulate(c51, c + 5 * ldc + w)
    }

    /// Packs rows `rows..<rows+height`, columns `cols..<cols+depth` of `α·op(A)` into `mr`-row panels
    /// (panel-major, then depth, then row, each value repeated `aSplat` times), zero-padding the last panel.
    static func packPanelsA(_ trans: Transpose, _ a: MatrixView, rows: Int, height: Int, cols: Int, depth: Int,
                            alpha: Float, into dst: UnsafeMutablePointer<Float>) {
        let lda = a.stride
        let step = mr * aSplat
        var panel = 0
        while panel < height {
            let valid = min(mr, height - panel)
            let out = dst + panel * depth * aSplat
            if valid < mr { out.update(repeating: 0, count: step * depth) }
            if trans == .none {
                for r in 0..<valid {
                    let src = a.base + (rows + panel + r) * lda + cols
                    for p in 0..<depth { (out + p * step + r * aSplat).update(repeating: alpha * src[p], count: aSplat) }
                }
            } else {
                for p in 0..<depth {
                    let src = a.base + (cols + p) * lda + rows + panel
                    for r in 0..<valid { (out + p * step + r * aSplat).update(repeating: alpha * src[r], count: aSplat) }
                }
            }
            panel += mr
        }
    }

    /// Packs rows `rows..<rows+depth`, columns `cols..<cols+width` of `op(B)` into `nr`-column panels
    /// (panel-major, then depth, then column), zero-padding the last panel.
    static func packPanelsB(_ trans: Transpose, _ b: MatrixView, rows: Int, depth: Int, cols: Int, width: Int,
                            into dst: UnsafeMutablePointer<Float>) {
        let ldb = b.stride
        var panel = 0
        while panel < width {
            let valid = min(nr, width - panel)
            let out = dst + panel * depth
            if valid < nr { out.update(repeating: 0, count: nr * depth) }
            if trans == .none {
                for p in 0..<depth {
                    (out + p * nr).update(from: b.base + (rows + p) * ldb + cols + panel, count: valid)
                }
            } else {
                for j in 0..<valid {
                    let src = b.base + (cols + panel + j) * ldb + rows
                    for p in 0..<depth { out[p * nr + j] = src[p] }
                }
            }
            panel += nr
        }
    }
}
