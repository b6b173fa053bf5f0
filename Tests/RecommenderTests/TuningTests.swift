import Foundation
import LinearAlgebra
import MovieLens
import Synchronization
import Testing
@testable import Recommender

/// Every rating a ``PlantedLambda`` was fitted on, as (user, movie) pairs.
let plantedFits = Mutex<[[Int64]]>([])

/// A model that ranks well only at λ = 7: most-popular first then, least-popular first otherwise.
struct PlantedLambda: RecommenderModel {
    static let name = "planted"
    var scores: [Float]

    static func fit(_ data: TrainingSet, options: TrainedModel.Options, kernels: any Kernels,
                    progress: (TrainingEvent) -> Void) throws -> PlantedLambda {
        let pairs = (0..<data.ratings.count).map { Int64(data.ratings.userIDs[$0]) << 32 | Int64(data.ratings.movieIDs[$0]) }
        plantedFits.withLock { $0.append(pairs) }
        var counts = [Float](repeating: 0, count: data.items.count)
        for c in data.positives.columns { counts[Int(c)] += 1 }
        return PlantedLambda(scores: options.regularization == 7 ? counts : counts.map { -$0 })
    }

    static func decode(from archive: ModelArchive) throws -> PlantedLambda {
        PlantedLambda(scores: try archive.floats("planted.scores", count: archive.items))
    }

    func encode(into archive: inout ModelArchive) throws { archive.set("planted.scores", floats: scores) }

    func score(_ block: ScoringBlock, into out: MutableMatrixView, parts: ScoreParts?, kernels: any Kernels) throws {
        for r in 0..<block.queries.count { (out.base + r * out.stride).update(from: scores, count: scores.count) }
    }
}

@Suite("Tuning")
struct TuningTests {
    @Test("tune finds a planted best λ, trains only on the training ratings given, and the grid and sample are seeded")
    func plantedLambda() throws {
        let (ratings, _) = try Ratings.load(bundledData.appendingPathComponent("ratings.csv"), format: .groupLens)
        let slice = ratings.subset((0..<ratings.count).filter { ratings.userIDs[$0] <= 80 })
        let outer = RatingSplit.temporal(slice)
        var tuner = Tuner(model: PlantedLambda.name)
        tuner.registry = ModelRegistry.standard.adding(PlantedLambda.self)
        tuner.space = [.init(.regularization, [1, 3, 7, 20])]
        plantedFits.withLock { $0.removeAll() }
        let result = try tuner.run(train: outer.train, movies: [], kernels: allKernels[0])
        #expect(result.best == ["regularization": 7])
        #expect(result.trials.count == 4 && result.trials[0].value > result.trials[1].value)
        // Every fit saw only rows of the train part handed in (the validation carve of it), never a test row.
        let train = Set((0..<outer.train.count).map { Int64(outer.train.userIDs[$0]) << 32 | Int64(outer.train.movieIDs[$0]) })
        let test = Set((0..<outer.test.count).map { Int64(outer.test.userIDs[$0]) << 32 | Int64(outer.test.movieIDs[$0]) })
        let fits = plantedFits.withLock { $0 }
        #expect(fits.count == 4)
        for pairs in fits {
            #expect(pairs.count < outer.train.count && pairs.allSatisfy { train.contains($0) && !test.contains($0) })
        }
        // A budget smaller than the grid samples distinct points, the same for the same seed.
        var sampled = Tuner(model: ImplicitALS.name)
        sampled.budget = 5
        #expect(sampled.grid.count == 75 && sampled.settings.count == 5 && Set(sampled.settings).count == 5)
        #expect(sampled.settings == sampled.settings)
        var other = sampled
        other.seed = 1
        #expect(other.settings != sampled.settings)
    }

    @Test("parameters files: unknown names and fractional whole numbers are refused; content has nothing to tune")
    func parameters() throws {
        let o = try HyperParameter.apply(["factors": 32, "alpha": 2, "learning-rate": 0.01], to: TrainedModel.Options())
        #expect(o.factors == 32 && o.alpha == 2 && o.sequence.learningRate == 0.01)
        #expect(throws: RecommenderError.self) { _ = try HyperParameter.apply(["lambda": 1], to: TrainedModel.Options()) }
        #expect(throws: RecommenderError.self) { _ = try HyperParameter.apply(["factors": 2.5], to: TrainedModel.Options()) }
        #expect(throws: RecommenderError.self) { _ = try HyperParameter.apply(["alpha": .infinity], to: TrainedModel.Options()) }
        #expect(throws: RecommenderError.self) { try Tuner(model: ContentRecommender.name).validate() }
        var bad = Tuner(model: ImplicitALS.name)
        bad.space = [.init(.regularization, [-1])]
        #expect(throws: RecommenderError.self) { try bad.validate() }
    }
}
