import LinearAlgebra
import Testing

@Suite("Cholesky, QR and SVD")
struct FactorizationTests {
    @Test("Cholesky of a known 3×3 matrix")
    func choleskyExact() throws {
        // A = L·Lᵀ with L = [[2,0,0],[6,1,0],[-8,5,3]].
        let a = try Matrix([[4, 12, -16], [12, 37, -43], [-16, -43, 98]])
        for kernels in allKernels {
            var l = a
            try l.withMutableView { try kernels.choleskyFactor($0) }
            #expect(l == (try Matrix([[2, 0, 0], [6, 1, 0], [-8, 5, 3]])), "\(kernels.backend)")
            let x = try kernels.solveSPD(a, Matrix([[1], [2], [3]]))
            let back = referenceGEMM(.none, .none, alpha: 1, a, x, beta: 0, Matrix(rows: 3, cols: 1))
            #expect(back.maxAbsDifference(try Matrix([[1], [2], [3]])) < 1e-3)
        }
    }

    @Test("Cholesky solve with several right-hand sides, random SPD of awkward orders")
    func choleskyRandom() throws {
        for kernels in allKernels {
            for n in [1, 2, 7, 64, 101] {
                let a = randomSPD(n, seed: UInt64(n))
                let b = randomMatrix(n, 3, seed: 99)
                let x = try kernels.solveSPD(a, b)
                let back = referenceGEMM(.none, .none, alpha: 1, a, x, beta: 0, Matrix(rows: n, cols: 3))
                #expect(back.maxAbsDifference(b) < 1e-4, "\(kernels.backend) n=\(n)")
            }
        }
    }

    @Test("non-positive-definite matrices throw with the failing minor")
    func notPD() throws {
        let a = try Matrix([[1, 2], [2, 1]])   // eigenvalues 3 and -1
        for kernels in allKernels {
            #expect(throws: LinearAlgebraError.notPositiveDefinite(order: 2, minor: 2, system: nil)) {
                _ = try kernels.solveSPD(a, Matrix([[1], [1]]))
            }
            #expect(throws: LinearAlgebraError.self) { _ = try kernels.solveSPD(Matrix(rows: 2, cols: 3), Matrix(rows: 2, cols: 1)) }
        }
    }

    @Test("batched SPD solves match one-by-one solves and name a failing system")
    func batch() throws {
        let order = 16, count = 300
        var mats = [Float](), rhs = [Float]()
        for s in 0..<count {
            mats += randomSPD(order, seed: UInt64(s)).elements
            rhs += randomMatrix(order, 1, seed: UInt64(1000 + s)).elements
        }
        for kernels in allKernels {
            var m = mats, r = rhs
            try m.withUnsafeMutableBufferPointer { mb in
                try r.withUnsafeMutableBufferPointer { try kernels.solveSPDBatch(order: order, count: count, matrices: mb, rhs: $0) }
            }
            for s in stride(from: 0, to: count, by: 37) {
                let a = try Matrix(rows: order, cols: order, elements: Array(mats[s * order * order ..< (s + 1) * order * order]))
                let b = try Matrix(rows: order, cols: 1, elements: Array(rhs[s * order ..< (s + 1) * order]))
                let x = try kernels.solveSPD(a, b)
                #expect(x.maxAbsDifference(try Matrix(rows: order, cols: 1, elements: Array(r[s * order ..< (s + 1) * order]))) < 1e-5)
            }
            var bad = mats
            bad[5 * order * order] = -1   // system 5 loses definiteness at its first minor
            var r2 = rhs
            #expect(throws: LinearAlgebraError.notPositiveDefinite(order: order, minor: 1, system: 5)) {
                try bad.withUnsafeMutableBufferPointer { mb in
                    try r2.withUnsafeMutableBufferPointer { try kernels.solveSPDBatch(order: order, count: count, matrices: mb, rhs: $0) }
                }
            }
        }
    }

    @Test("orthonormal basis spans the columns and is orthonormal")
    func qr() throws {
        for kernels in allKernels {
            for (m, n) in [(1, 1), (5, 3), (100, 20), (33, 33)] {
                let a = randomMatrix(m, n, seed: UInt64(m + n))
                let q = try a.withView { try kernels.orthonormalBasis($0) }
                #expect(orthogonalityError(columnsOf: q) < 1e-5, "\(kernels.backend) \(m)×\(n)")
                // Projection Q·Qᵀ·A reproduces A.
                let qta = referenceGEMM(.transposed, .none, alpha: 1, q, a, beta: 0, Matrix(rows: n, cols: n))
                let proj = referenceGEMM(.none, .none, alpha: 1, q, qta, beta: 0, Matrix(rows: m, cols: n))
                #expect(proj.maxAbsDifference(a) < 1e-5)
            }
            #expect(throws: LinearAlgebraError.self) { _ = try Matrix(rows: 2, cols: 3).withView { try kernels.orthonormalBasis($0) } }
        }
    }

    @Test("SVD of a matrix with known singular vectors")
    func svdKnown() throws {
        // A = diag(3, 2) padded: singular values 3, 2; U, V are coordinate axes (signs normalised to +).
        let a = try Matrix([[0, 2], [3, 0], [0, 0]])
        for kernels in allKernels {
            let s = try a.withView { try kernels.svd($0) }
            #expect(abs(s.singularValues[0] - 3) < 1e-6 && abs(s.singularValues[1] - 2) < 1e-6)
            #expect(s.u.maxAbsDifference(try Matrix([[0, 1], [1, 0], [0, 0]])) < 1e-6, "\(kernels.backend)")
            #expect(s.vt.maxAbsDifference(try Matrix([[1, 0], [0, 1]])) < 1e-6)
        }
    }

    @Test("SVD reconstructs, is orthonormal, and both backends agree", arguments: [(1, 1), (6, 4), (4, 6), (50, 7), (7, 50), (40, 40), (120, 35)])
    func svdRandom(shape: (Int, Int)) throws {
        let (m, n) = shape
        let a = randomMatrix(m, n, seed: UInt64(m * 7 + n))
        var results = [SVDResult]()
        for kernels in allKernels {
            let s = try a.withView { try kernels.svd($0) }
            #expect(s.reconstruction().maxAbsDifference(a) < 2e-5 * Float(max(m, n)), "\(kernels.backend) \(m)×\(n)")
            #expect(orthogonalityError(columnsOf: s.u) < 1e-4)
            #expect(orthogonalityError(columnsOf: s.vt.transposed) < 1e-4)
            #expect(zip(s.singularValues, s.singularValues.dropFirst()).allSatisfy { $0 >= $1 })
            results.append(s)
        }
        if results.count == 2 {
            for (x, y) in zip(results[0].singularValues, results[1].singularValues) {
                #expect(abs(x - y) <= 1e-4 * max(1, x), "singular values differ between backends")
            }
            // Sign-normalised vectors agree for well-separated singular values (random matrices).
            #expect(results[0].u.maxAbsDifference(results[1].u) < 1e-2)
        }
    }

    @Test("SVD of a rank-deficient matrix still returns orthonormal U")
    func svdRankDeficient() throws {
        let col = randomMatrix(30, 1, seed: 1)
        let a = referenceGEMM(.none, .none, alpha: 1, col, try Matrix([[1, 2, 3, 4]]), beta: 0, Matrix(rows: 30, cols: 4))
        for kernels in allKernels {
            let s = try a.withView { try kernels.svd($0) }
            #expect(s.singularValues[1] < 1e-5 * s.singularValues[0])
            #expect(orthogonalityError(columnsOf: s.u) < 1e-4, "\(kernels.backend)")
            #expect(s.reconstruction().maxAbsDifference(a) < 1e-4)
        }
    }

    @Test("truncated SVD finds the top singular values of a tall matrix")
    func truncated() throws {
        // A low-rank-plus-noise 600×120 matrix with a decaying spectrum.
        let left = randomMatrix(600, 15, seed: 1), right = randomMatrix(15, 120, seed: 2)
        var scaledLeft = left
        for i in 0..<600 { for j in 0..<15 { scaledLeft[i, j] *= Float(1) / Float(j + 1) } }
        var a = referenceGEMM(.none, .none, alpha: 1, scaledLeft, right, beta: 0, Matrix(rows: 600, cols: 120))
        let noise = randomMatrix(600, 120, seed: 3)
        for i in 0..<600 { for j in 0..<120 { a[i, j] += 0.01 * noise[i, j] } }
        var tops = [SVDResult]()
        for kernels in allKernels {
            let full = try a.withView { try kernels.svd($0) }
            let top = try a.withView { try kernels.truncatedSVD($0, rank: 5, seed: 7) }
            #expect(top.rank == 5 && top.u.cols == 5 && top.vt.rows == 5)
            for j in 0..<5 {
                #expect(abs(top.singularValues[j] - full.singularValues[j]) <= 1e-3 * full.singularValues[j],
                        "\(kernels.backend) σ\(j)")
            }
            #expect(orthogonalityError(columnsOf: top.u) < 1e-4)
            tops.append(top)
        }
        if tops.count == 2 { #expect(tops[0].u.maxAbsDifference(tops[1].u) < 1e-3) }
        #expect(throws: LinearAlgebraError.self) {
            var bad = a
            bad[3, 3] = .nan
            _ = try bad.withView { try allKernels[0].truncatedSVD($0, rank: 2) }
        }
    }
}

@Suite("Cholesky inverse")
struct CholeskyInverseTests {
    @Test("A·A⁻¹ = I for random SPD matrices on both backends; non-SPD throws")
    func inverse() throws {
        for kernels in allKernels {
            for n in [1, 3, 17, 100] {
                let a = randomSPD(n, seed: UInt64(n + 40))
                var inv = a
                try inv.withMutableView { try kernels.choleskyInverse($0) }
                let product = referenceGEMM(.none, .none, alpha: 1, a, inv, beta: 0, Matrix(rows: n, cols: n))
                #expect(product.maxAbsDifference(.identity(n)) < 1e-4, "\(kernels.backend) n=\(n)")
                #expect(inv.maxAbsDifference(inv.transposed) < 1e-6)
            }
            var bad = try Matrix([[1, 2], [2, 1]])
            #expect(throws: LinearAlgebraError.self) { try bad.withMutableView { try kernels.choleskyInverse($0) } }
        }
    }
}
