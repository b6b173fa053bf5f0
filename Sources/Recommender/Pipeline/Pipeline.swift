import Foundation
import LinearAlgebra
import MovieLens

/// The whole job in one call, every stage a value passed on in memory: load a MovieLens folder →
/// ``Preparation`` → train each model of ``models`` → the ``evaluations`` → sample recommendations
/// → ``BatchExport`` of every user. What `movierec run` does; each output is written atomically
/// into the output folder.
///
/// ```swift
/// var pipeline = Pipeline()
/// pipeline.options.sequence.epochs = 2
/// let result = try pipeline.run(data: URL(fileURLWithPath: "data/ml-latest-small"),
///                               out: URL(fileURLWithPath: "/tmp/run"), kernels: kernels)
/// print(result.evaluations[0].ranking.map { ($0.model, $0.metrics.ndcgAt10) })
/// ```
public struct Pipeline: Sendable {
    public var preparation = Preparation.Options()
    /// Models trained on the prepared ratings, saved as `NAME.model` and exported.
    public var models = [HybridRecommender.name, LSTMRecommender.name]
    public var options = TrainedModel.Options()
    /// Evaluations run on the prepared data (each suite's own options are used, its seed included).
    public var evaluations: [EvaluationSuite] = Pipeline.standardEvaluations(options: TrainedModel.Options())
    /// Users whose top 5 are shown (the first ids of the first model).
    public var sampleUsers = 3
    public var export = BatchExport(count: 10)
    public var registry = ModelRegistry.standard

    public init() {}

    /// The hybrid and the sequence model named `sequenceModel` (``LSTMRecommender/name`` or
    /// ``SelfAttentionRecommender/name``), evaluated by ``standardEvaluations(options:sequenceModel:)``.
    public init(sequenceModel: String) {
        models = [HybridRecommender.name, sequenceModel]
        evaluations = Pipeline.standardEvaluations(options: options, sequenceModel: sequenceModel)
    }

    /// The temporal split over popularity, ALS, EASE, content and the hybrid, and leave-last-one-out
    /// over popularity, ALS and the sequence model `sequenceModel`, all with `options`.
    public static func standardEvaluations(options: TrainedModel.Options, sequenceModel: String = LSTMRecommender.name) -> [EvaluationSuite] {
        var temporal = EvaluationSuite()
        temporal.models = [EvaluationSuite.popularity, ImplicitALS.name, EASE.name, ContentRecommender.name, HybridRecommender.name]
        temporal.options = options
        var loo = EvaluationSuite()
        loo.split = .loo
        loo.models = [EvaluationSuite.popularity, ImplicitALS.name, sequenceModel]
        loo.options = options
        return [temporal, loo]
    }

    /// What a run reports as it goes.
    public enum Event: Sendable {
        /// A stage begins.
        case stage(String)
        /// A preparation step finished.
        case prepared(Preparation.Step)
        /// An event of a model being trained.
        case training(model: String, TrainingEvent)
        /// An event of an evaluation.
        case evaluation(EvaluationSuite.Event)
        /// An evaluation finished.
        case evaluated(EvaluationSuite.Report)
        /// A model was trained and saved.
        case trained(model: String, TrainedModel, file: URL, seconds: Double)
        /// A sample user's recommendations from one model.
        case sample(user: Int32, model: String, [Recommendation])
        /// Progress of an export: users done of total.
        case exporting(model: String, done: Int, total: Int)
        /// An export finished.
        case exported(model: String, BatchExport.Report, file: URL)
    }

    /// What a run produced.
    public struct Result: Sendable {
        public var prepared: PreparationSummary
        public var models: [(name: String, model: TrainedModel)]
        public var evaluations: [EvaluationSuite.Report]
        public var exports: [(name: String, report: BatchExport.Report, file: URL)]
        /// Everything the run's `report.html` shows (also written as `report.json`).
        public var report: Report
    }

    /// Every file ``run(data:out:kernels:loading:progress:)`` writes into `out`: the prepared set,
    /// `NAME.model` and `recommendations-NAME.csv` (or `.jsonl`) per model, `report.html` and
    /// `report.json`.
    public func outputFiles(in out: URL) -> (prepared: URL, models: [URL], exports: [URL], report: [URL]) {
        (out.appendingPathComponent("prepared"),
         models.map { out.appendingPathComponent("\($0).model") },
         models.map { out.appendingPathComponent("recommendations-\($0).\(export.format.rawValue)") },
         [out.appendingPathComponent("report.html"), out.appendingPathComponent("report.json")])
    }

    /// Checks every model name and suite before any work.
    public func validate() throws {
        for name in models { _ = try registry.model(named: name) }
        for suite in evaluations { try suite.validate() }
        guard sampleUsers >= 0 else { throw RecommenderError.invalidOptions(model: "pipeline", reason: "sample users must not be negative") }
    }

    /// Runs every stage on the MovieLens folder `data`, writing ``outputFiles(in:)`` into `out`
    /// (created if missing); loading and preparation use the kernels' threads.
    public func run(data: URL, out: URL, kernels: any Kernels, loading: MovieLensDataset.Options = MovieLensDataset.Options(),
                    progress: (Event) -> Void = { _ in }) throws -> Result {
        try validate()
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let files = outputFiles(in: out)
        let preparedFolder = files.prepared
        progress(.stage("prepare \(data.path) → \(preparedFolder.path)"))
        var load = loading
        load.loadTags = false
        load.loadLinks = false
        load.threads = kernels.threads
        let dataset = try MovieLensDataset.load(from: data, options: load)
        var preparation = self.preparation
        preparation.threads = kernels.threads
        let prepared = try Preparation(options: preparation).run(dataset, kernels: kernels) { progress(.prepared($0)) }
        try prepared.write(to: preparedFolder, threads: kernels.threads)
        let input = try TrainingData(prepared: prepared,
                                     content: models.contains { (try? registry.model(named: $0))?.needsContent ?? false }
                                         || evaluations.contains { $0.needsContent })

        var trained = [(name: String, model: TrainedModel)]()
        var report = Report(title: "MovieRec run on \(data.lastPathComponent)")
        for (name, file) in zip(models, files.models) {
            let type = try registry.model(named: name)
            progress(.stage("train \(name)"))
            let t0 = DispatchTime.now().uptimeNanoseconds
            var recorder = Report.CurveRecorder()
            let model = try TrainedModel.train(type, ratings: input.ratings, movies: input.movies, content: input.content,
                                               options: options, kernels: kernels) { event in
                recorder.record(event)
                progress(.training(model: name, event))
            }
            if let curve = recorder.curve(model: model.model.label) { report.training.append(curve) }
            try model.save(to: file)
            progress(.trained(model: name, model, file: file, seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9))
            trained.append((name, model))
        }

        var reports = [EvaluationSuite.Report]()
        for suite in evaluations {
            progress(.stage("evaluate: \(suite.split.rawValue) split (\(suite.models.joined(separator: ", ")))"))
            // Curves of the models fitted on the split's train part (ALS's iterations, the sequence
            // models' epochs): the report's only ALS curve when the hybrid's CF part is EASE.
            var recorders = [String: Report.CurveRecorder]()
            let evaluation = try suite.run(on: input, kernels: kernels) { event in
                if case .training(let model, let training) = event { recorders[model, default: .init()].record(training) }
                progress(.evaluation(event))
            }
            for name in suite.models {
                if let curve = recorders[name]?.curve(model: "\(name), \(suite.split.rawValue) split's train part") { report.training.append(curve) }
            }
            progress(.evaluated(evaluation))
            reports.append(evaluation)
        }

        if sampleUsers > 0, let first = trained.first {
            progress(.stage("sample recommendations"))
            for user in first.model.users.ids.prefix(sampleUsers) {
                for (name, model) in trained where model.users.index(of: user) != nil {
                    let list = try model.recommend(user: user, k: 5, kernels: kernels)
                    progress(.sample(user: user, model: name, list))
                    report.samples.append(.init(user: user, model: model.model.label, recommendations: list.map { r in
                        let because = r.becauseOf.map { "\($0) \(model.title($0))" }
                        return .init(movieID: r.movieID, title: r.title, score: r.score, why: r.explanation?.summary(because: because) ?? because ?? "")
                    }))
                }
            }
        }

        var exports = [(name: String, report: BatchExport.Report, file: URL)]()
        if !trained.isEmpty { progress(.stage("export top \(export.count) for every user")) }
        for ((name, model), file) in zip(trained, files.exports) {
            let report = try export.write(model, to: file, kernels: kernels) { progress(.exporting(model: name, done: $0, total: $1)) }
            progress(.exported(model: name, report, file: file))
            exports.append((name, report, file))
        }
        report.data = trained.first.map { Report.dataFacts(seen: $0.model.seen, preparation: prepared.summary) }
        report.evaluations = reports
        try AtomicFileWriter.write(Array(try Report.jsonEncoder().encode(report)) + [10], to: files.report[1])
        try AtomicFileWriter.write(Array(try report.html().utf8), to: files.report[0])
        return Result(prepared: prepared.summary, models: trained, evaluations: reports, exports: exports, report: report)
    }
}
