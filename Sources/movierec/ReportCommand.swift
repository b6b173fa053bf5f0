import ArgumentParser
import BenchmarkSupport
import Foundation
import MovieLens
import Recommender

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write report.html: the data, training curves, evaluations, speed and samples as charts and tables.",
        discussion: """
        One self-contained page (inline SVG and CSS, no script to run, no network), rebuilt from \
        JSON files without retraining: --from DIR reads DIR/report.json (what `movierec run` \
        writes) and every other DIR/*.json written by `movierec evaluate --json` or `movierec train \
        --json` (its loss curve); --evaluation adds such files one by one, --bench a `movierec bench \
        --json` file. Each chart's numbers are in a \
        table under it and the whole report is embedded as JSON. `movierec run` writes report.html \
        into its output folder by itself.

        Examples:
          movierec report --from movierec-output --bench /tmp/bench.json --out /tmp/report
          movierec evaluate --json > /tmp/ev/temporal.json && movierec report --from /tmp/ev --out /tmp/ev
        """)

    @Option(help: "A folder of JSON files: report.json (from run) and evaluate --json outputs.") var from: String?
    @Option(parsing: .upToNextOption, help: "evaluate --json (or train --json) files to add.") var evaluation: [String] = []
    @Option(help: "A bench --json file (OpenBLAS against pure Swift per step).") var bench: String?
    @Option(help: "Title of the page (default: the report's own, or the --from folder's name).") var title: String?
    @Option(help: "Folder to write report.html into (created if missing).") var out: String

    /// The JSON of `movierec bench --json`.
    struct BenchFile: Decodable { var steps: [PipelineBenchmark.Step] }

    func validate() throws {
        guard from != nil || !evaluation.isEmpty || bench != nil else {
            throw ValidationError("give --from DIR, --evaluation FILE or --bench FILE: the report is built from their JSON")
        }
        let output = URL(fileURLWithPath: out).appendingPathComponent("report.html").path
        try refuseOverwriting(inputs: evaluation + (bench.map { [$0] } ?? []), output: output)
    }

    func run() throws {
        let decoder = Report.jsonDecoder()
        func read<T: Decodable>(_ path: String, as type: T.Type) throws -> T {
            try requireRegularFile(path)
            guard let data = FileManager.default.contents(atPath: path) else { throw MovieLensError.io(path: path, reason: "cannot read") }
            do { return try decoder.decode(T.self, from: data) } catch {
                throw MovieLensError.io(path: path, reason: "not a MovieRec \(T.self == BenchFile.self ? "bench --json" : "report or evaluate --json") file (\(error))")
            }
        }
        var report = Report(title: from.map { "MovieRec report: \(URL(fileURLWithPath: $0).lastPathComponent)" } ?? "MovieRec report")
        var evaluations = evaluation
        if let from {
            let folder = URL(fileURLWithPath: from)
            let own = folder.appendingPathComponent("report.json").path
            if FileManager.default.fileExists(atPath: own) { report = try read(own, as: Report.self) }
            let names = try FileManager.default.contentsOfDirectory(atPath: from).filter { $0.hasSuffix(".json") && $0 != "report.json" && $0 != "prepare.json" }
            evaluations = names.sorted().map { folder.appendingPathComponent($0).path } + evaluations
        }
        for path in evaluations {
            // An evaluate --json file, or a train --json file (its training curve).
            if let trainRun = try? read(path, as: TrainReport.self) {
                report.training += trainRun.training
            } else {
                report.evaluations.append(try read(path, as: EvaluationSuite.Report.self))
            }
        }
        if let bench { report.bench = try read(bench, as: BenchFile.self).steps.map { .init(step: $0.name, backend: $0.backend, seconds: $0.seconds) } }
        if let title { report.title = title }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let file = URL(fileURLWithPath: out).appendingPathComponent("report.html")
        try AtomicFileWriter.write(Array(try report.html().utf8), to: file)
        print(file.path)
    }
}
