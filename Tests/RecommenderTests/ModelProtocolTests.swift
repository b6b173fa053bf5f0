import Foundation
import LinearAlgebra
import MovieLens
import Testing
@testable import Recommender

/// A model written outside the package: every movie scores its fixed weight. It plugs into
/// recommend, export, evaluation and model files through ``RecommenderModel`` alone.
struct ConstantScores: RecommenderModel {
    static let name = "constant"
    var weights: [Float]

    static func fit(_ data: TrainingSet, options: TrainedModel.Options, kernels: any Kernels,
                    progress: (TrainingEvent) -> Void) throws -> ConstantScores {
        // Higher movie index, higher score: the ranking is known in advance.
        ConstantScores(weights: (0..<data.items.count).map(Float.init))
    }

    static func decode(from archive: ModelArchive) throws -> ConstantScores {
        ConstantScores(weights: try archive.floats("constant.weights", count: archive.items))
    }

    func encode(into archive: inout ModelArchive) throws { archive.set("constant.weights", floats: weights) }

    func score(_ block: ScoringBlock, into scores: MutableMatrixView, parts: ScoreParts?, kernels: any Kernels) throws {
        for r in 0..<block.queries.count { (scores.base + r * scores.stride).update(from: weights, count: weights.count) }
    }
}

@Suite("Model protocol")
struct ModelProtocolTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/format-v2")

    @Test("a model defined in the test target runs through recommend, batch recommend, export, evaluation and save/load")
    func pluggedInModel() throws {
        let (ratings, movies, _) = try HybridTests.twoTastes()
        let kernels = allKernels[0]
        let model = try TrainedModel.train(ConstantScores.self, ratings: ratings, movies: movies, kernels: kernels)
        // The best unseen movies are the highest indices the user has not rated.
        let u = try #require(model.users.index(of: 1))
        let seen = Set(model.seen.range(ofRow: u).map { Int(model.seen.columns[$0]) })
        let expected = (0..<model.items.count).reversed().filter { !seen.contains($0) }.prefix(3).map { model.items.ids[$0] }
        #expect(try model.recommend(user: 1, k: 3).map(\.movieID) == expected)
        #expect(try model.recommend(users: [1, 2], k: 3, blockSize: 1, kernels: kernels)[0].map(\.movieID) == expected)
        // filter keeps only the accepted movie ids.
        var evenOnly = ItemFilter()
        evenOnly.only = stride(from: 2, through: 20, by: 2).map(Int32.init)
        let even = try model.recommend(user: 1, k: 2, filter: evenOnly)
        #expect(even.count == 2 && even.allSatisfy { $0.movieID % 2 == 0 })
        #expect(throws: RecommenderError.unsupported(model: "constant", operation: "similar items")) { _ = try model.similarItems(1, k: 3) }

        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = dir.appendingPathComponent("constant.csv")
        let report = try BatchExport(count: 3).write(model, to: csv, kernels: kernels)
        #expect(report.users == model.users.count && report.rows == 3 * model.users.count)
        #expect(try BatchExportTests.parse(csv).filter { $0.user == 1 }.map(\.movie) == expected)

        let file = dir.appendingPathComponent("constant.model")
        try model.save(to: file)
        #expect(throws: ArchiveError.self) { _ = try TrainedModel.load(from: file) }   // the standard registry does not know it
        let loaded = try TrainedModel.load(from: file, registry: ModelRegistry.standard.adding(ConstantScores.self))
        #expect(try loaded.recommend(user: 1, k: 3).map(\.movieID) == expected)

        var suite = EvaluationSuite()
        suite.registry = ModelRegistry.standard.adding(ConstantScores.self)
        suite.models = ["popularity", "constant"]
        suite.ratingPrediction = false
        let data = TrainingData(ratings: ratings, movies: movies, content: nil, prepared: false)
        let result = try suite.run(on: data, kernels: kernels)
        #expect(result.ranking.map(\.model) == ["popularity", "constant"])
        #expect(result.ranking.allSatisfy { $0.metrics.users > 0 })
    }

    @Test("every registered model trains and answers with its name; unknown names and missing content are clear errors")
    func registry() throws {
        let (ratings, movies, content) = try HybridTests.twoTastes()
        #expect(ModelRegistry.standard.names == ["als", "ease", "content", "hybrid", "rnn", "sasrec"])
        #expect(throws: RecommenderError.unknownModel(name: "nope", known: ModelRegistry.standard.names)) {
            _ = try TrainedModel.train(model: "nope", ratings: ratings, movies: movies, kernels: allKernels[0])
        }
        #expect(throws: RecommenderError.needsContent(model: "hybrid")) {
            _ = try TrainedModel.train(HybridRecommender.self, ratings: ratings, movies: movies, kernels: allKernels[0])
        }
        var options = TrainedModel.Options()
        options.factors = 0
        #expect(throws: RecommenderError.self) {
            _ = try TrainedModel.train(ImplicitALS.self, ratings: ratings, movies: movies, options: options, kernels: allKernels[0])
        }
        options = TrainedModel.Options()
        options.blend = HybridBlend(contentWeight: 0, collaborativeWeight: 0)
        #expect(throws: RecommenderError.self) {
            _ = try TrainedModel.train(HybridRecommender.self, ratings: ratings, movies: movies, content: content, options: options,
                                       kernels: allKernels[0])
        }
        // Content alone ranks by the profile: user 1 likes action movies (ids 1–10).
        let model = try TrainedModel.train(ContentRecommender.self, ratings: ratings, movies: movies, content: content, kernels: allKernels[0])
        let top = try model.recommend(user: 1, k: 1)
        #expect(top.first?.movieID == 1 && top.first?.becauseOf != nil)
        #expect(try model.similarItems(3, k: 3).allSatisfy { $0.movieID <= 10 })
    }

    @Test("crafted model files — valid checksum, inconsistent contents — are refused with ArchiveError, never a trap")
    func craftedFiles() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let huge: Int64 = 1 << 62
        // Header changes, as JSON paths and values.
        let headers: [(String, [String], Any)] = [
            ("users huge", ["users"], huge), ("users negative", ["users"], -1), ("items huge", ["items"], huge),
            ("factors huge", ["options", "factors"], huge), ("factors negative", ["options", "factors"], -3),
            ("λ negative", ["options", "regularization"], -1), ("α negative", ["options", "alpha"], -1),
            ("hidden huge", ["options", "sequence", "hidden"], 1 << 40), ("embedding 0", ["options", "sequence", "embedding"], 0),
            ("length 0", ["options", "sequence", "length"], 0), ("weights negative", ["options", "blend", "contentWeight"], -5),
            ("model unknown", ["kind"], "nope"), ("model not a string", ["kind"], 7),
        ]
        // Section changes.
        let sections: [(String, (inout BinaryArchive) -> Void)] = [
            ("users unsorted", { a in a.set("users", ints: (try? a.ints("users"))?.reversed() ?? []) }),
            ("items duplicated", { a in a.set("items", ints: ((try? a.ints("items")) ?? []).map { _ in 1 }) }),
            ("row starts decreasing", { a in a.set("seen.rowStarts", longs: ((try? a.longs("seen.rowStarts")) ?? []).reversed()) }),
            ("columns out of range", { a in a.set("seen.columns", ints: ((try? a.ints("seen.columns")) ?? []).map { $0 + 1_000 }) }),
            ("titles short", { a in try? a.set("titles", json: ["one"]) }),
            ("factors short", { a in a.set("userFactors", floats: [1, 2, 3]) }),
            ("EASE weights short", { a in a.set("itemFactors", floats: [1]) }),
            ("content ragged", { a in a.set("content", floats: [1, 2, 3]) }),
            ("network short", { a in a.set("network", floats: [0.5]) }),
            ("recent out of range", { a in a.set("recent.items", ints: ((try? a.ints("recent.items")) ?? []).map { $0 + 10_000 }) }),
            ("NaN factors", { a in a.set("itemFactors", floats: ((try? a.floats("itemFactors")) ?? []).map { _ in .nan }) }),
        ]
        var refused = 0, crafted = 0
        var loaded = Set<String>()
        for name in ["als", "ease", "hybrid", "rnn"] {
            let source = Self.fixtures.appendingPathComponent("\(name).model")
            var cases: [(String, (inout BinaryArchive) throws -> Void)] = sections.map { entry in
                (entry.0, { (a: inout BinaryArchive) in entry.1(&a) })
            }
            for (label, path, value) in headers {
                cases.append((label, { a in
                    var json = try #require(try JSONSerialization.jsonObject(with: Data(a.bytes("header"))) as? [String: Any])
                    func put(_ object: inout [String: Any], _ keys: ArraySlice<String>) {
                        guard let key = keys.first else { return }
                        if keys.count == 1 { object[key] = value; return }
                        var inner = object[key] as? [String: Any] ?? [:]
                        put(&inner, keys.dropFirst())
                        object[key] = inner
                    }
                    put(&json, path[...])
                    a.set("header", bytes: [UInt8](try JSONSerialization.data(withJSONObject: json)))
                }))
            }
            for (label, change) in cases {
                var archive = try BinaryArchive.read(from: source, magic: TrainedModel.magic, versions: 2...2)
                try change(&archive)
                let file = dir.appendingPathComponent("\(name)-crafted.model")
                try archive.write(to: file)
                crafted += 1
                do {
                    // A file that loads is one whose change the model does not read: it must answer.
                    let model = try TrainedModel.load(from: file)
                    #expect(try !model.recommend(user: 1, k: 3).isEmpty, "\(name), \(label)")
                    loaded.insert("\(name): \(label)")
                } catch is ArchiveError {
                    refused += 1
                } catch {
                    Issue.record("\(name), \(label): \(type(of: error)) \(error)")
                }
            }
        }
        // Exactly the changes to what a model does not read (EASE has no user factors, ALS no network,
        // only the LSTM reads the sequence options) leave files that load.
        let unread = ["content ragged", "network short", "recent out of range", "hidden huge", "embedding 0", "length 0"]
        let expected = Set(
            (unread + ["weights negative"]).map { "als: \($0)" }
            + (unread + ["factors short", "factors huge", "factors negative", "α negative", "weights negative"]).map { "ease: \($0)" }
            + ["network short", "recent out of range", "hidden huge", "embedding 0", "length 0"].map { "hybrid: \($0)" }
            + ["factors short", "EASE weights short", "content ragged", "NaN factors", "factors huge", "factors negative", "λ negative",
               "α negative", "weights negative"].map { "rnn: \($0)" })
        #expect(loaded == expected, "loaded: \(loaded.symmetricDifference(expected).sorted())")
        #expect(crafted == 4 * (headers.count + sections.count) && refused == crafted - expected.count)
    }

    /// The JSON `movierec recommend --json` / `similar --json` printed from the format-2 files.
    struct Golden: Decodable { var movieId: Int32; var score: Float; var content: Float?; var collaborative: Float?; var becauseOf: Int32? }

    @Test("model files of format 2 (written before the model protocol) load and answer as they did; older formats are refused")
    func formatTwoFiles() throws {
        for name in ["als", "ease", "hybrid", "rnn"] {
            let model = try TrainedModel.load(from: Self.fixtures.appendingPathComponent("\(name).model"))
            #expect(model.header.model == name)
            // The golden answers came from the single-threaded pure-Swift kernels.
            let kernels = SwiftKernels(threads: 1)
            for (file, got) in [("\(name)-user1.json", try model.recommend(user: 1, k: 5, kernels: kernels)),
                                ("\(name)-similar3.json", try model.similarItems(3, k: 4, kernels: kernels))] {
                let golden = try JSONDecoder().decode([Golden].self, from: Data(contentsOf: Self.fixtures.appendingPathComponent(file)))
                #expect(got.map(\.movieID) == golden.map(\.movieId), "\(file)")
                #expect(zip(got, golden).allSatisfy { abs($0.score - $1.score) <= 1e-5 * max(1, abs($1.score)) }, "\(file)")
                #expect(got.map(\.becauseOf) == golden.map(\.becauseOf), "\(file)")
                #expect(zip(got, golden).allSatisfy { abs(($0.content ?? 0) - ($1.content ?? 0)) < 1e-5 && abs(($0.collaborative ?? 0) - ($1.collaborative ?? 0)) < 1e-5 })
            }
        }
        // A checksummed file whose header asks for impossible sizes is refused naming the file, never a crash.
        let scratch = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        func spoilLSTM(_ change: @escaping (inout SequenceRecommender.Configuration) -> Void) -> (inout TrainedModel) throws -> Void {
            { model in
                var lstm = try #require(model.model as? LSTMRecommender)
                var c = lstm.sequence.configuration
                change(&c)
                lstm.sequence = SequenceRecommender(configuration: c, network: lstm.sequence.network)
                model.model = lstm
            }
        }
        let spoils: [(String, (inout TrainedModel) throws -> Void)] = [
            ("rnn", spoilLSTM { $0.hidden = 1 << 40 }),
            ("rnn", spoilLSTM { $0.length = 1 }),
            ("als", { $0.header.options.factors = 0 }),
        ]
        for (name, spoil) in spoils {
            var model = try TrainedModel.load(from: Self.fixtures.appendingPathComponent("\(name).model"))
            try spoil(&model)
            let file = scratch.appendingPathComponent("\(name).model")
            try model.save(to: file)
            #expect(throws: ArchiveError.self) { _ = try TrainedModel.load(from: file) }
        }
        // The same bytes with version 1: refused as an old format before anything else is read.
        var bytes = [UInt8](try Data(contentsOf: Self.fixtures.appendingPathComponent("als.model")))
        bytes[8] = 1
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let old = dir.appendingPathComponent("old.model")
        try Data(bytes).write(to: old)
        #expect(throws: ArchiveError.unsupportedVersion(path: old.path, found: 1, supported: TrainedModel.formatVersion)) {
            _ = try TrainedModel.load(from: old)
        }
        #expect("\(ArchiveError.unsupportedVersion(path: "m", found: 1, supported: 3))".contains("old format"))
    }
}
