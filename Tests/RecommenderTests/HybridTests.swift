import Foundation
import LinearAlgebra
import MovieLens
import Testing
@testable import Recommender

@Suite("Hybrid recommender")
struct HybridTests {
    @Test("the blend min-max scales each part over the candidates and weights them")
    func blend() {
        var content: [Float] = [0, -.infinity, 0.5, 1.0]
        var cf: [Float] = [5, 100, 1, 3]
        var out = [Float](repeating: 0, count: 4)
        HybridBlend(contentWeight: 0.8, collaborativeWeight: 0.2).blend(content: &content, collaborative: &cf, into: &out, count: 4)
        // Content over candidates {0, 2, 3}: 0…1 → 0, 0.5, 1; CF over the same: 1…5 → 1, 0, 0.5 (100 is masked).
        #expect(content == [0, -.infinity, 0.5, 1])
        #expect(out[1] == -.infinity)
        #expect(abs(out[0] - 0.2) < 1e-6 && abs(out[2] - 0.4) < 1e-6 && abs(out[3] - 0.9) < 1e-6)
    }

    @Test("content vectors: each part unit length, then the row; movies without genome compare on genres")
    func contentEmbeddings() throws {
        let genre = try Matrix([[3, 4], [1, 0], [0, 0]])
        let tag = try Matrix([[0, 10], [0, 0], [0, 0]])
        let e = try ContentEmbeddings(ids: [1, 5, 9], genre: genre, tag: tag)
        let s = Float(0.5).squareRoot()
        #expect(e.vectors.maxAbsDifference(try Matrix([[0.6 * s, 0.8 * s, 0, s], [1, 0, 0, 0], [0, 0, 0, 0]])) < 1e-6)
        let aligned = e.aligned(to: IDMap(sortedUnique: [5, 7]))
        #expect(aligned.row(0).elementsEqual([1, 0, 0, 0]) && aligned.row(1).allSatisfy { $0 == 0 })
    }

    /// Users 0–19 like action movies 0–9, users 20–39 like comedies 10–19; content = the genre.
    static func twoTastes() throws -> (Ratings, [Movie], ContentEmbeddings) {
        var users = [Int32](), items = [Int32]()
        for u in 0..<40 {
            let base = u < 20 ? 0 : 10
            for i in 0..<10 where i != u % 10 { users.append(Int32(u + 1)); items.append(Int32(base + i + 1)) }
        }
        let ratings = Ratings(userIDs: users, movieIDs: items, values: [Float](repeating: 5, count: users.count),
                              timestamps: users.indices.map(Int64.init))
        let movies = (1...20).map { Movie(id: Int32($0), title: "m\($0)", genres: [$0 <= 10 ? "Action" : "Comedy"]) }
        var genre = Matrix(rows: 20, cols: 2)
        for i in 0..<20 { genre[i, i < 10 ? 0 : 1] = 1 }
        let content = try ContentEmbeddings(ids: (1...20).map(Int32.init), genre: genre, tag: Matrix(rows: 20, cols: 0))
        return (ratings, movies, content)
    }

    @Test("hybrid recommends from the user's taste, explains itself, and honours --movie and seen items")
    func hybridQueries() throws {
        let (ratings, movies, content) = try Self.twoTastes()
        var options = TrainedModel.Options()
        options.hybridFusion = .minmax   // the original design: min–max parts in [0, 1]
        options.factors = 4
        options.iterations = 6
        for kernels in allKernels {
            let model = try TrainedModel.train(HybridRecommender.self, ratings: ratings, movies: movies, content: content, options: options, kernels: kernels)
            // User 1 misses action movie 1 (index 0): it must come first, with full content score.
            let top = try model.recommend(user: 1, k: 3)
            #expect(top.first?.movieID == 1, "\(kernels.backend): \(top)")
            #expect(top.first?.content == 1)
            #expect(top.allSatisfy { ($0.score >= 0 && $0.score <= 1) && $0.becauseOf != nil })
            let seen = Set(ratings.movieIDs.indices.filter { ratings.userIDs[$0] == 1 }.map { ratings.movieIDs[$0] })
            #expect(top.allSatisfy { !seen.contains($0.movieID) })
            // After watching comedy 15, the content part points at comedies.
            let afterComedy = try model.recommend(user: 1, k: 5, movie: 15)
            #expect(afterComedy.filter { $0.movieID > 10 }.count >= 4 && afterComedy.allSatisfy { $0.becauseOf == 15 && $0.movieID != 15 })
            // With seen movies allowed, they come back.
            #expect(try model.recommend(user: 1, k: 10, includeSeen: true).contains { seen.contains($0.movieID) })
            #expect(throws: RecommenderError.self) { _ = try model.recommend(user: 1, k: 3, movie: 999) }
        }
    }

    @Test("fold-in of a training user reproduces their fitted factors; a new user gets their taste")
    func foldIn() throws {
        let (ratings, movies, content) = try Self.twoTastes()
        var options = TrainedModel.Options()
        options.hybridFusion = .learned
        options.hybridCollaborative = .als
        options.factors = 4
        options.iterations = 8
        let model = try TrainedModel.train(HybridRecommender.self, ratings: ratings, movies: movies, content: content, options: options, kernels: allKernels[0])
        guard case .als(let als) = try #require(model.model as? HybridRecommender).collaborative else {
            Issue.record("--cf als trained another model")
            return
        }
        // The last half-iteration solved the items, so a user's fold-in is one exact user step away.
        let u = try #require(model.users.index(of: 3))
        let given = model.seen.range(ofRow: u).map { (item: Int(model.seen.columns[$0]), value: model.seen.values[$0]) }
        let x = try ImplicitALS.foldIn(given, itemFactors: als.itemFactors, regularization: 0.05, alpha: 1, kernels: allKernels[0])
        let fitted = Array(als.userFactors.row(u))
        let diff = zip(x, fitted).map { abs($0 - $1) }.max() ?? 1
        let scale = fitted.map(abs).max() ?? 1
        #expect(diff < 0.05 * scale, "fold-in \(x) vs fitted \(fitted)")
        // A new user who loves three comedies gets comedies.
        let newUser = try model.query(ratings: [(11, 5), (12, 4.5), (13, 5)])
        let top = try model.recommend(newUser, count: 5)
        #expect(top.allSatisfy { $0.movieID > 10 && ![11, 12, 13].contains($0.movieID) }, "\(top)")
        #expect(throws: RecommenderError.self) { _ = try model.query(ratings: [(77, 5)]) }
    }
}

/// Scores every item by a fixed table: `scores[item]` for every query.
private struct FixedScores: RecommenderModel {
    static let name = "fixed"
    var scores: [Float]
    static func fit(_ data: TrainingSet, options: TrainedModel.Options, kernels: any Kernels,
                    progress: (TrainingEvent) -> Void) throws -> FixedScores { FixedScores(scores: []) }
    static func decode(from archive: ModelArchive) throws -> FixedScores { FixedScores(scores: []) }
    func encode(into archive: inout ModelArchive) throws {}
    func score(_ block: ScoringBlock, into scores: MutableMatrixView, parts: ScoreParts?, kernels: any Kernels) throws {
        for r in 0..<block.queries.count { (scores.base + r * scores.stride).update(from: self.scores, count: self.scores.count) }
    }
}

@Suite("Learned hybrid fusion")
struct LearnedFusionTests {
    @Test("z-scores over the candidates only; equal scores give 0; the fusion weighs by σ(a + b·ln n)")
    func zScores() {
        var x: [Float] = [1, 2, 3, -.infinity, 100]
        let mask: [Float] = [0, 0, 0, -.infinity, -.infinity]
        LearnedFusion.zScore(&x, 5, mask: mask)
        let s = Float(2.0 / 3.0).squareRoot()
        #expect(abs(x[0] + 1 / s) < 1e-5 && x[1] == 0 && abs(x[2] - 1 / s) < 1e-5 && x[3] == -.infinity && x[4] == 100)
        var flat: [Float] = [4, 4, 4]
        LearnedFusion.zScore(&flat, 3, mask: flat)
        #expect(flat == [0, 0, 0])
        let fusion = LearnedFusion(a: 1, b: 0.5, collaborative: "ease")
        #expect(abs(fusion.cfWeight(ratings: 1) - 1 / (1 + exp(-1))) < 1e-6)
        #expect(abs(fusion.cfWeight(ratings: 100) - 1 / (1 + exp(-(1 + 0.5 * Float(log(100.0)))))) < 1e-6)
        var c: [Float] = [0, 1, -.infinity], f: [Float] = [10, 0, 5], out = [Float](repeating: 0, count: 3)
        fusion.fuse(content: &c, collaborative: &f, into: &out, count: 3, ratings: 1)
        let w = fusion.cfWeight(ratings: 1)
        #expect(abs(out[0] - (w * 1 + (1 - w) * -1)) < 1e-5 && abs(out[1] - (w * -1 + (1 - w) * 1)) < 1e-5 && out[2] == -.infinity)
    }

    /// 40 items in two content clusters (0–19, 20–39); 30 users who rated items 0–4 and hold out items 5–9.
    private func plantedUsers() -> (ContentRecommender, [LearnedFusion.ValidationUser]) {
        var vectors = Matrix(rows: 40, cols: 2)
        for i in 0..<40 { vectors[i, i < 20 ? 0 : 1] = 1 }
        let users = (0..<30).map { u in
            LearnedFusion.ValidationUser(query: TrainedModel.Query(user: u, ratings: (0..<5).map { (item: $0, rating: 5) }, minRating: 4),
                                         relevant: Set(5..<10))
        }
        return (ContentRecommender(vectors: vectors), users)
    }

    @Test("where CF is right and content is noise the weight goes to CF, and the right model is chosen")
    func cfRight() throws {
        let (_, users) = plantedUsers()
        var g = SeededGenerator(seed: 3)
        let noise = ContentRecommender(vectors: try Matrix(rows: 40, cols: 3, elements: (0..<120).map { _ in Float(g.nextGaussian()) }))
        let right = FixedScores(scores: (0..<40).map { (5..<10).contains($0) ? 1 : Float($0) / 1000 })
        let wrong = FixedScores(scores: (0..<40).map { Float($0) })   // 39, 38, … first: no hit
        let fusion = try LearnedFusion.fit(content: noise, candidates: [.init(name: "als", regularization: nil, sideWeight: nil, model: wrong), .init(name: "ease", regularization: 100, sideWeight: nil, model: right)], validation: users,
                                           items: 40, kernels: SwiftKernels(threads: 1))
        #expect(fusion.collaborative == "ease" && fusion.collaborativeRegularization == 100)
        #expect(fusion.cfWeight(ratings: 5) > 0.5 && abs(fusion.validationNDCG - 1) < 1e-9 && abs(fusion.validationCF - 1) < 1e-9, "\(fusion)")
        #expect(fusion.validationUsers == 30)
    }

    @Test("where content is right and CF is noise the weight goes to content")
    func contentRight() throws {
        let (content, users) = plantedUsers()
        // Content ranks cluster 0–19 first (ties by index: 5–9 then 10–19), so NDCG@10 is 1 for it alone.
        let noise = FixedScores(scores: (0..<40).map { Float(($0 * 17) % 40) })
        let fusion = try LearnedFusion.fit(content: content, candidates: [.init(name: "als", regularization: nil, sideWeight: nil, model: noise)], validation: users, items: 40,
                                           kernels: SwiftKernels(threads: 1))
        #expect(fusion.cfWeight(ratings: 5) < 0.1 && fusion.validationContent > fusion.validationCF, "\(fusion)")
    }

    @Test("the learned hybrid trains, stores its fusion and reads it back; --fusion minmax is the original design")
    func learnedModelFile() throws {
        let (ratings, movies, content) = try HybridTests.twoTastes()
        var options = TrainedModel.Options()
        options.factors = 4
        options.iterations = 4
        let kernels = SwiftKernels(threads: 1)
        let model = try TrainedModel.train(HybridRecommender.self, ratings: ratings, movies: movies, content: content, options: options, kernels: kernels)
        let hybrid = try #require(model.model as? HybridRecommender)
        #expect(hybrid.fusion != nil && model.model.label.hasPrefix("hybrid (learned: "))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("hybrid-\(UUID().uuidString).model")
        defer { try? FileManager.default.removeItem(at: file) }
        try model.save(to: file)
        let loaded = try TrainedModel.load(from: file)
        #expect((loaded.model as? HybridRecommender)?.fusion == hybrid.fusion)
        #expect(try loaded.recommend(user: 1, k: 5).map(\.movieID) == (try model.recommend(user: 1, k: 5).map(\.movieID)))
        options.hybridFusion = .minmax
        let original = try TrainedModel.train(HybridRecommender.self, ratings: ratings, movies: movies, content: content, options: options, kernels: kernels)
        #expect(original.model.label == "hybrid (0.8 content / 0.2 CF, min–max: the original design)")
        #expect((original.model as? HybridRecommender)?.fusion == nil)
    }
}
