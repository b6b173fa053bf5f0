import Foundation
import LinearAlgebra
import MovieLens
import Recommender

/// Times every heavy step of the pipeline — load → prepare → ALS → (the learned hybrid) → content
/// neighbours → one LSTM epoch → export — on one kernel backend, with the peak memory of each step.
///
/// Run it once per backend in the same process to get the OpenBLAS / pure-Swift ratio of each step
/// (`movierec bench`). Steps that do not call the kernels (load) are timed on both for symmetry.
public struct PipelineBenchmark: Sendable {
    /// One timed step.
    public struct Step: Sendable, Codable {
        public var name: String
        public var backend: String
        public var seconds: Double
        /// Peak resident memory of the process during the step (0 if unknown).
        public var peakBytes: Int
        public var detail: String
    }

    public var alsFactors = 64
    public var alsIterations = 3
    public var contentNeighbours = 10
    /// The LSTM epoch's examples: `.last` is the reference setup (one sequence of 20 per user,
    /// batch 256), `.windows` the default configuration.
    public var sequenceMode: SequenceExamples.Mode = .last
    public var exportCount = 10
    /// Also train the learned hybrid (with the same ALS settings) and report it against the ALS step.
    public var includeHybrid = false
    public var seed: UInt64 = 0

    public init() {}

    /// Runs every step on `kernels`, reading the MovieLens folder `directory` and writing the export
    /// into `scratch`; `progress` hears each step as it finishes.
    public func run(directory: URL, scratch: URL, kernels: any Kernels, progress: (Step) -> Void = { _ in }) throws -> [Step] {
        var steps = [Step]()
        func timed<T>(_ name: String, _ body: () throws -> (T, String)) throws -> T {
            ResourceUsage.resetPeak()
            let t0 = DispatchTime.now().uptimeNanoseconds
            let (value, detail) = try body()
            let step = Step(name: name, backend: kernels.backend.rawValue, seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9,
                            peakBytes: ResourceUsage.peakResidentBytes(), detail: detail)
            steps.append(step)
            progress(step)
            return value
        }
        let dataset = try timed("load") { () -> (MovieLensDataset, String) in
            var o = MovieLensDataset.Options()
            o.threads = kernels.threads
            o.loadTags = false
            o.loadLinks = false
            let d = try MovieLensDataset.load(from: directory, options: o)
            return (d, "\(d.ratings.count) ratings, \(d.movies.count) movies\(d.genome.map { ", genome \($0.movies.count) × \($0.tagIDs.count)" } ?? "")")
        }
        let prepared = try timed("prepare") { () -> (PreparedData, String) in
            var o = Preparation.Options()
            o.seed = seed
            o.threads = kernels.threads
            let p = try Preparation(options: o).run(dataset, kernels: kernels)
            return (p, "\(p.ratings.count) ratings, \(p.movies.count) movies kept")
        }
        let movies = prepared.movies.map { Movie(id: $0.id, title: $0.title, genres: $0.genres) }
        var options = TrainedModel.Options()
        options.factors = alsFactors
        options.iterations = alsIterations
        // The exact solver: its SYRK and Cholesky per row are what the two backends differ in (CG
        // touches the backend only for YᵀY).
        options.solver = .cholesky
        options.seed = seed
        let als = try timed("ALS train") { () -> (TrainedModel, String) in
            let m = try TrainedModel.train(ImplicitALS.self, ratings: prepared.ratings, movies: movies, options: options, kernels: kernels)
            return (m, "\(alsFactors) factors, \(alsIterations) iterations, Cholesky rows")
        }
        if includeHybrid {
            let alsSeconds = steps.last?.seconds ?? 0
            try timed("hybrid train") { () -> ((), String) in
                let t0 = DispatchTime.now().uptimeNanoseconds
                let m = try TrainedModel.train(HybridRecommender.self, ratings: prepared.ratings, movies: movies,
                                               content: try ContentEmbeddings(prepared: prepared), options: options, kernels: kernels)
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                return ((), String(format: "%@; %.2f× the ALS step", m.model.label, seconds / max(alsSeconds, 1e-9)))
            }
        }
        try timed("content neighbours") { () -> ((), String) in
            let content = try ContentEmbeddings(prepared: prepared)
            _ = try ContentSimilarity(embeddings: content.vectors, k: contentNeighbours, kernels: kernels)
            return ((), "top-\(contentNeighbours) cosine of \(content.vectors.rows) movies × \(content.vectors.cols) dims")
        }
        try timed("LSTM epoch") { () -> ((), String) in
            var c = sequenceMode == .last ? SequenceRecommender.Configuration.reference : SequenceRecommender.Configuration()
            c.epochs = 1
            c.seed = seed
            let histories = UserHistories(prepared.ratings, users: als.users, items: als.items).histories
            let (examples, _) = SequenceRecommender.trainingSet(histories, configuration: c)
            var model = try SequenceRecommender(untrained: c, items: als.items.count, kernels: kernels)
            try model.fit(examples, kernels: kernels)
            return ((), "\(examples.count) sequences (\(c.examplesLabel), batch \(c.batchSize)), \(examples.targetCount) targets, \(als.items.count)-way softmax")
        }
        try timed("export") { () -> ((), String) in
            let report = try BatchExport(count: exportCount).write(als, to: scratch.appendingPathComponent("bench-export-\(kernels.backend.rawValue).csv"),
                                                                    kernels: kernels)
            return ((), "top-\(exportCount) for \(report.users) users, \(String(format: "%.0f", Double(report.users) / max(report.seconds, 1e-9))) users/s")
        }
        return steps
    }
}
