import ArgumentParser
import Foundation
import LinearAlgebra
import MovieLens
import Recommender

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The whole pipeline in one command: prepare, train the hybrid and a sequence model, evaluate, recommend, export.",
        discussion: """
        Steps, each one the subcommand of the same name with the options shown:
          1. prepare   --data DATA --out OUT/prepared
          2. train     --model hybrid (--fusion, learned by default) → OUT/hybrid.model
          3. train     --model SEQ (--sequence-model, --epochs) → OUT/SEQ.model
          4. evaluate  temporal split: popularity, ALS, EASE, content, hybrid;
                       leave-last-one-out: popularity, ALS, SEQ   (models refitted on each train part)
          5. recommend a sample: top 5 for --sample-users users from both models, with titles
          6. export    top 10 for every user from both models  → OUT/recommendations-{hybrid,SEQ}.csv
        Everything is written atomically into --out; the bundled data takes about a minute on 2 cores.

        Examples:
          movierec run
          movierec run --data ~/ml-1m --out /tmp/run-1m --epochs 5
          movierec run --data ~/ml-20m --out /tmp/run-20m --sequence-model sasrec
        """)

    @Option(help: "MovieLens folder.") var data = "data/ml-latest-small"
    @Option(help: "Output folder.") var out = "movierec-output"
    @Option(help: ArgumentHelp("The sequence model: rnn (the LSTM, full softmax) or sasrec (self-attention, sampled softmax; far faster on large catalogues).",
                               valueName: "model"))
    var sequenceModel: RunSequenceModel = .rnn
    @Option(help: "The sequence model's epochs (default: 10 for rnn, 40 for sasrec).") var epochs: Int?
    @Option(help: "Users shown in the sample of recommendations.") var sampleUsers = 3
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Hybrid fusion: learned (weights and CF model fitted on a validation carve) or minmax (the original 0.8 content / 0.2 CF design).")
    var fusion: HybridFusionMode = .learned
    @OptionGroup var kernelOptions: KernelOptions
    @Flag(help: "Skip the evaluation step.") var skipEvaluation = false

    func validate() throws {
        guard (epochs ?? 0) >= 0, sampleUsers >= 0 else { throw ValidationError("--epochs and --sample-users must not be negative") }
        let files = pipeline.outputFiles(in: URL(fileURLWithPath: out))
        let outputs = PreparedData.fileNames.map { files.prepared.appendingPathComponent($0) } + files.models + files.exports + files.report
        try refuseOverwriting(inputs: [data], outputs: outputs.map(\.path))
    }

    /// The pipeline `run` describes: the hybrid (learned fusion, or the original design) and the
    /// sequence model.
    var pipeline: Pipeline {
        var p = Pipeline(sequenceModel: sequenceModel.rawValue)
        p.preparation.seed = seed
        p.preparation.balancing?.seed = seed
        p.options.seed = seed
        p.options.sequence.seed = seed
        p.options.hybridFusion = fusion
        switch sequenceModel {
        case .rnn:
            if let epochs { p.options.sequence.epochs = epochs }
        case .sasrec:
            var c = SequenceRecommender.Configuration.selfAttention
            c.seed = seed
            if let epochs { c.epochs = epochs }
            p.options.selfAttention = c
        }
        p.evaluations = skipEvaluation ? [] : Pipeline.standardEvaluations(options: p.options, sequenceModel: sequenceModel.rawValue)
        p.sampleUsers = sampleUsers
        return p
    }

    func run() throws {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let kernels = try kernelOptions.kernels()
        var step = 0
        var stageStart = t0
        func endStage() {
            if step > 0 { print("   (\(String(format: "%.1f", Double(DispatchTime.now().uptimeNanoseconds - stageStart) / 1e9)) s)") }
        }
        let training = TrainingProgress(quiet: false, lines: true)
        let evaluation = EvaluationProgress(quiet: false)
        let bar = ProgressBar(label: "export", unit: "users", quiet: false)
        let pipeline = self.pipeline
        var models = [String: TrainedModel]()
        _ = try pipeline.run(data: URL(fileURLWithPath: data), out: URL(fileURLWithPath: out), kernels: kernels) { event in
            switch event {
            case .stage(let title):
                training.finish()
                endStage()
                step += 1
                stageStart = DispatchTime.now().uptimeNanoseconds
                print("\n== \(step). \(title)")
            case .prepared(let s):
                printError("  \(s.name.padding(toLength: 24, withPad: " ", startingAt: 0)) \(String(format: "%7.3f s", s.seconds))  \(s.detail)")
            case .training(_, let e):
                training.report(e)
            case let .trained(name, model, file, seconds):
                training.finish()
                models[name] = model
                print("trained \(model.model.label) on \(model.header.users) users × \(model.header.items) movies in \(String(format: "%.2f", seconds)) s (\(kernels.backend)); wrote \(file.path)")
            case .evaluation(let e):
                evaluation.report(e)
            case .evaluated(let report):
                printEvaluation(report)
            case let .sample(user, name, list):
                guard let model = models[name] else { return }
                print("\n   user \(user), \(model.model.label):")
                printRanked(list, titleOf: model.title)
            case let .exporting(_, done, total):
                bar.update(done, of: total)
            case let .exported(_, report, file):
                bar.finish()
                print("wrote \(report.rows) recommendations for \(report.users) users to \(file.path) in \(String(format: "%.2f", report.seconds)) s")
            }
        }
        endStage()
        print("\ndone in \(String(format: "%.1f", Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)) s; everything is in \(out)/")
        print("report: \(pipeline.outputFiles(in: URL(fileURLWithPath: out)).report[0].path)")
    }
}

/// The sequence models `run` trains beside the hybrid.
enum RunSequenceModel: String, CaseIterable, ExpressibleByArgument {
    case rnn, sasrec
}
