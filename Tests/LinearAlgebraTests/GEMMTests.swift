import LinearAlgebra
import Testing

@Suite("GEMM, GEMV, SYRK and vector kernels")
struct GEMMTests {
    @Test("2×2 product with exact answer", arguments: allKernels.map(\.backend))
    func exactSmall(backend: Backend) throws {
        let k = try backend.makeKernels(threads: 1)
        let a = try Matrix([[1, 2], [3, 4]])
        let b = try Matrix([[5, 6], [7, 8]])
        #expect(try k.multiply(a, b) == Matrix([[19, 22], [43, 50]]))
        #expect(try k.multiply(a, b, transA: .transposed) == Matrix([[26, 30], [38, 44]]))
        #expect(try k.multiply(a, b, transB: .transposed) == Matrix([[17, 23], [39, 53]]))
        #expect(try k.multiply(a, b, transA: .transposed, transB: .transposed) == Matrix([[23, 31], [34, 46]]))
    }

    /// Awkward shapes: 1×1, primes, tall, wide, edge tiles of every micro-kernel size, k = 0.
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (7, 13, 5), (13, 7, 11), (1, 97, 3), (97, 1, 3), (3, 5, 0), (0, 4, 3), (4, 0, 3),
        (37, 41, 43), (6, 32, 256), (7, 33, 257), (200, 3, 31), (3, 200, 31), (151, 149, 263), (300, 290, 129),
    ]

    @Test("every backend matches a Double reference, all transposes, α/β, offset views")
    func againstReference() throws {
        var seed: UInt64 = 1
        for kernels in allKernels {
            for (m, n, k) in Self.shapes {
                for ta in [Transpose.none, .transposed] {
                    for tb in [Transpose.none, .transposed] {
                        seed += 1
                        let a = ta == .none ? randomMatrix(m, k, seed: seed) : randomMatrix(k, m, seed: seed)
                        let b = tb == .none ? randomMatrix(k, n, seed: seed + 100) : randomMatrix(n, k, seed: seed + 100)
                        let c0 = randomMatrix(m, n, seed: seed + 200)
                        let expected = referenceGEMM(ta, tb, alpha: 0.75, a, b, beta: -0.5, c0)
                        var c = c0
                        try a.withView { av in
                            try b.withView { bv in
                                try c.withMutableView { try kernels.gemm(ta, tb, alpha: 0.75, av, bv, beta: -0.5, $0) }
                            }
                        }
                        // Tolerance: k products of |x| ≤ 1 accumulate error ~ k·ε; 1e-5·(k+1) is generous.
                        let tol = 1e-5 * Float(k + 1)
                        #expect(c.maxAbsDifference(expected) <= tol,
                                "\(kernels.backend) gemm \(ta)/\(tb) m=\(m) n=\(n) k=\(k)")
                    }
                }
            }
        }
    }

    @Test("GEMM on sub-views with leading dimensions larger than the width writes only the window")
    func subViews() throws {
        for kernels in allKernels {
            let big = randomMatrix(20, 30, seed: 9)
            var out = Matrix(rows: 20, cols: 30, repeating: 7)
            try big.withView { bv in
                let a = bv.block(rows: 2..<11, cols: 3..<17)   // 9×14, stride 30
                let b = bv.block(rows: 5..<19, cols: 1..<8)    // 14×7
                try out.withMutableView { ov in
                    try kernels.gemm(.none, .none, alpha: 1, a, b, beta: 0, ov.block(rows: 4..<13, cols: 10..<17))
                }
            }
            let expected = referenceGEMM(.none, .none, alpha: 1,
                                         try Matrix((2..<11).map { i in (3..<17).map { big[i, $0] } }),
                                         try Matrix((5..<19).map { i in (1..<8).map { big[i, $0] } }),
                                         beta: 0, Matrix(rows: 9, cols: 7))
            for i in 0..<20 {
                for j in 0..<30 {
                    if (4..<13).contains(i) && (10..<17).contains(j) {
                        #expect(abs(out[i, j] - expected[i - 4, j - 10]) < 1e-4)
                    } else {
                        #expect(out[i, j] == 7, "\(kernels.backend) wrote outside the window at (\(i), \(j))")
                    }
                }
            }
        }
    }

    @Test("β = 0 overwrites NaN in C, as BLAS specifies")
    func betaZeroClearsNaN() throws {
        for kernels in allKernels {
            let a = randomMatrix(5, 4, seed: 3), b = randomMatrix(4, 6, seed: 4)
            var c = Matrix(rows: 5, cols: 6, repeating: .nan)
            try a.withView { av in try b.withView { bv in try c.withMutableView {
                try kernels.gemm(.none, .none, alpha: 1, av, bv, beta: 0, $0)
            } } }
            #expect(c.elements.allSatisfy { $0.isFinite })
        }
    }

    @Test("shape mismatches throw with the shapes in the message")
    func mismatch() throws {
        for kernels in allKernels {
            let a = Matrix(rows: 3, cols: 4), b = Matrix(rows: 5, cols: 2)
            do {
                _ = try kernels.multiply(a, b)
                Issue.record("expected a dimension mismatch")
            } catch let error as LinearAlgebraError {
                #expect(error.description.contains("3×4"))
                #expect(error.description.contains("5×2"))
            }
        }
    }

    @Test("GEMV both ways against the reference")
    func gemv() throws {
        for kernels in allKernels {
            for (m, n) in [(1, 1), (17, 5), (5, 17), (64, 33), (3, 0)] {
                let a = randomMatrix(m, n, seed: UInt64(m * 100 + n))
                for trans in [Transpose.none, .transposed] {
                    let xLen = trans == .none ? n : m, yLen = trans == .none ? m : n
                    let x = randomMatrix(xLen, 1, seed: 5), y0 = randomMatrix(yLen, 1, seed: 6)
                    let expected = referenceGEMM(trans, .none, alpha: 2, a, x, beta: 0.5, y0)
                    var y = y0.elements
                    try x.elements.withUnsafeBufferPointer { xb in
                        try y.withUnsafeMutableBufferPointer { yb in
                            try a.withView { try kernels.gemv(trans, alpha: 2, $0, xb, beta: 0.5, yb) }
                        }
                    }
                    #expect(try Matrix(rows: yLen, cols: 1, elements: y).maxAbsDifference(expected) < 1e-4)
                }
            }
        }
    }

    @Test("SYRK fills both triangles with op(A)·op(A)ᵀ")
    func syrk() throws {
        for kernels in allKernels {
            for (n, k) in [(1, 1), (5, 3), (64, 200), (130, 17), (4, 0)] {
                for trans in [Transpose.none, .transposed] {
                    let a = trans == .none ? randomMatrix(n, k, seed: 11) : randomMatrix(k, n, seed: 11)
                    let c0 = randomSPD(n, seed: 12)
                    let other: Transpose = trans == .none ? .transposed : .none
                    let expected = referenceGEMM(trans, other, alpha: 1.5, a, a, beta: 0.25, c0)
                    var c = c0
                    try a.withView { av in try c.withMutableView { try kernels.syrk(trans, alpha: 1.5, av, beta: 0.25, $0) } }
                    #expect(c.maxAbsDifference(expected) < 1e-4 * Float(k + 1), "\(kernels.backend) syrk n=\(n) k=\(k) \(trans)")
                }
            }
        }
    }

    @Test("dot, axpy, scale")
    func vectorOps() throws {
        for kernels in allKernels {
            let x: [Float] = (0..<37).map { Float($0) }
            var y: [Float] = (0..<37).map { _ in 1 }
            let d = try x.withUnsafeBufferPointer { xb in try y.withUnsafeBufferPointer { try kernels.dot(xb, $0) } }
            #expect(d == 666)
            try x.withUnsafeBufferPointer { xb in try y.withUnsafeMutableBufferPointer { try kernels.axpy(2, xb, $0) } }
            #expect(y == x.map { 2 * $0 + 1 })
            y.withUnsafeMutableBufferPointer { kernels.scale(0.5, $0) }
            #expect(y == x.map { $0 + 0.5 })
            #expect(throws: LinearAlgebraError.self) {
                try x.withUnsafeBufferPointer { xb in try [Float](repeating: 0, count: 3).withUnsafeBufferPointer { try kernels.dot(xb, $0) } }
            }
        }
    }

    @Test("the two backends agree on a large multiply", .enabled(if: allKernels.count == 2, "needs both backends: this build has no OpenBLAS"))
    func backendsAgree() throws {
        let a = randomMatrix(257, 311, seed: 21), b = randomMatrix(311, 263, seed: 22)
        let c1 = try allKernels[0].multiply(a, b), c2 = try allKernels[1].multiply(a, b)
        #expect(c1.maxAbsDifference(c2) < 1e-3)
    }
}
