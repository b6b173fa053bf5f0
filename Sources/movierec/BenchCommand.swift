import ArgumentParser
import BenchmarkSupport
import Foundation
import LinearAlgebra

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark MovieRec's steps on OpenBLAS and on pure Swift, side by side in one run.",
        subcommands: [BenchPipeline.self, BenchKernels.self, BenchLoad.self, BenchALS.self, BenchEASE.self, BenchContent.self],
        defaultSubcommand: BenchPipeline.self)
}

struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Time GEMM, SYRK, batched Cholesky, QR and SVD on each backend and print their ratio.",
        discussion: """
        Every kernel and size runs on each selected backend in the same process, repeatedly for at \
        least --min-time seconds; the best run is reported. 'OpenBLAS×' is how many times faster \
        OpenBLAS ran than pure Swift.

        Examples:
          movierec bench kernels
          movierec bench kernels --json > kernels.json
          movierec bench kernels --backend swift --threads 1
        """)

    @Option(help: "Backends to measure: openblas, swift or both.")
    var backend: BackendChoice = .both

    @OptionGroup var threadOptions: ThreadOptions

    @Option(help: "Minimum seconds to spend timing each kernel on each backend.")
    var minTime: Double = 0.5

    @Flag(help: "Small sizes only (a smoke test in a few seconds).")
    var quick = false

    @Flag(help: "Print machine-readable JSON to standard output instead of a table.")
    var json = false

    @Flag(help: "Print no progress lines.")
    var quiet = false

    func validate() throws {
        guard minTime >= 0, minTime <= 3600 else { throw ValidationError("--min-time must be between 0 and 3600 seconds") }
    }

    func run() throws {
        let backends = try backend.backends()
        let cases = KernelBenchmark.standardCases(threads: threadOptions.threads, quick: quick)
        let results = try KernelBenchmark.run(cases, backends: backends, minSeconds: minTime) { line in
            if !quiet { printError("  timing \(line)") }
        }
        if !quiet { printError("  checking truncated SVD against the full SVD") }
        let accuracy = quick ? try KernelBenchmark.truncatedSVDAccuracy(m: 500, n: 100, rank: 10, backends: backends)
                             : try KernelBenchmark.truncatedSVDAccuracy(backends: backends)
        if json {
            struct Report: Encodable {
                var kernels: [KernelBenchmark.Result]
                var truncatedSVDAccuracy: KernelBenchmark.Accuracy
                var openBLASCore: String?
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(Report(kernels: results, truncatedSVDAccuracy: accuracy, openBLASCore: Backend.openBLASCore)), as: UTF8.self))
            return
        }
        print(Self.table(results, backends: backends))
        let errors = accuracy.maxRelativeError.sorted { $0.key < $1.key }
            .map { "\($0.key) \(String(format: "%.1e", $0.value))" }.joined(separator: ", ")
        print("\ntruncated SVD r=\(accuracy.rank) of \(accuracy.size) vs full SVD (\(accuracy.reference)): max relative error of the top singular values: \(errors)")
        if backends.contains(.openblas), let core = Backend.openBLASCore {
            let chosen = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].map { "OPENBLAS_CORETYPE=\($0)" } ?? "chosen by OpenBLAS for this CPU"
            print("OpenBLAS kernels: \(core) (\(chosen))")
        }
    }

    static func table(_ results: [KernelBenchmark.Result], backends: [Backend]) -> String {
        var header = ["kernel", "size", "threads"]
        for b in backends { header += ["\(b) ms", "\(b) GFLOP/s"] }
        if backends.count == 2 { header.append("OpenBLAS×") }
        let rows = results.map { r -> [String] in
            var row = [r.kernel, r.size, "\(r.threads)"]
            for b in backends {
                row.append(r.seconds[b.rawValue].map { String(format: "%.2f", $0 * 1000) } ?? "-")
                row.append(r.gflops[b.rawValue].map { String(format: "%.1f", $0) } ?? "-")
            }
            if backends.count == 2 { row.append(r.openblasSpeedup.map { String(format: "%.2f", $0) } ?? "-") }
            return row
        }
        return renderTable(header: header, rows: rows, rightAligned: Set(2..<header.count))
    }
}
