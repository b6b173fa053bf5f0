import ArgumentParser
import Foundation
import LinearAlgebra
import MovieLens
import Recommender

extension RankingMetric: ExpressibleByArgument {}

struct Tune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search a model's hyper-parameters on a validation split carved from the training ratings.",
        discussion: """
        The data's temporal split (as evaluate's) keeps its test ratings aside, unread: tuning sees only \
        the train part, whose users' last 20 % by time are the validation set. Each trial trains on the \
        rest and is scored on the validation set by --metric. The whole grid runs when it has at most \
        --budget points, else a seeded random sample of --budget points. The table is sorted best \
        first; --out writes the best parameters, which train --params and evaluate --params read.

        Default search spaces:
          als: factors 32, 64, 128 × regularization 0.01, 0.05, 0.1, 0.5, 1 × alpha 0.5, 1, 2, 5, 10
          ease: regularization 50, 100, 200, 300, 500, 750, 1000, 2000
          hybrid: content-weight 0, 0.05, 0.1, 0.2, 0.5, 0.8 × cf-weight 0.2, 1 (the original
            min-max design, which setting a weight selects; the learned fusion fits its own)
          rnn: learning-rate 0.001, 0.003, 0.01 × sequence-length 20, 50
        Other options (--iterations, --epochs, …) set what every trial starts from.

        Examples:
          movierec tune --model ease --out ease.json
          movierec evaluate --models popularity,ease --params ease.json
          movierec tune --model als --budget 30 --metric recallAt20 --out als.json
        """)

    @OptionGroup var dataOptions: DataOptions
    @Option(help: "The model: als, ease, hybrid or rnn.") var model: String
    @Option(help: "Trials at most.") var budget = 20
    @Option(help: "Search space instead of the default, as name=v1,v2;name=v1,… with the names of the train options (e.g. \"regularization=0.1,1;alpha=1,5\").")
    var space: String?
    @Option(help: "The metric to maximise: \(RankingMetric.allCases.map(\.rawValue).joined(separator: ", ")).")
    var metric: RankingMetric = .ndcgAt10
    @Option(help: "Write the best parameters as JSON to this file.") var out: String?
    @OptionGroup var hyper: ModelOptions
    @OptionGroup var kernelOptions: KernelOptions
    @Flag(help: "Print the result as JSON instead of a table.") var json = false
    @Flag(help: "No progress lines.") var quiet = false

    func makeTuner() throws -> Tuner {
        var tuner = Tuner(model: model)
        tuner.budget = budget
        if let space { tuner.space = try Self.parseSpace(space) }
        tuner.metric = metric
        tuner.seed = hyper.seed
        tuner.base = try hyper.options(for: model)
        return tuner
    }

    func validate() throws {
        try hyper.validate()
        guard ModelRegistry.standard.names.contains(model) else {
            throw ValidationError("--model must be one of \(ModelRegistry.standard.names.joined(separator: ", "))")
        }
        do { try makeTuner().validate() } catch let error as ValidationError { throw error } catch { throw ValidationError("\(error)") }
        if let out { try refuseOverwriting(inputs: [dataOptions.data], output: out) }
    }

    func run() throws {
        let kernels = try kernelOptions.kernels()
        let tuner = try makeTuner()
        let type = try ModelRegistry.standard.model(named: model)
        let data = try TrainingData.load(from: dataOptions.url, content: type.needsContent, kernels: kernels, seed: hyper.seed,
                                         policy: dataOptions.policy)
        // The test part of the split evaluate uses stays out of tuning.
        let outer = RatingSplit.temporal(data.ratings)
        let started = DispatchTime.now().uptimeNanoseconds
        let quiet = self.quiet || json
        let result = try tuner.run(train: outer.train, movies: data.movies, content: data.content, kernels: kernels) { event in
            guard !quiet else { return }
            switch event {
            case let .start(trials, grid, train, validation):
                printError("\(model): \(trials) of \(grid) grid points; \(train) ratings train each trial, \(validation) validate (the test split's \(outer.test.count) are not read)")
            case let .trial(index, total, trial):
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
                let eta = elapsed / Double(index) * Double(total - index)
                printError("  trial \(index)/\(total): \(Self.describe(trial.parameters)) → \(metric.rawValue) \(String(format: "%.4f", trial.value)) "
                           + "(\(String(format: "%.1f", trial.seconds)) s; ETA \(String(format: "%.0f", eta)) s)")
            }
        }
        if let out {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFileWriter.write(Array(try encoder.encode(TunedParameters(result))) + [10], to: URL(fileURLWithPath: out))
        }
        if json {
            print(try jsonText(result))
            return
        }
        let names = tuner.space.map(\.parameter.rawValue)
        print("\(model) on \(result.validation); \(metric.heading), best first")
        print(renderTable(header: ["#"] + names + [metric.heading, "seconds"],
                          rows: result.trials.enumerated().map { i, t in
                              ["\(i + 1)"] + names.map { n in t.parameters[n].map { Self.format($0) } ?? "-" }
                                  + [String(format: "%.4f", t.value), String(format: "%.1f", t.seconds)]
                          },
                          rightAligned: Set(0...(names.count + 2))))
        if let out { print("wrote the best parameters to \(out)") }
    }

    /// `name=v1,v2;name=…` as dimensions.
    static func parseSpace(_ text: String) throws -> [Tuner.Dimension] {
        try text.split(separator: ";").map { part in
            let pieces = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pieces.count == 2, let parameter = HyperParameter(rawValue: pieces[0]) else {
                throw ValidationError("--space: '\(part)' is not name=values with a name among \(HyperParameter.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let values = try pieces[1].split(separator: ",").map { v -> Double in
                guard let x = Double(v.trimmingCharacters(in: .whitespaces)), x.isFinite else {
                    throw ValidationError("--space: '\(v)' in \(pieces[0]) is not a finite number")
                }
                return x
            }
            return Tuner.Dimension(parameter, values)
        }
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e9 ? String(Int(value)) : String(format: "%g", value)
    }

    static func describe(_ parameters: [String: Double]) -> String {
        parameters.sorted { $0.key < $1.key }.map { "\($0.key) \(format($0.value))" }.joined(separator: ", ")
    }
}
