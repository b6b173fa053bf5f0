import Foundation
import LinearAlgebra

/// Side-by-side timings of the kernels on every available backend, measured in one run.
///
/// Each case is run repeatedly on each backend until `minSeconds` have passed (at least `minRuns`
/// times); the best run is reported, since on a shared machine the minimum is the least noisy
/// estimate of what the kernel can do. `movierec bench kernels` prints these results.
public enum KernelBenchmark {
    /// One measured kernel at one size.
    public struct Result: Codable, Sendable {
        /// Kernel name, e.g. `gemm`.
        public let kernel: String
        /// Problem size, e.g. `1024×1024×1024`.
        public let size: String
        /// Threads each backend was allowed.
        public let threads: Int
        /// Floating-point operations of one run, when meaningful.
        public let flops: Double?
        /// Best wall time of one run per backend (`openblas`, `swift`), in seconds.
        public let seconds: [String: Double]

        /// GFLOP/s per backend, when `flops` is known.
        public var gflops: [String: Double] {
            guard let flops else { return [:] }
            return seconds.mapValues { flops / $0 / 1e9 }
        }

        /// How many times faster OpenBLAS ran than pure Swift (Swift time ÷ OpenBLAS time).
        public var openblasSpeedup: Double? {
            guard let b = seconds["openblas"], let s = seconds["swift"], b > 0 else { return nil }
            return s / b
        }

        enum CodingKeys: String, CodingKey { case kernel, size, threads, flops, seconds, gflops, openblasSpeedup }

        public init(kernel: String, size: String, threads: Int, flops: Double?, seconds: [String: Double]) {
            self.kernel = kernel
            self.size = size
            self.threads = threads
            self.flops = flops
            self.seconds = seconds
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init(kernel: try c.decode(String.self, forKey: .kernel), size: try c.decode(String.self, forKey: .size),
                      threads: try c.decode(Int.self, forKey: .threads), flops: try c.decodeIfPresent(Double.self, forKey: .flops),
                      seconds: try c.decode([String: Double].self, forKey: .seconds))
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(kernel, forKey: .kernel)
            try c.encode(size, forKey: .size)
            try c.encode(threads, forKey: .threads)
            try c.encodeIfPresent(flops, forKey: .flops)
            try c.encode(seconds, forKey: .seconds)
            try c.encode(gflops, forKey: .gflops)
            try c.encodeIfPresent(openblasSpeedup, forKey: .openblasSpeedup)
        }
    }

    /// A kernel at one size: `prepare` builds inputs for a backend and returns the closure to time.
    public struct Case {
        public let kernel: String
        public let size: String
        public let threads: Int
        public let flops: Double?
        public let prepare: (any Kernels) throws -> () throws -> Void

        public init(kernel: String, size: String, threads: Int, flops: Double?,
                    prepare: @escaping (any Kernels) throws -> () throws -> Void) {
            self.kernel = kernel
            self.size = size
            self.threads = threads
            self.flops = flops
            self.prepare = prepare
        }
    }

    /// The standard suite: GEMM at n = 256…2048 on all threads and n = 1024 on one thread, SYRK,
    /// the inverse of a 4096×4096 SPD matrix (EASE's kernel), the ALS-shaped batch of 64×64 SPD solves, Householder QR, full SVD and the truncated SVD of
    /// a genome-shaped 10,000 × 1,128 matrix. `quick` shrinks every size for smoke tests.
    public static func standardCases(threads: Int = Parallel.cores, quick: Bool = false) -> [Case] {
        var cases = [Case]()
        let gemmSizes = quick ? [64, 128] : [256, 512, 1024, 2048]
        for n in gemmSizes { cases.append(gemm(n, threads: threads)) }
        if threads > 1 { cases.append(gemm(quick ? 128 : 1024, threads: 1)) }
        cases.append(syrk(n: quick ? 64 : 512, k: quick ? 256 : 4096, threads: threads))
        cases.append(inverse(order: quick ? 300 : 4096, threads: threads))
        cases.append(choleskyBatch(order: quick ? 16 : 64, count: quick ? 200 : 20_000, threads: threads))
        cases.append(qr(m: quick ? 500 : 10_000, n: 20, threads: threads))
        cases.append(fullSVD(m: quick ? 60 : 1_000, n: quick ? 30 : 200, threads: threads))
        cases.append(truncatedSVD(m: quick ? 500 : 10_000, n: quick ? 100 : 1_128, rank: 10, threads: threads))
        return cases
    }

    /// Runs `cases` on every backend in `backends`, calling `progress` with a line before each measurement.
    public static func run(_ cases: [Case], backends: [Backend] = Backend.available, minSeconds: Double = 0.5,
                           minRuns: Int = 3, progress: (String) -> Void = { _ in }) throws -> [Result] {
        var results = [Result]()
        for c in cases {
            var seconds = [String: Double]()
            for backend in backends {
                progress("\(c.kernel) \(c.size) [\(backend), \(c.threads) thread\(c.threads == 1 ? "" : "s")]")
                let kernels = try backend.makeKernels(threads: c.threads)
                let body = try c.prepare(kernels)
                try body()   // warm-up: page faults, OpenBLAS thread start
                var best = Double.infinity
                var runs = 0
                let start = DispatchTime.now().uptimeNanoseconds
                while runs < minRuns || Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < minSeconds {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    try body()
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                    runs += 1
                    if runs >= 1000 { break }
                }
                seconds[backend.rawValue] = best
            }
            results.append(Result(kernel: c.kernel, size: c.size, threads: c.threads, flops: c.flops, seconds: seconds))
        }
        return results
    }

    // MARK: - Cases

    static func gemm(_ n: Int, threads: Int) -> Case {
        Case(kernel: "gemm", size: "\(n)×\(n)×\(n)", threads: threads, flops: 2 * pow(Double(n), 3)) { kernels in
            let a = random(n, n, seed: 1), b = random(n, n, seed: 2)
            let c = Output(rows: n, cols: n)
            return {
                try a.withView { av in try b.withView { bv in try c.matrix.withMutableView {
                    try kernels.gemm(.none, .none, alpha: 1, av, bv, beta: 0, $0)
                } } }
            }
        }
    }

    static func syrk(n: Int, k: Int, threads: Int) -> Case {
        // Flops of the triangle a SYRK computes (n(n+1)k), the conventional count.
        Case(kernel: "syrk AᵀA", size: "\(k)×\(n)", threads: threads, flops: Double(n) * Double(n + 1) * Double(k)) { kernels in
            let a = random(k, n, seed: 3)
            let c = Output(rows: n, cols: n)
            return {
                try a.withView { av in try c.matrix.withMutableView { try kernels.syrk(.transposed, alpha: 1, av, beta: 0, $0) } }
            }
        }
    }

    static func inverse(order n: Int, threads: Int) -> Case {
        // Cholesky (n³/3) and the inverse from the factor (2n³/3), in flops of multiply-adds × 2.
        Case(kernel: "spd inverse", size: "\(n)×\(n)", threads: threads, flops: 2 * pow(Double(n), 3)) { kernels in
            let g = spd(n, seed: 8)
            let work = Output(rows: n, cols: n)
            return {
                work.reset(g.elements)   // part of the timed work: a copy, under 1 % of the inverse
                try work.matrix.withMutableView { try kernels.choleskyInverse($0) }
            }
        }
    }

    static func choleskyBatch(order: Int, count: Int, threads: Int) -> Case {
        let flops = Double(count) * (pow(Double(order), 3) / 3 + 2 * pow(Double(order), 2))
        return Case(kernel: "cholesky batch", size: "\(count) × \(order)×\(order)", threads: threads, flops: flops) { kernels in
            let one = spd(order, seed: 4)
            let mats = [Float]((0..<count).map { _ in one.elements }.joined())
            let rhs = [Float](repeating: 1, count: order * count)
            let work = Output(rows: count, cols: order * order)
            let x = Output(rows: count, cols: order)
            return {
                // Restoring the inputs is part of the timed work (a memcpy, ~3% of the solves).
                work.reset(mats)
                x.reset(rhs)
                try work.matrix.withMutableView { mv in
                    try x.matrix.withMutableView { xv in
                        try kernels.solveSPDBatch(order: order, count: count,
                                                  matrices: UnsafeMutableBufferPointer(start: mv.base, count: count * order * order),
                                                  rhs: UnsafeMutableBufferPointer(start: xv.base, count: count * order))
                    }
                }
            }
        }
    }

    static func qr(m: Int, n: Int, threads: Int) -> Case {
        Case(kernel: "qr (thin Q)", size: "\(m)×\(n)", threads: threads, flops: nil) { kernels in
            let a = random(m, n, seed: 5)
            return { _ = try a.withView { try kernels.orthonormalBasis($0) } }
        }
    }

    static func fullSVD(m: Int, n: Int, threads: Int) -> Case {
        Case(kernel: "svd (full, thin)", size: "\(m)×\(n)", threads: threads, flops: nil) { kernels in
            let a = random(m, n, seed: 6)
            return { _ = try a.withView { try kernels.svd($0) } }
        }
    }

    static func truncatedSVD(m: Int, n: Int, rank: Int, threads: Int) -> Case {
        Case(kernel: "truncated svd r=\(rank)", size: "\(m)×\(n)", threads: threads, flops: nil) { kernels in
            let a = genomeLike(m, n, seed: 7)
            return { _ = try a.withView { try kernels.truncatedSVD($0, rank: rank, seed: 1) } }
        }
    }

    /// How close the truncated SVD's top singular values come to the full SVD's, per backend.
    public struct Accuracy: Codable, Sendable {
        public var size: String
        public var rank: Int
        /// Backend whose full SVD is the reference.
        public var reference: String
        /// max over i ≤ rank of |σᵢ(truncated) − σᵢ(full)| / σᵢ(full), per backend.
        public var maxRelativeError: [String: Double]
    }

    /// Compares ``Kernels/truncatedSVD(_:rank:oversampling:powerIterations:seed:)`` with the full SVD
    /// (LAPACK `sgesdd` when available) on the genome-shaped benchmark matrix.
    public static func truncatedSVDAccuracy(m: Int = 10_000, n: Int = 1_128, rank: Int = 10,
                                            backends: [Backend] = Backend.available) throws -> Accuracy {
        let a = genomeLike(m, n, seed: 7)
        let referenceBackend = backends.contains(.openblas) ? Backend.openblas : (backends.first ?? .swift)
        let full = try a.withView { try referenceBackend.makeKernels().svd($0) }
        var errors = [String: Double]()
        for backend in backends {
            let top = try a.withView { try backend.makeKernels().truncatedSVD($0, rank: rank, seed: 1) }
            var worst = 0.0
            for i in 0..<min(rank, top.rank) {
                let exact = Double(full.singularValues[i])
                worst = max(worst, abs(Double(top.singularValues[i]) - exact) / max(exact, .leastNormalMagnitude))
            }
            errors[backend.rawValue] = worst
        }
        return Accuracy(size: "\(m)×\(n)", rank: rank, reference: referenceBackend.rawValue, maxRelativeError: errors)
    }

    // MARK: - Inputs

    /// A mutable output matrix the timed closures can write into.
    final class Output {
        var matrix: Matrix
        init(rows: Int, cols: Int) { matrix = Matrix(rows: rows, cols: cols) }
        func reset(_ values: [Float]) {
            matrix.withMutableView { v in
                values.withUnsafeBufferPointer { src in
                    if let p = src.baseAddress { v.base.update(from: p, count: min(src.count, v.rows * v.cols)) }
                }
            }
        }
    }

    static func random(_ rows: Int, _ cols: Int, seed: UInt64) -> Matrix {
        var g = SeededGenerator(seed: seed)
        var m = Matrix(rows: rows, cols: cols)
        m.withMutableView { v in
            for i in 0..<rows { for j in 0..<cols { v[i, j] = g.nextUnitFloat() - 0.5 } }
        }
        return m
    }

    /// A matrix shaped like the MovieLens tag genome: relevances in (0, 1) from a low-rank logit,
    /// `σ(b_j + 1.3·⟨l_i, r_j⟩/√8)` with 8 latent dimensions, so its spectrum decays as the real one does.
    static func genomeLike(_ rows: Int, _ cols: Int, seed: UInt64) -> Matrix {
        var g = SeededGenerator(seed: seed)
        let left = Matrix.gaussian(rows: rows, cols: 8, using: &g)
        let right = Matrix.gaussian(rows: 8, cols: cols, using: &g)
        let bias = (0..<cols).map { _ in Float(g.nextGaussian() - 2) }
        var logits = Matrix(rows: rows, cols: cols)
        let k = SwiftKernels()
        left.withView { l in right.withView { r in logits.withMutableView { try? k.gemm(.none, .none, alpha: 1.3 / Float(8).squareRoot(), l, r, beta: 0, $0) } } }
        logits.withMutableView { v in
            for i in 0..<rows { for j in 0..<cols { v[i, j] = 1 / (1 + exp(-(v[i, j] + bias[j]))) } }
        }
        return logits
    }

    static func spd(_ n: Int, seed: UInt64) -> Matrix {
        let a = random(n, n, seed: seed)
        var g = Matrix(rows: n, cols: n)
        let k = SwiftKernels(threads: 1)
        a.withView { av in g.withMutableView { try? k.syrk(.transposed, alpha: 1, av, beta: 0, $0) } }
        for i in 0..<n { g[i, i] += Float(n) }
        return g
    }
}
