// GEMM, batched Cholesky and SVD on each backend compiled in. The same cases as
// `movierec bench kernels`, measured by the ordo-one harness (percentiles, allocations).

import Benchmark
import BenchmarkSupport
import LinearAlgebra

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: 1,
        maxDuration: .seconds(2),
        maxIterations: 100)

    let cases = KernelBenchmark.standardCases().filter { c in
        c.kernel == "gemm" || c.kernel == "cholesky batch" || c.kernel.contains("svd")
    }
    for backend in Backend.available {
        for c in cases {
            Benchmark("\(c.kernel) \(c.size) \(c.threads)t \(backend.rawValue)") { benchmark, body in
                do {
                    for _ in benchmark.scaledIterations { try body() }
                } catch {
                    benchmark.error("\(error)")
                }
            } setup: {
                try c.prepare(try backend.makeKernels(threads: c.threads))
            }
        }
    }
}
