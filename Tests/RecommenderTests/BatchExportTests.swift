import Foundation
import LinearAlgebra
import MovieLens
import Testing
@testable import Recommender

@Suite("Batch export")
struct BatchExportTests {
    static func model(_ type: any RecommenderModel.Type) throws -> TrainedModel {
        let (ratings, movies, content) = try HybridTests.twoTastes()
        var options = TrainedModel.Options()
        options.factors = 4
        options.iterations = 4
        options.sequence.embedding = 8
        options.sequence.hidden = 8
        options.sequence.epochs = 2
        options.sequence.length = 5
        return try TrainedModel.train(type, ratings: ratings, movies: movies, content: content, options: options, kernels: allKernels[0])
    }

    /// Parses `userId,rank,movieId,score` rows.
    static func parse(_ url: URL) throws -> [(user: Int32, rank: Int, movie: Int32, score: Float)] {
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        #expect(lines.first == "userId,rank,movieId,score")
        return try lines.dropFirst().map { line in
            let f = line.split(separator: ",")
            guard f.count == 4, let u = Int32(f[0]), let r = Int(f[1]), let m = Int32(f[2]), let s = Float(f[3]) else {
                throw MovieLensError.invalidArgument("unparseable line \(line)")
            }
            return (u, r, m, s)
        }
    }

    @Test("every user's rows equal a brute-force top-K (ties by movie id), seen movies excluded, on both backends")
    func bruteForce() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        for type in ModelRegistry.standard.models {
            let kind = type.name
            let model = try Self.model(type)
            for kernels in allKernels {
                let url = dir.appendingPathComponent("\(kind)-\(kernels.backend).csv")
                // Blocks of 7 users cut the 40 users unevenly; K = 12 exceeds some users' candidates.
                let report = try BatchExport(count: 12, blockSize: 7).write(model, to: url, kernels: kernels)
                let rows = try Self.parse(url)
                #expect(report.users == 40 && report.rows == rows.count)
                for u in 0..<model.users.count {
                    let id = model.users.ids[u]
                    let seen = Set(model.seen.range(ofRow: u).map { Int(model.seen.columns[$0]) })
                    var scores = Matrix(rows: 1, cols: model.items.count)
                    let query = try model.query(userID: id)
                    try scores.withMutableView { try model.score([query], into: $0, kernels: SwiftKernels(threads: 1)) }
                    let expected = (0..<model.items.count).filter { !seen.contains($0) }
                        .sorted { (scores[0, $0], -$0) > (scores[0, $1], -$1) }.prefix(12)
                    let got = rows.filter { $0.user == id }
                    #expect(!got.isEmpty && got.map(\.rank) == Array(1...got.count))
                    #expect(got.map { Int(model.items.index(of: $0.movie) ?? -1) } == Array(expected), "\(kind) \(kernels.backend) user \(id)")
                    #expect(got.allSatisfy { !seen.contains(model.items.index(of: $0.movie) ?? -1) })
                }
            }
        }
    }

    @Test("ties are broken by the lower movie id")
    func ties() throws {
        var model = try Self.model(ImplicitALS.self)
        var als = try #require(model.model as? ImplicitALS)
        als.itemFactors = Matrix(rows: model.items.count, cols: als.factors, repeating: 1)
        model.model = als
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("ties.csv")
        try BatchExport(count: 3).write(model, users: [0], to: url, kernels: allKernels[0])
        let unseen = (0..<model.items.count).filter { i in !model.seen.range(ofRow: 0).contains { Int(model.seen.columns[$0]) == i } }
        #expect(try Self.parse(url).map(\.movie) == unseen.prefix(3).map { model.items.ids[$0] })
    }

    @Test("JSON Lines: one parseable object per user with titles; a subset keeps its order; unknown ids are reported")
    func jsonLinesAndSubset() throws {
        let model = try Self.model(HybridRecommender.self)
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("recs.jsonl")
        let (users, unknown) = BatchExport.resolve([5, 999, 2], in: model)
        #expect(unknown == [999])
        try BatchExport(count: 3, format: .jsonl, titles: true).write(model, users: users, to: url, kernels: allKernels[0])
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        let objects = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(objects.map { $0?["userId"] as? Int } == [5, 2])
        let recs = objects.first??["recommendations"] as? [[String: Any]]
        #expect(recs?.count == 3 && (recs?.first?["title"] as? String)?.hasPrefix("m") == true)
        var buffer = TextBuffer()
        buffer.appendJSONString("a\"b\\c\n\u{1}")
        #expect(String(decoding: buffer.bytes, as: UTF8.self) == #""a\"b\\c\n\u0001""#)
    }
}
