import ArgumentParser
import Foundation
import LinearAlgebra
import MovieLens
import Recommender

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model and save it to a model file.",
        discussion: """
        --data is a MovieLens folder or a folder written by `movierec prepare` (its kept ratings and \
        its genre + tag embeddings are used; from a raw folder the embeddings are built on the spot). \
        Ratings ≥ --min-rating are the positives; every rating is remembered so that recommendations \
        skip what a user has seen. The file is versioned, checksummed and written atomically.

        Models: als (implicit ALS, confidence 1 + α·rating), ease (EASE; its weights take items² \
        floats), content (cosine of the content vectors to the user's profile), hybrid (content cosine fused with EASE or ALS: per-user z-scores, a CF weight \
        σ(a + b·ln n) for a user with n ratings and the CF model chosen on a validation carve of the \
        training ratings; --fusion minmax is the original design: ALS, --content-weight / --cf-weight, \
        each part min-max scaled over the candidates of each query), rnn (LSTM next-movie model: \
        embedding → LSTM → dropout → softmax over all movies, trained with Adam on each user's history \
        ordered by time; --sequence-mode windows, the default, predicts every movie of a history once \
        from up to --sequence-length − 1 movies before it, in windows whose ends are --window-step apart; \
        last only each user's last movie. The reference design is --sequence-mode last \
        --sequence-length 20 --batch-size 256 --learning-rate 0.001 --initialisation glorot), sasrec \
        (SASRec: causal self-attention blocks over windows of --sequence-length movies, every position \
        predicting the next; --blocks, --heads, --embedding is the model size). Both sequence models \
        take --negatives N for sampled softmax (0: the full softmax; rnn's default, where sasrec's is \
        256 negatives drawn afresh for every 64 targets, without in-batch negatives).

        Examples:
          movierec train --data data/ml-latest-small --model hybrid --out /tmp/hybrid.model
          movierec train --data /tmp/prepared --model als --factors 64 --out /tmp/als.model
          movierec train --data /tmp/prepared --model ease --out /tmp/ease.model
          movierec train --data data/ml-latest-small --model rnn --epochs 10 --out /tmp/rnn.model
        """)

    @Option(help: "MovieLens folder, or a folder written by movierec prepare.") var data = "data/ml-latest-small"
    @Option(help: "The model: \(ModelRegistry.standard.names.joined(separator: ", ")).") var model = HybridRecommender.name
    @Option(help: "Model file to write.") var out: String
    @OptionGroup var hyper: ModelOptions
    @OptionGroup var kernelOptions: KernelOptions
    @Flag(help: "No progress lines.") var quiet = false
    @Flag(help: "Print a JSON report (no progress lines).") var json = false

    func validate() throws {
        try hyper.validate()
        try validateModel(model, options: try hyper.options(for: model))
        try refuseOverwriting(inputs: [data], output: out)
    }

    func run() throws {
        let type = try ModelRegistry.standard.model(named: model)
        let kernels = try kernelOptions.kernels()
        let t0 = DispatchTime.now().uptimeNanoseconds
        let input = try TrainingData.load(from: URL(fileURLWithPath: data), content: type.needsContent, kernels: kernels,
                                          seed: hyper.seed)
        let quiet = self.quiet || json
        let progress = TrainingProgress(quiet: quiet, lines: true)
        var recorder = Report.CurveRecorder()
        let trained = try TrainedModel.train(type, ratings: input.ratings, movies: input.movies, content: input.content,
                                             options: try hyper.options(for: model), kernels: kernels) { event in
            recorder.record(event)
            progress.report(event)
        }
        progress.finish()
        try trained.save(to: URL(fileURLWithPath: out))
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        if json {
            print(try jsonText(TrainReport(model: model, label: trained.model.label, users: trained.header.users, movies: trained.header.items,
                                           seconds: seconds, backend: kernels.backend.rawValue, out: out, options: trained.header.options,
                                           training: recorder.curve(model: trained.model.label).map { [$0] } ?? [])))
        } else if !quiet {
            print("trained \(trained.model.label) on \(trained.header.users) users × \(trained.header.items) movies in \(String(format: "%.2f", seconds)) s (\(kernels.backend)); wrote \(out)")
        }
    }
}

/// What `train --json` prints; `report --from` reads its training curve.
struct TrainReport: Codable {
    var model: String
    var label: String
    var users: Int
    var movies: Int
    var seconds: Double
    var backend: String
    var out: String
    var options: TrainedModel.Options
    /// The loss per ALS iteration or sequence-model epoch (empty for models without one).
    var training: [Report.TrainingCurve]
}
