import ArgumentParser
import BenchmarkSupport
import Foundation
import LinearAlgebra
import MovieLens
import Recommender

struct BenchPipeline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Time load → prepare → ALS → content neighbours → LSTM epoch → export on each backend (the default `bench`).",
        discussion: """
        Every step runs on each selected backend in the same process, one after the other, and the \
        table shows seconds per backend, 'OpenBLAS×' (pure-Swift time / OpenBLAS time: how many times \
        faster OpenBLAS ran) and the peak resident memory of the step. --preset generates MovieLens- \
        shaped synthetic data first (same files and shapes as the real release; not timed). ALS runs \
        --als-iterations iterations at 64 factors on the prepared ratings; the LSTM epoch uses one \
        sequence of 20 movies per user at batch 256 (--lstm-mode last, the reference setup; windows: \
        the default training configuration); export writes top-10 for every user.

        Examples:
          movierec bench --preset small
          movierec bench --data data/ml-latest-small --backend both --json /tmp/bench.json
          movierec bench --preset 20m --synth-dir /tmp/synth-20m
        """)

    @Option(help: "MovieLens folder to benchmark on.") var data: String?
    @Option(help: "Generate synthetic data of this preset instead: small, 1m, 20m.") var preset: String?
    @Option(help: "Where --preset data is written (reused when it is already there; default: a temporary folder).") var synthDir: String?
    @Option(help: "Backends: openblas, swift or both.") var backend: BackendChoice = .both
    @Option(help: "ALS iterations.") var alsIterations = 3
    @Option(help: "LSTM examples: last (the reference setup: one sequence of 20 per user, batch 256) or windows (the default training configuration).") var lstmMode: SequenceExamples.Mode = .last
    @Flag(help: "Also train the learned hybrid (same ALS settings) and report its time against the ALS step.") var hybrid = false
    @Option(help: "Write the results as JSON to this file.") var json: String?
    @OptionGroup var threadOptions: ThreadOptions
    @Option(help: "Random seed.") var seed: UInt64 = 0

    func validate() throws {
        guard data == nil || preset == nil else { throw ValidationError("give --data or --preset, not both") }
        guard alsIterations > 0 else { throw ValidationError("--als-iterations must be positive") }
        if let json, let data { try refuseOverwriting(inputs: [data], output: json) }
    }

    func run() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("movierec-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        var directory = URL(fileURLWithPath: data ?? "data/ml-latest-small")
        if let preset {
            directory = synthDir.map { URL(fileURLWithPath: $0) } ?? scratch.appendingPathComponent("data")
            if !FileManager.default.fileExists(atPath: directory.appendingPathComponent("ratings.csv").path) {
                printError("generating the \(preset) preset into \(directory.path) …")
                var generator = SyntheticMovieLens(preset: try SyntheticMovieLens.Preset.named(preset), seed: seed)
                generator.threads = threadOptions.threads
                _ = try generator.write(to: directory)
            }
        }
        var bench = PipelineBenchmark()
        bench.includeHybrid = hybrid
        bench.alsIterations = alsIterations
        bench.sequenceMode = lstmMode
        bench.seed = seed
        var all = [PipelineBenchmark.Step]()
        for b in try backend.backends() {
            let kernels = try b.makeKernels(threads: threadOptions.threads)
            printError("\(b):")
            all += try bench.run(directory: directory, scratch: scratch, kernels: kernels) { step in
                printError("  \(step.name): \(String(format: "%.2f", step.seconds)) s, peak \(step.peakBytes >> 20) MiB — \(step.detail)")
            }
        }
        let names = all.map(\.name).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        func seconds(_ name: String, _ backend: Backend) -> Double? { all.first { $0.name == name && $0.backend == backend.rawValue }?.seconds }
        let rows = names.map { name -> [String] in
            let o = seconds(name, .openblas), s = seconds(name, .swift)
            let peak = all.filter { $0.name == name }.map(\.peakBytes).max() ?? 0
            return [name, o.map { String(format: "%.2f", $0) } ?? "-", s.map { String(format: "%.2f", $0) } ?? "-",
                    o.flatMap { o in s.map { String(format: "%.2f×", $0 / max(o, 1e-9)) } } ?? "-", "\(peak >> 20)"]
        }
        print("data: \(directory.path)")
        print(renderTable(header: ["step", "OpenBLAS s", "Swift s", "OpenBLAS×", "peak MiB"], rows: rows, rightAligned: [1, 2, 3, 4]))
        if let json {
            struct Report: Encodable { var data: String; var threads: Int; var steps: [PipelineBenchmark.Step] }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFileWriter.write(Array(try encoder.encode(Report(data: directory.path, threads: threadOptions.threads, steps: all))) + [10],
                                       to: URL(fileURLWithPath: json))
        }
    }
}
