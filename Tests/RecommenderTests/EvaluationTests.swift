import Foundation
import LinearAlgebra
import MovieLens
import Testing
@testable import Recommender

@Suite("Evaluation: split and ranking metrics")
struct EvaluationTests {
    @Test("metrics against hand-computed values, including fewer relevant items than K")
    func metrics() {
        let m = RankingMetrics(ranked: [[1, 2, 3], [5, 6, 7], [4]], relevant: [[2, 9], [8], []])
        #expect(m.users == 2)   // the third user has nothing relevant
        #expect(abs(m.recallAt10 - 0.25) < 1e-12)                 // (1/2 + 0) / 2
        let ndcgFirst = (1 / log2(3.0)) / (1 / log2(2.0) + 1 / log2(3.0))
        #expect(abs(m.ndcgAt10 - ndcgFirst / 2) < 1e-12)
        #expect(abs(m.precisionAt10 - 0.05) < 1e-12 && abs(m.hitRateAt10 - 0.5) < 1e-12 && abs(m.mrr - 0.25) < 1e-12)
        // One relevant item at rank 1: NDCG 1 whatever the list length.
        #expect(RankingMetrics(ranked: [[3, 1]], relevant: [[3]]).ndcgAt10 == 1)
    }

    @Test("MRR over the full ranking: a first hit past the top 20 still counts, ties go to the lower index")
    func fullRankingMRR() {
        // 30 items scored 30, 29, …, 1; the relevant item 24 is ranked 25th; items 1 and 3 are seen (−∞).
        var scores = (0..<30).map { Float(30 - $0) }
        scores[1] = -.infinity
        scores[3] = -.infinity
        let rank = scores.withUnsafeBufferPointer { RankingEvaluation.firstHitRank($0, relevant: [24, 27]) }
        #expect(rank == 23)   // 25th by score, minus the two seen items ranked above it
        let tied: [Float] = [1, 5, 5, 5]
        #expect(tied.withUnsafeBufferPointer { RankingEvaluation.firstHitRank($0, relevant: [3]) } == 3)   // after 1 and 2
        #expect(tied.withUnsafeBufferPointer { RankingEvaluation.firstHitRank($0, relevant: [2, 3]) } == 2)
        #expect(scores.withUnsafeBufferPointer { RankingEvaluation.firstHitRank($0, relevant: [1, 3]) } == nil)
        // The list's top 20 misses, yet MRR takes 1/23 from the full ranking; without ranks it is 0.
        let list = Array(0..<20)
        #expect(RankingMetrics(ranked: [list], relevant: [[24]], firstHitRanks: [23]).mrr == 1.0 / 23)
        #expect(RankingMetrics(ranked: [list], relevant: [[24]]).mrr == 0)
        #expect(RankingMetrics(ranked: [list], relevant: [[24]], firstHitRanks: [nil]).mrr == 0)
    }

    @Test("intervals: zero width over identical users; paired tests: p = 1 against itself, scipy's figures by hand")
    func confidence() {
        let same = RankingMetrics(ranked: [[1, 2], [1, 2], [1, 2]], relevant: [[1], [1], [1]])
        #expect(same.intervals["ndcgAt10"] == MeanInterval(mean: 1, low: 1, high: 1))
        let varied = RankingMetrics(ranked: [[1, 2], [2, 1], [3, 4], [1, 5]], relevant: [[1], [1], [1], [1]])
        let hr = varied.intervals["hitRateAt10"]
        // Hit rates 1, 1, 0, 1: mean 0.75, s = 0.5, half-width 1.96 · 0.5 / 2.
        #expect(hr.map { abs($0.mean - 0.75) < 1e-12 && abs($0.halfWidth - 1.959963984540054 * 0.25) < 1e-12 } == true)
        for (_, test) in varied.pairedTests(against: varied) {
            #expect(test.p == 1 && test.t == 0 && test.difference.halfWidth == 0)
        }
        #expect(varied.pairedTests(against: same).isEmpty)   // different users: no pairing
        // scipy.stats.ttest_1samp(range(1, 11), 0): t = 5.744562646538029, p = 0.0002781960110481857.
        let t = PairedTest((1...10).map(Double.init), [Double](repeating: 0, count: 10))
        #expect(abs(t.t - 5.744562646538029) < 1e-12 && abs(t.p - 0.0002781960110481857) < 1e-12)
        // ttest_1samp([0.5, -0.2, 0.1, 0.3, -0.1], 0): t = 0.9370425713316364, p = 0.40178766311618075.
        let small = PairedTest([0.5, -0.2, 0.1, 0.3, -0.1], [0, 0, 0, 0, 0])
        #expect(abs(small.t - 0.9370425713316364) < 1e-12 && abs(small.p - 0.40178766311618075) < 1e-10)
    }

    /// `ratings` as a file: GroupLens CSV with header (rows reversed), u.data tabs or `::` .dat rows.
    static func write(_ r: Ratings, to url: URL, style: String) throws {
        var text = style == "csv" ? "userId,movieId,rating,timestamp\n" : ""
        for i in (0..<r.count).reversed() {
            let fields = ["\(r.userIDs[i])", "\(r.movieIDs[i])", style == "tab" ? "\(Int(r.values[i].rounded(.up)))" : "\(r.values[i])", "\(r.timestamps[i])"]
            text += fields.joined(separator: style == "csv" ? "," : style == "tab" ? "\t" : "::") + "\n"
        }
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    @Test("a given split written to disk (any format, rows reordered) scores exactly as the built-in split; unknown test rows are counted")
    func givenSplit() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        // The first 60 users of the bundled data, with movies beside them.
        let (all, _) = try Ratings.load(bundledData.appendingPathComponent("ratings.csv"), format: .groupLens)
        let ratings = all.subset((0..<all.count).filter { all.userIDs[$0] <= 60 })
        let split = RatingSplit.temporal(ratings)
        try FileManager.default.copyItem(at: bundledData.appendingPathComponent("movies.csv"), to: dir.appendingPathComponent("movies.csv"))
        try Self.write(split.train, to: dir.appendingPathComponent("train.csv"), style: "csv")
        try Self.write(split.test, to: dir.appendingPathComponent("test.dat"), style: "dat")
        var suite = EvaluationSuite()
        // EASE when OpenBLAS inverts its Gram matrix; the debug build's pure-Swift inverse would be slow.
        #if OpenBLAS
        suite.models = [EvaluationSuite.popularity, EASE.name]
        #else
        suite.models = [EvaluationSuite.popularity, ImplicitALS.name]
        suite.options.factors = 8
        suite.options.iterations = 2
        #endif
        suite.ratingPrediction = false
        let kernels = allKernels[0]
        let builtIn = try suite.run(on: TrainingData(ratings: ratings, movies: try Movie.load(bundledData.appendingPathComponent("movies.csv"),
                                                                                            format: .groupLens).0,
                                                     content: nil, prepared: false), kernels: kernels)
        let (data, given) = try TrainingData.load(train: dir.appendingPathComponent("train.csv"), test: dir.appendingPathComponent("test.dat"),
                                                  movies: nil, content: false, kernels: kernels)
        #expect(given.train.count == split.train.count && given.test.count == split.test.count)
        let report = try suite.run(on: data, given: given, kernels: kernels)
        #expect(report.split == "given" && report.ranking.count == 2)
        for (a, b) in zip(report.ranking, builtIn.ranking) {
            #expect(a.metrics == b.metrics, "\(a.model): \(a.metrics.ndcgAt10) vs \(b.metrics.ndcgAt10)")
        }
        #expect(report.testRowsWithUnknownMovie == builtIn.testRowsWithUnknownMovie && report.testRowsWithUnknownUser == 0)
        // A test row of a user without train ratings is counted, and that user is a miss for the trained models.
        var extra = split.test
        extra.userIDs.append(99_999); extra.movieIDs.append(split.train.movieIDs[0]); extra.values.append(5); extra.timestamps.append(0)
        let withStranger = try suite.run(on: data, given: RatingSplit(train: given.train, test: extra), kernels: kernels)
        #expect(withStranger.testRowsWithUnknownUser == 1)
        #expect(withStranger.ranking[1].metrics.users == report.ranking[1].metrics.users + 1)
        #expect(withStranger.ranking[1].metrics.perUser.last?.hitAt10 == 0)
    }

    @Test("folds partition the ratings exactly: disjoint test sets covering every rating, train = the rest; seeded")
    func foldsPartition() {
        let n = 1003
        let r = Ratings(userIDs: (0..<n).map { Int32($0 % 17) }, movieIDs: (0..<n).map { Int32($0) }, values: [Float](repeating: 4, count: n),
                        timestamps: (0..<n).map { Int64($0) })
        let folds = RatingSplit.folds(r, count: 5, seed: 3)
        #expect(folds.count == 5)
        var seen = Set<Int32>()
        for f in folds {
            let test = Set(f.test.movieIDs), train = Set(f.train.movieIDs)
            #expect(test.isDisjoint(with: seen) && test.isDisjoint(with: train) && test.count + train.count == n)
            #expect(f.test.count == 200 || f.test.count == 201)
            seen.formUnion(test)
        }
        #expect(seen.count == n)
        #expect(RatingSplit.folds(r, count: 5, seed: 3).map(\.test.movieIDs) == folds.map(\.test.movieIDs))
        #expect(RatingSplit.folds(r, count: 5, seed: 4).map(\.test.movieIDs) != folds.map(\.test.movieIDs))
    }

    @Test("ratings formats are told apart by name and by their first lines; an unknown one is a clear error")
    func formatDetection() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = Ratings(userIDs: [1, 2], movieIDs: [10, 20], values: [4, 3.5], timestamps: [100, 200])
        for (name, style, format) in [("a.csv", "csv", DatasetFiles.Format.groupLens), ("b.txt", "tab", .ml100k), ("c.txt", "dat", .dat),
                                      ("u1.base", "tab", .ml100k), ("x.dat", "dat", .dat)] {
            let url = dir.appendingPathComponent(name)
            try Self.write(r, to: url, style: style)
            #expect(try DatasetFiles.Format.detect(url) == format, "\(name)")
            let (loaded, _) = try Ratings.load(url, format: format)
            #expect(loaded.count == 2, "\(name)")
        }
        let kaggle = dir.appendingPathComponent("k.csv")
        try "userId,movieId,rating,timestamp\n1,2,3.5,2005-04-02 23:53:47\n".write(to: kaggle, atomically: true, encoding: .utf8)
        #expect(try DatasetFiles.Format.detect(kaggle) == .kaggle)
        let bare = dir.appendingPathComponent("bare.csv")
        try "1,2,3.5,100\n".write(to: bare, atomically: true, encoding: .utf8)
        #expect(throws: MovieLensError.self) { try DatasetFiles.Format.detect(bare) }
        do { _ = try DatasetFiles.Format.detect(bare) } catch { #expect("\(error)".contains("bare.csv") && "\(error)".contains("format")) }
    }

    @Test("temporal split: the last 20 % by (time, movie) of users with ≥ 5 ratings")
    func split() {
        var users = [Int32](), movies = [Int32](), times = [Int64]()
        for m in 0..<10 { users.append(1); movies.append(Int32(100 - m)); times.append(Int64(m / 2)) }   // ties in time
        for m in 0..<4 { users.append(2); movies.append(Int32(m)); times.append(Int64(m)) }
        let r = Ratings(userIDs: users, movieIDs: movies, values: [Float](repeating: 4, count: users.count), timestamps: times)
        let s = RatingSplit.temporal(r)
        #expect(s.test.count == 2 && s.train.count == 12)
        // Times 4,4 are the latest for user 1 (movies 92 and 91); both go to test.
        #expect(Set(s.test.movieIDs) == [91, 92] && s.test.userIDs.allSatisfy { $0 == 1 })
    }

    @Test("on ml-latest-small, popularity matches the peers harness and implicit ALS beats it")
    func bundled() throws {
        let (ratings, _) = try Ratings.load(bundledData.appendingPathComponent("ratings.csv"), format: .groupLens)
        let evaluation = try RankingEvaluation(split: RatingSplit.temporal(ratings))
        let pop = evaluation.popularity()
        #expect(abs(pop.recallAt10 - 0.0513) < 5e-4)   // RESULTS.md: popularity R@10 0.0513
        var model = ImplicitALS(factors: 16, regularization: 0.05, alpha: 1, iterations: 4, seed: 0)
        let als = try evaluation.implicitALS(&model, kernels: allKernels[0])
        #expect(als.recallAt10 > pop.recallAt10 && als.ndcgAt10 > pop.ndcgAt10)
    }

    @Test("on the synthetic small preset users choose by taste, as real users do: implicit ALS beats popularity")
    func synthetic() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var generator = SyntheticMovieLens(preset: .small, seed: 3)
        generator.includeGenome = false
        _ = try generator.write(to: folder)
        let (ratings, _) = try Ratings.load(folder.appendingPathComponent("ratings.csv"), format: .groupLens)
        let evaluation = try RankingEvaluation(split: RatingSplit.temporal(ratings))
        let pop = evaluation.popularity()
        var model = ImplicitALS(factors: 16, regularization: 0.05, alpha: 1, iterations: 4, seed: 0,
                                solver: .conjugateGradient(steps: 3))
        let als = try evaluation.implicitALS(&model, kernels: allKernels[0])
        // Release build, same data (`movierec evaluate --models popularity,als --factors 16 --iterations 4`):
        // popularity 0.085 / 0.129, ALS 0.110 / 0.165 (R@10 / NDCG@10).
        #expect(als.recallAt10 > pop.recallAt10 * 1.15 && als.ndcgAt10 > pop.ndcgAt10 * 1.15,
                "ALS \(als.recallAt10) / \(als.ndcgAt10), popularity \(pop.recallAt10) / \(pop.ndcgAt10)")
    }
}

@Suite("EASE")
struct EASETests {
    @Test("weights equal the closed form computed directly, zero diagonal, both backends")
    func closedForm() throws {
        let users: [Int32] = [0, 0, 1, 1, 1, 2, 2, 3]
        let items: [Int32] = [0, 1, 1, 2, 3, 0, 3, 2]
        let r = Ratings(userIDs: users, movieIDs: items, values: [Float](repeating: 5, count: 8), timestamps: [Int64](repeating: 0, count: 8))
        let x = try RatingMatrix(ratings: r).byUser
        // Reference in Double: P = (XᵀX + λI)⁻¹ by Gauss–Jordan, B = −P/diag(P), diag 0.
        let n = 4, lambda = 2.0
        var g = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for u in 0..<x.rows { for a in x.range(ofRow: u) { for b in x.range(ofRow: u) { g[Int(x.columns[a])][Int(x.columns[b])] += 1 } } }
        for i in 0..<n { g[i][i] += lambda }
        var inv = (0..<n).map { i in (0..<n).map { Double(i == $0 ? 1 : 0) } }
        for c in 0..<n {
            let pivot = g[c][c]
            for j in 0..<n { g[c][j] /= pivot; inv[c][j] /= pivot }
            for r in 0..<n where r != c {
                let f = g[r][c]
                for j in 0..<n { g[r][j] -= f * g[c][j]; inv[r][j] -= f * inv[c][j] }
            }
        }
        for kernels in allKernels {
            var model = EASE(regularization: Float(lambda))
            try model.fit(x, kernels: kernels)
            for i in 0..<n {
                for j in 0..<n {
                    let expected = i == j ? 0 : -inv[i][j] / inv[j][j]
                    #expect(abs(Double(model.weights[i, j]) - expected) < 1e-5, "\(kernels.backend) B[\(i)][\(j)]")
                }
            }
            var scores = [Float](repeating: 0, count: n)
            model.scores(positives: [0, 1], into: &scores)
            #expect(abs(scores[2] - (model.weights[0, 2] + model.weights[1, 2])) < 1e-6)
        }
    }
}

@Suite("EASE Gram matrix")
struct EASEGramTests {
    @Test("the sparse lower Gram equals brute-force co-occurrence counts on any thread count; repeats count once")
    func sparseGram() throws {
        var g = SeededGenerator(seed: 5)
        let users = 60, items = 37
        var rows = [Int32](), cols = [Int32]()
        for u in 0..<users {
            let count = Int(g.next() % 12)
            for _ in 0..<count { rows.append(Int32(u)); cols.append(Int32(g.next() % UInt64(items))) }
        }
        // A repeated (user, item) entry stays in the matrix and must still count once.
        rows.append(0); cols.append(3); rows.append(0); cols.append(3)
        let x = SparseMatrix(rows: users, cols: items, rowIndices: rows, colIndices: cols,
                             values: [Float](repeating: 1, count: rows.count))
        var expected = [[Float]](repeating: [Float](repeating: 0, count: items), count: items)
        for u in 0..<users {
            let set = Set(x.range(ofRow: u).map { Int(x.columns[$0]) })
            for i in set { for j in set where j <= i { expected[i][j] += 1 } }
        }
        for threads in [1, 2, 3] {
            var m = Matrix(rows: items, cols: items)
            m.withMutableView { EASE.gramLower(x, into: $0, threads: threads) }
            for i in 0..<items {
                for j in 0..<items {
                    #expect(m[i, j] == (j <= i ? expected[i][j] : 0), "threads \(threads) G[\(i)][\(j)]")
                }
            }
        }
    }
}

@Suite("Content similarity")
struct ContentSimilarityTests {
    @Test("cosine neighbours match brute force, skip self, both backends, blocks of any size")
    func neighbours() throws {
        var g = SeededGenerator(seed: 12)
        let e = Matrix.gaussian(rows: 57, cols: 5, using: &g)
        func cosine(_ a: Int, _ b: Int) -> Float {
            var dot: Float = 0, na: Float = 0, nb: Float = 0
            for j in 0..<5 { dot += e[a, j] * e[b, j]; na += e[a, j] * e[a, j]; nb += e[b, j] * e[b, j] }
            return dot / (na * nb).squareRoot()
        }
        for kernels in allKernels {
            let s = try ContentSimilarity(embeddings: e, k: 3, kernels: kernels, blockRows: 10)
            for i in 0..<57 {
                let expected = (0..<57).filter { $0 != i }.sorted { cosine(i, $0) > cosine(i, $1) }.prefix(3)
                #expect(s.neighbors[i * 3..<(i + 1) * 3].map(Int.init) == Array(expected), "\(kernels.backend) movie \(i)")
                #expect(abs(s.similarities[i * 3] - cosine(i, expected.first ?? 0)) < 1e-5)
            }
        }
    }
}

@Suite("Model files")
struct ModelFileTests {
    @Test("save → load gives identical recommendations; unknown ids and corrupted files are clear errors")
    func roundTrip() throws {
        let dataset = try MovieLensDataset.load(from: bundledData)
        // Eight users' ratings keep EASE's items² inverse small enough for debug builds.
        let ratings = dataset.ratings.subset(dataset.ratings.userIDs.indices.filter { dataset.ratings.userIDs[$0] <= 8 })
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        var options = TrainedModel.Options()
        options.factors = 16
        options.iterations = 3
        options.sequence.embedding = 8
        options.sequence.hidden = 8
        options.sequence.epochs = 1
        // Content for the rated movies only: content models rank every movie with content, and
        // EASE inside the hybrid is items² over them.
        var rated = dataset
        let ratedIDs = Set(ratings.movieIDs)
        rated.movies = dataset.movies.filter { ratedIDs.contains($0.id) }
        let content = try ContentEmbeddings(dataset: rated, kernels: allKernels[0])
        for type in ModelRegistry.standard.models {
            let model = try TrainedModel.train(type, ratings: ratings, movies: dataset.movies, content: content,
                                               options: options, kernels: allKernels[0])
            let url = dir.appendingPathComponent("\(type.name).model")
            try model.save(to: url)
            let loaded = try TrainedModel.load(from: url)
            let a = try model.recommend(user: 1, k: 10), b = try loaded.recommend(user: 1, k: 10)
            #expect(a.map(\.movieID) == b.map(\.movieID) && a.map(\.score) == b.map(\.score))
            #expect(try model.similarItems(1, k: 5).map(\.movieID) == loaded.similarItems(1, k: 5).map(\.movieID))
            let seen = Set(ratings.movieIDs.indices.filter { ratings.userIDs[$0] == 1 }.map { ratings.movieIDs[$0] })
            #expect(a.allSatisfy { !seen.contains($0.movieID) })
            #expect(throws: RecommenderError.self) { _ = try loaded.recommend(user: 99_999, k: 3) }
            #expect(throws: RecommenderError.self) { _ = try loaded.similarItems(-5, k: 3) }
            var bytes = [UInt8](try Data(contentsOf: url))
            bytes[bytes.count / 2] ^= 1
            try Data(bytes).write(to: url)
            #expect(throws: ArchiveError.corrupted(path: url.path)) { _ = try TrainedModel.load(from: url) }
            try Data(bytes.prefix(100)).write(to: url)
            #expect(throws: ArchiveError.self) { _ = try TrainedModel.load(from: url) }
        }
    }
}
