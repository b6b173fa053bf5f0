import Foundation
import LinearAlgebra
import MovieLens
import Testing
@testable import Recommender

/// A model that ranks items by a fixed score (higher index, higher score) with content vectors:
/// for filters and diversity without training noise.
struct IndexScores: RecommenderModel {
    static let name = "index-scores"
    var vectors: Matrix
    static func fit(_ data: TrainingSet, options: TrainedModel.Options, kernels: any Kernels,
                    progress: (TrainingEvent) -> Void) throws -> IndexScores {
        IndexScores(vectors: data.content ?? Matrix(rows: data.items.count, cols: 1))
    }
    static var needsContent: Bool { true }
    static func decode(from archive: ModelArchive) throws -> IndexScores { IndexScores(vectors: try archive.matrix("content", rows: archive.items)) }
    func encode(into archive: inout ModelArchive) throws { archive.set("content", matrix: vectors) }
    func score(_ block: ScoringBlock, into scores: MutableMatrixView, parts: ScoreParts?, kernels: any Kernels) throws {
        for r in 0..<block.queries.count { for i in 0..<scores.cols { scores.base[r * scores.stride + i] = Float(i) } }
    }
    var itemVectors: Matrix? { vectors }
}

@Suite("Filters, diversity, cold items, content inside CF, explanations")
struct HybridFeatureTests {
    /// 30 movies with years 1980–2009 in their titles and genres cycling Action / Comedy / Drama
    /// (every fifth also Horror); content = the genre one-hot; user 1 rated movies 1–3.
    static func catalogue() throws -> (TrainedModel, [Movie]) {
        let genres = ["Action", "Comedy", "Drama"]
        let movies = (1...30).map { i in
            Movie(id: Int32(i), title: "Movie \(i) (\(1979 + i))", genres: [genres[i % 3]] + (i % 5 == 0 ? ["Horror"] : []))
        }
        var g = Matrix(rows: 30, cols: 4)
        for (r, m) in movies.enumerated() {
            for (c, name) in (genres + ["Horror"]).enumerated() where m.genres.contains(name) { g[r, c] = 1 }
        }
        let content = try ContentEmbeddings(ids: (1...30).map(Int32.init), genre: g, tag: Matrix(rows: 30, cols: 0))
        let ratings = Ratings(userIDs: [1, 1, 1, 2], movieIDs: [1, 2, 3, 4], values: [5, 4, 5, 5], timestamps: [1, 2, 3, 4])
        let model = try TrainedModel.train(IndexScores.self, ratings: ratings, movies: movies, content: content, kernels: allKernels[0])
        return (model, movies)
    }

    @Test("every filter, alone and combined, equals a brute-force filter then sort; k results whenever k pass")
    func filters() throws {
        let (model, movies) = try Self.catalogue()
        let byID = Dictionary(uniqueKeysWithValues: movies.map { ($0.id, $0) })
        var cases = [(ItemFilter, (Movie) -> Bool)]()
        var f = ItemFilter(); f.genres = ["comedy"]
        cases.append((f, { $0.genres.contains("Comedy") }))
        f = ItemFilter(); f.excludedGenres = ["Horror", "Drama"]
        cases.append((f, { !$0.genres.contains("Horror") && !$0.genres.contains("Drama") }))
        f = ItemFilter(); f.years = 1990...1999
        cases.append((f, { (1990...1999).contains($0.year ?? 0) }))
        f = ItemFilter(); f.excluded = [30, 29, 27]
        cases.append((f, { ![30, 29, 27].contains($0.id) }))
        f = ItemFilter(); f.only = [5, 6, 7, 8, 9, 1]
        cases.append((f, { [5, 6, 7, 8, 9, 1].contains($0.id) }))
        f = ItemFilter(); f.genres = ["Action", "Drama"]; f.excludedGenres = ["Horror"]; f.years = 1985...2004; f.excluded = [24]; f.only = Array(10...28).map(Int32.init)
        cases.append((f, { m in (m.genres.contains("Action") || m.genres.contains("Drama")) && !m.genres.contains("Horror")
            && (1985...2004).contains(m.year ?? 0) && m.id != 24 && (10...28).contains(Int(m.id)) }))
        let seen: Set<Int32> = [1, 2, 3]
        for (filter, keep) in cases {
            for k in [1, 4, 30] {
                let expected = movies.filter { keep($0) && !seen.contains($0.id) }.sorted { $0.id > $1.id }.prefix(k).map(\.id)
                let got = try model.recommend(user: 1, k: k, filter: filter).map(\.movieID)
                #expect(got == Array(expected), "\(filter) k \(k)")
                #expect(got.allSatisfy { keep(byID[$0]!) })
            }
            // The batch export applies the same filter before each user's top K.
            let dir = try temporaryFolder()
            defer { try? FileManager.default.removeItem(at: dir) }
            let csv = dir.appendingPathComponent("f.csv")
            try BatchExport(count: 4, filter: filter).write(model, to: csv, kernels: allKernels[0])
            #expect(try BatchExportTests.parse(csv).filter { $0.user == 1 }.map(\.movie) == (try model.recommend(user: 1, k: 4, filter: filter).map(\.movieID)))
        }
    }

    @Test("bad filter values name the value: unknown genre or movie, reversed years, garbage in an id file")
    func badFilters() throws {
        let (model, _) = try Self.catalogue()
        var f = ItemFilter(); f.genres = ["Westerns"]
        #expect { _ = try model.recommend(user: 1, k: 3, filter: f) } throws: { "\($0)".contains("unknown genre 'Westerns'") && "\($0)".contains("Comedy") }
        f = ItemFilter(); f.excluded = [99]
        #expect(throws: RecommenderError.self) { _ = try model.recommend(user: 1, k: 3, filter: f) }
        #expect { _ = try ItemFilter.parseYears("2000-1990") } throws: { "\($0)".contains("2000-1990") }
        #expect { _ = try ItemFilter.parseYears("19x0") } throws: { "\($0)".contains("19x0") }
        #expect(try ItemFilter.parseYears("1990-") == 1990...9999)
        #expect(try ItemFilter.parseYears("-1999") == 0...1999)
        #expect(try ItemFilter.parseYears("1995") == 1995...1995)
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("ids.txt")
        try "movieId\n1, 2\n# comment\n3 4 # trailing\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(try ItemFilter.parseIDs("@" + file.path, option: "--only") == [1, 2, 3, 4])
        try "1\n2,x7\n".write(to: file, atomically: true, encoding: .utf8)
        #expect { _ = try ItemFilter.parseIDs("@" + file.path, option: "--only") } throws: { "\($0)".contains("\(file.path):2:3") && "\($0)".contains("'x7'") }
        #expect { _ = try ItemFilter.parseIDs("1,b", option: "--exclude") } throws: { "\($0)".contains("'b'") }
    }

    @Test("MMR at λ = 0 is the plain ranking; λ > 0 trades score for unlike content")
    func mmr() throws {
        let (model, _) = try Self.catalogue()
        for k in [1, 5, 12] {
            #expect(try model.recommend(user: 1, k: k, diversity: 0).map(\.movieID) == (try model.recommend(user: 1, k: k).map(\.movieID)))
            let reranker = try DiversityReranker(lambda: 0, vectors: try #require(model.model.itemVectors))
            let scores = (0..<30).map { Float($0 * $0 % 17) }
            let plain = scores.withUnsafeBufferPointer { TopK.select($0, k: k) }.map(\.index)
            #expect(scores.withUnsafeBufferPointer { reranker.rerank($0, count: k) }.map(\.index) == plain)
        }
        // Scores rise with the index: the first pick is always the best movie, 30 (Action, Horror).
        let diverse = try model.recommend(user: 2, k: 3, diversity: 0.9).map(\.movieID)
        #expect(diverse == [30, 29, 28])
        let vectors = try #require(model.model.itemVectors)
        let reranker = try DiversityReranker(lambda: 0.9, vectors: vectors)
        // Pool: movie 30 (Action, Horror), 27 (Action, nearly as good), 26 (Drama, far worse). After
        // 30, 27 (cosine 0.71 to it) loses to 26 (cosine 0) at λ 0.9, and wins at λ 0.
        #expect(try DiversityReranker(lambda: 0, vectors: vectors).rerank(pool: [(29, 3), (26, 2.9), (25, 1)], count: 2).map(\.index) == [29, 26])
        let pool = [(index: 29, value: Float(3)), (index: 26, value: 2.9), (index: 25, value: 1)]
        #expect(reranker.rerank(pool: pool, count: 2).map(\.index) == [29, 25])
        #expect(throws: RecommenderError.self) { _ = try DiversityReranker(lambda: 1.5, vectors: vectors) }
    }

    @Test("side-information EASE is plain EASE at zero weight, and gives a movie without ratings weights from its content")
    func sideInformationEASE() throws {
        let users: [Int32] = [0, 0, 1, 1, 1, 2, 2, 3]
        let items: [Int32] = [0, 1, 1, 2, 3, 0, 3, 2]
        let x = SparseMatrix(rows: 4, cols: 5, rowIndices: users, colIndices: items, values: [Float](repeating: 1, count: 8))
        let c = try Matrix([[1, 0], [0, 1], [1, 0], [0, 1], [1, 0]])   // movie 4 has no ratings, content like 0 and 2
        for kernels in allKernels {
            var plain = EASE(regularization: 2), zero = EASE(regularization: 2), side = EASE(regularization: 2)
            try plain.fit(x, kernels: kernels)
            try zero.fit(x, side: (c, 0), kernels: kernels)
            try side.fit(x, side: (c, 3), kernels: kernels)
            #expect(plain.weights.maxAbsDifference(zero.weights) == 0)
            #expect((0..<5).allSatisfy { plain.weights[$0, 4] == 0 })
            #expect(side.weights[0, 4] > 0 && side.weights[2, 4] > 0)
            #expect(side.weights[0, 4] > side.weights[1, 4])
        }
    }

    @Test("content-predicted factors of a movie without ratings land near its true factors on low-rank data")
    func contentToFactors() throws {
        var g = SeededGenerator(seed: 3)
        let n = 200, d = 6, k = 4
        let c = Matrix.gaussian(rows: n, cols: d, using: &g)
        let w = Matrix.gaussian(rows: d, cols: k, using: &g)
        var truth = Matrix(rows: n, cols: k)
        for i in 0..<n { for j in 0..<k { truth[i, j] = (0..<d).reduce(0) { $0 + c[i, $1] * w[$1, j] } } }
        var factors = truth
        for j in 0..<k { factors[7, j] = 0; factors[8, j] = 0 }   // movies 7 and 8: no ratings
        var counts = [Int](repeating: 50, count: n)
        counts[7] = 0; counts[8] = 0; counts[9] = 4
        for kernels in allKernels {
            var f = factors
            var model = ContentToFactors()
            model.ridge = 1e-3
            let report = try model.apply(to: &f, content: c, counts: counts, kernels: kernels)
            #expect(report == .init(fitted: n - 3, predicted: 3))
            for i in [7, 8, 9] { for j in 0..<k { #expect(abs(f[i, j] - truth[i, j]) < 1e-2, "\(kernels.backend) [\(i)][\(j)]") } }
            #expect(f[10, 0] == truth[10, 0])
        }
    }

    @Test("the cold-items split keeps every held-out movie out of training; AUC counts ties as halves")
    func coldItems() throws {
        var g = SeededGenerator(seed: 8)
        let ratings = Ratings(userIDs: (0..<500).map { _ in Int32(g.next() % 40) }, movieIDs: (0..<500).map { _ in Int32(g.next() % 50) },
                              values: (0..<500).map { _ in Float(g.next() % 5 + 1) }, timestamps: (0..<500).map(Int64.init))
        let (split, held) = RatingSplit.coldItems(ratings, seed: 4)
        let distinct = Set(ratings.movieIDs)
        #expect(held.count == Int((Double(distinct.count) * 0.2).rounded()))
        #expect(Set(split.train.movieIDs).isDisjoint(with: held))
        #expect(Set(split.test.movieIDs).isSubset(of: Set(held)))
        #expect(split.train.count + split.test.count == ratings.count)
        #expect(RatingSplit.coldItems(ratings, seed: 4).held == held && RatingSplit.coldItems(ratings, seed: 5).held != held)
        // Relevant {0, 2} among 5: 0 beats 1, 3 and ties 4; 2 beats all three → (2.5 + 3) / 6.
        #expect(abs(ColdItemEvaluation.auc([3, 1, 5, 0, 3], relevant: [0, 2]) - 5.5 / 6) < 1e-12)
        #expect(ColdItemEvaluation.auc([1, 1, 1], relevant: [1]) == 0.5)
    }

    @Test("the hybrid ranks movies nobody has rated, and says which part carried each recommendation and why")
    func coldHybridAndExplanations() throws {
        let (ratings, movies, content) = try HybridTests.twoTastes()
        // Movie 21 is an action movie in movies.csv and the content, but nobody has rated it.
        let extraMovies = movies + [Movie(id: 21, title: "m21", genres: ["Action"])]
        var genre = Matrix(rows: 21, cols: 2)
        for i in 0..<21 { genre[i, i < 10 || i == 20 ? 0 : 1] = 1 }
        let extra = try ContentEmbeddings(ids: (1...21).map(Int32.init), genre: genre, tag: Matrix(rows: 21, cols: 0))
        _ = content
        var options = TrainedModel.Options()
        options.factors = 4
        options.iterations = 6
        options.hybridCollaborative = .als
        let model = try TrainedModel.train(HybridRecommender.self, ratings: ratings, movies: extraMovies, content: extra,
                                           options: options, kernels: allKernels[0])
        #expect(model.items.index(of: 21) != nil)
        let top = try model.recommend(user: 1, k: 3)
        #expect(Array(top.map(\.movieID).prefix(2)).sorted() == [1, 21], "\(top)")
        for r in top {
            let e = try #require(r.explanation)
            #expect(e.carriedBy != nil && e.collaborativeWeight != nil && e.contentWeight != nil)
            #expect(r.becauseOf != nil)
            // The user likes action movies only: an action recommendation shares that genre.
            if r.movieID == 1 || r.movieID == 21 { #expect(e.sharedGenres == ["Action"], "\(r)") }
        }
        #expect(TagScore.shared([.init(tag: "a", relevance: 0.9), .init(tag: "b", relevance: 0.5), .init(tag: "c", relevance: 0.4)],
                                [.init(tag: "c", relevance: 1), .init(tag: "b", relevance: 0.2), .init(tag: "z", relevance: 1)]) == ["c", "b"])
    }
}
