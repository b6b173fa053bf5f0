import LinearAlgebra
import Testing

/// Every kernel gives the same bits on 1, 2 and 3 threads, at sizes past every blocking threshold
/// (inner dimensions over 256, orders over the 256 block that are not multiples of it).
@Suite("Results independent of the thread count")
struct ThreadIndependenceTests {
    static let threadCounts = [1, 2, 3]

    /// `op` run with kernels of each thread count, on each backend; `check` gets the results by thread count.
    func eachBackend(_ backends: [Backend] = Backend.available, run op: (any Kernels) throws -> Matrix,
                     check: (Backend, [Matrix]) -> Void) throws {
        for backend in backends {
            let results = try Self.threadCounts.map { try op(backend.makeKernels(threads: $0)) }
            check(backend, results)
        }
    }

    func expectIdentical(_ backend: Backend, _ results: [Matrix], _ what: String) {
        for (threads, r) in zip(Self.threadCounts, results).dropFirst() {
            #expect(r == results[0], "\(what) on \(backend): \(threads) threads differ from 1 (max \(r.maxAbsDifference(results[0])))")
        }
    }

    /// `MᵀM + n·I` computed with the pure-Swift kernels (fast enough at these orders in debug builds).
    static func spd(_ n: Int, seed: UInt64) throws -> Matrix {
        let m = randomMatrix(n, n, seed: seed)
        var a = Matrix(rows: n, cols: n)
        try m.withView { mv in try a.withMutableView { try SwiftKernels(threads: 2).syrk(.transposed, alpha: 1, mv, beta: 0, $0) } }
        for i in 0..<n { a[i, i] += Float(n) }
        return a
    }

    @Test("GEMM, every transpose, inner dimension 600")
    func gemm() throws {
        for (ta, tb) in [(Transpose.none, Transpose.none), (.transposed, .none), (.none, .transposed), (.transposed, .transposed)] {
            for (m, n) in [(130, 300), (300, 130)] {
                let k = 600
                let a = ta == .none ? randomMatrix(m, k, seed: 1) : randomMatrix(k, m, seed: 1)
                let b = tb == .none ? randomMatrix(k, n, seed: 2) : randomMatrix(n, k, seed: 2)
                let c0 = randomMatrix(m, n, seed: 3)
                var byBackend = [Matrix]()
                try eachBackend(run: { kernels in
                    var c = c0
                    try a.withView { av in try b.withView { bv in try c.withMutableView {
                        try kernels.gemm(ta, tb, alpha: 0.5, av, bv, beta: 2, $0)
                    } } }
                    return c
                }, check: { backend, results in
                    expectIdentical(backend, results, "gemm \(ta)/\(tb) \(m)×\(n)×\(k)")
                    byBackend.append(results[0])
                })
                if byBackend.count == 2 { #expect(byBackend[0].maxAbsDifference(byBackend[1]) < 1e-3) }
            }
        }
    }

    @Test("SYRK both ways, inner dimension 600")
    func syrk() throws {
        for trans in [Transpose.none, .transposed] {
            let a = trans == .none ? randomMatrix(300, 600, seed: 4) : randomMatrix(600, 300, seed: 4)
            try eachBackend(run: { kernels in
                var c = Matrix(rows: 300, cols: 300)
                try a.withView { av in try c.withMutableView { try kernels.syrk(trans, alpha: 1, av, beta: 0, $0) } }
                return c
            }, check: { expectIdentical($0, $1, "syrk \(trans)") })
        }
    }

    @Test("Cholesky factor, solve and inverse (OpenBLAS blocked at order 520), and A·A⁻¹ = I")
    func cholesky() throws {
        // The pure-Swift kernels have no blocking threshold; order 200 keeps them quick in debug builds.
        for backend in Backend.available {
            let n = backend == .openblas ? 520 : 200
            let a = try Self.spd(n, seed: 5)
            try eachBackend([backend], run: { kernels in
                var l = a
                try l.withMutableView { try kernels.choleskyFactor($0) }
                return l
            }, check: { expectIdentical($0, $1, "choleskyFactor") })
            let b = randomMatrix(n, 40, seed: 6)
            try eachBackend([backend], run: { kernels in try kernels.solveSPD(a, b) },
                            check: { expectIdentical($0, $1, "choleskySolve") })
            var inverse = Matrix(rows: 0, cols: 0)
            try eachBackend([backend], run: { kernels in
                var inv = a
                try inv.withMutableView { try kernels.choleskyInverse($0) }
                return inv
            }, check: { backend, results in
                expectIdentical(backend, results, "choleskyInverse")
                inverse = results[0]
            })
            var product = Matrix(rows: n, cols: n)
            try a.withView { av in try inverse.withView { iv in try product.withMutableView {
                try backend.makeKernels(threads: 2).gemm(.none, .none, alpha: 1, av, iv, beta: 0, $0)
            } } }
            #expect(product.maxAbsDifference(.identity(n)) < 1e-4, "\(backend)")
            #expect(inverse == inverse.transposed)
        }
    }

    @Test("the blocked Cholesky names the first failing leading minor")
    func failingMinor() throws {
        var a = try Self.spd(300, seed: 7)
        a[279, 279] = -1e6
        for kernels in allKernels {
            #expect(throws: LinearAlgebraError.notPositiveDefinite(order: 300, minor: 280, system: nil), "\(kernels.backend)") {
                var l = a
                try l.withMutableView { try kernels.choleskyFactor($0) }
            }
        }
    }

    @Test("QR and SVD")
    func factorizations() throws {
        let tall = randomMatrix(1000, 30, seed: 8)
        try eachBackend(run: { kernels in try tall.withView { try kernels.orthonormalBasis($0) } },
                        check: { expectIdentical($0, $1, "orthonormalBasis") })
        let a = randomMatrix(300, 40, seed: 9)
        try eachBackend(run: { kernels in try a.withView { try kernels.svd($0) }.u },
                        check: { expectIdentical($0, $1, "svd") })
    }
}
