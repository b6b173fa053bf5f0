import Foundation
import LinearAlgebra
import MovieLens
import Testing
@testable import Recommender

let bundledData: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("data/ml-latest-small")

let allKernels: [any Kernels] = Backend.available.compactMap { try? $0.makeKernels(threads: 2) }

func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("movierec-prep-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func movie(_ id: Int32, _ genres: [String]) -> Movie { Movie(id: id, title: "M\(id) (2000)", genres: genres) }

@Suite("Preparation: features, balancing, filtering, normalisation, genome")
struct PreparationTests {
    @Test("TF-IDF matches a hand-computed example")
    func tfidf() throws {
        // 3 movies: [Drama], [Drama, Comedy], [(no genres listed)]. n = 3.
        // df(Comedy) = 1 → idf = ln(4/2) + 1 = 1.693147; df(Drama) = 2 → idf = ln(4/3) + 1 = 1.287682.
        let t = GenreTFIDF(genres: [["Drama"], ["Drama", "Comedy"], ["(no genres listed)"]])
        #expect(t.vocabulary == ["Comedy", "Drama"])
        #expect(abs(t.idf[0] - 1.693147) < 1e-5 && abs(t.idf[1] - 1.287682) < 1e-5)
        #expect(t.matrix.row(0).elementsEqual([0, 1]))
        let norm = (1.693147 * 1.693147 + 1.287682 * 1.287682).squareRoot()
        #expect(abs(t.matrix[1, 0] - Float(1.693147 / norm)) < 1e-5)
        #expect(abs(t.matrix[1, 1] - Float(1.287682 / norm)) < 1e-5)
        #expect(t.matrix.row(2).elementsEqual([0, 0]))
        #expect(GenreTFIDF(genres: [["Sci-Fi", "Film-Noir"]]).vocabulary == ["Film-Noir", "Sci-Fi"])
    }

    @Test("SVD embeddings of a tiny matrix with known singular vectors")
    func svdEmbedding() throws {
        // X = diag(3, 2, 1) padded with a zero row: embeddings U·Σ = X·V are the coordinates.
        let x = try Matrix([[3, 0, 0], [0, 2, 0], [0, 0, 1], [0, 0, 0]])
        for kernels in allKernels {
            let e = try SVDEmbedding(x, dims: 2, kernels: kernels, seed: 0)
            #expect(e.singularValues.map { ($0 * 1000).rounded() / 1000 } == [3, 2])
            #expect(e.embeddings.maxAbsDifference(try Matrix([[3, 0], [0, 2], [0, 0], [0, 0]])) < 1e-5, "\(kernels.backend)")
            // Column variances 27/16 + 4/16·3 ... : check the ratios sum to ≤ 1 and decrease.
            #expect(e.explainedVarianceRatio.reduce(0, +) <= 1 && e.explainedVarianceRatio[0] > e.explainedVarianceRatio[1])
        }
    }

    @Test("balancing keeps the configured shares, is seeded, and reports measured label shares")
    func balancing() {
        var movies = [Movie]()
        for i in 0..<1000 { movies.append(movie(Int32(i), ["Drama"])) }
        for i in 1000..<1300 { movies.append(movie(Int32(i), ["Comedy", "Romance"])) }
        for i in 1300..<2000 { movies.append(movie(Int32(i), ["Action"])) }
        let b = GenreBalancing(dramaKeepFraction: 0.47, otherToComedyRatio: 1, seed: 1)
        let (keep, report) = b.select(movies)
        #expect(report.before == ["Drama": 1000, "Comedy": 300, "Other": 700])
        #expect(report.after == ["Drama": 470, "Comedy": 300, "Other": 300])
        #expect(keep[1000..<1300].allSatisfy { $0 })
        #expect(abs(report.dramaLabelShare - 1000.0 / 2300) < 1e-12)
        #expect(b.select(movies).keep == keep)
        #expect(GenreBalancing(dramaKeepFraction: 0.47, otherToComedyRatio: 1, seed: 2).select(movies).keep != keep)
        #expect(MainGenre(genres: ["Comedy", "Drama"]) == .drama)
    }

    @Test("filter boundaries: exactly 50 ratings is dropped, 51 kept; users likewise at 10/11")
    func filterBoundaries() {
        var users = [Int32](), movies = [Int32]()
        // Movie 1: 51 ratings, movie 2: 50 ratings, from users 1…51 (user u rates movie 2 if u ≤ 50).
        for u in Int32(1)...51 { users.append(u); movies.append(1) }
        for u in Int32(1)...50 { users.append(u); movies.append(2) }
        // User 100 rates 9 more movies (10 in all with movie 1), user 101 rates 10 more (11 in all).
        for m in Int32(10)..<19 { users.append(100); movies.append(m) }
        users.append(100); movies.append(1)
        for m in Int32(10)..<20 { users.append(101); movies.append(m) }
        users.append(101); movies.append(1)
        let r = Ratings(userIDs: users, movieIDs: movies, values: [Float](repeating: 4, count: users.count),
                        timestamps: [Int64](repeating: 0, count: users.count))
        let (kept, report) = RatingFilter(minMovieRatings: 50, minUserRatings: 1).keptRatings(r)
        #expect(Set(kept.map { r.movieIDs[$0] }) == [1])
        #expect(report.moviesKept == 1)
        let userFilter = RatingFilter(minMovieRatings: 0, minUserRatings: 10).keptRatings(r).indices
        #expect(!userFilter.contains { r.userIDs[$0] == 100 } && userFilter.contains { r.userIDs[$0] == 101 })
        // k-core: after dropping movie 2, users 1…50 have 1 rating: with users > 1 they go, and movie 1 falls to 2.
        let core = RatingFilter(minMovieRatings: 1, minUserRatings: 1, kCore: true).keptRatings(r)
        #expect(core.report.rounds >= 2)
        let once = RatingFilter(minMovieRatings: 1, minUserRatings: 1, kCore: false).keptRatings(r)
        #expect(core.indices.count <= once.indices.count)
    }

    @Test("min-max scaling, and a clear error when every rating is equal")
    func minMax() throws {
        let s = try MinMaxScaler(fitting: [0.5, 3, 5])
        #expect(s.transform(0.5) == 0 && s.transform(5) == 1 && s.transform(2.75) == 0.5)
        #expect(throws: PreparationError.constantRatings(value: 4)) { _ = try MinMaxScaler(fitting: [4, 4, 4]) }
    }

    @Test("the full pipeline on ml-latest-small, with and without a generated genome, both backends agree")
    func pipeline() throws {
        let dataset = try MovieLensDataset.load(from: bundledData)
        var results = [PreparedData]()
        for kernels in allKernels {
            let p = try Preparation(options: .init()).run(dataset, kernels: kernels)
            #expect(p.summary.input == .init(movies: 9_742, ratings: 100_836, users: 610))
            #expect(p.summary.balancing?.before == ["Drama": 4_361, "Comedy": 2_743, "Other": 2_638])
            #expect(p.summary.balancing?.after["Drama"] == 2_050)
            #expect(p.normalizedRatings.allSatisfy { $0 >= 0 && $0 <= 1 })
            #expect(p.tagEmbeddings.elements.allSatisfy { $0 == 0 } && p.hasGenome.allSatisfy { !$0 })
            #expect(p.movies.count == p.genreEmbeddings.rows && p.genreEmbeddings.cols == 10)
            results.append(p)
        }
        if results.count == 2 {
            #expect(results[0].summary.output == results[1].summary.output)
            #expect(results[0].ratings == results[1].ratings)
            #expect(results[0].genreEmbeddings.maxAbsDifference(results[1].genreEmbeddings) < 1e-3)
        }

        // A small genome for a third of the movies: pivot, SVD, left join with flags.
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["ratings.csv", "movies.csv"] {
            try FileManager.default.copyItem(at: bundledData.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        var tags = "tagId,tag\n", scores = "movieId,tagId,relevance\n"
        for t in 1...30 { tags += "\(t),tag \(t)\n" }
        for (k, m) in dataset.movies.enumerated() where k % 3 == 0 {
            for t in 1...30 where (Int(m.id) + t) % 7 != 0 { scores += "\(m.id),\(t),\(String(format: "%.5f", Double((Int(m.id) * t) % 97) / 97))\n" }
        }
        try Data(tags.utf8).write(to: dir.appendingPathComponent("genome-tags.csv"))
        try Data(scores.utf8).write(to: dir.appendingPathComponent("genome-scores.csv"))
        let withGenome = try MovieLensDataset.load(from: dir)
        #expect(withGenome.genome?.missingPairs ?? 0 > 0)
        let p = try Preparation(options: .init()).run(withGenome, kernels: allKernels[0])
        #expect(p.summary.tagSVD?.dimensions == 10)
        #expect(p.hasGenome.contains(true) && p.hasGenome.contains(false))
        for (i, has) in p.hasGenome.enumerated() where !has {
            #expect((0..<10).allSatisfy { p.tagEmbeddings[i, $0] == 0 })
        }
    }

    @Test("outputs: same seed gives byte-identical files, another seed another sample; binary round trip; corruption detected")
    func outputs() throws {
        let dataset = try MovieLensDataset.load(from: bundledData)
        let kernels = allKernels[0]
        var options = Preparation.Options()
        options.filter = RatingFilter(minMovieRatings: 10, minUserRatings: 10)
        let a = try temporaryFolder(), b = try temporaryFolder(), c = try temporaryFolder()
        defer { for d in [a, b, c] { try? FileManager.default.removeItem(at: d) } }
        let first = try Preparation(options: options).run(dataset, kernels: kernels)
        try first.write(to: a, threads: 2)
        try Preparation(options: options).run(dataset, kernels: kernels).write(to: b, threads: 1)
        options.seed = 99
        try Preparation(options: options).run(dataset, kernels: kernels).write(to: c)
        for name in ["final_movies_with_embeddings.csv", "final_filtered_ratings.csv", "prepared.bin"] {
            #expect(try Data(contentsOf: a.appendingPathComponent(name)) == (try Data(contentsOf: b.appendingPathComponent(name))))
        }
        #expect(try Data(contentsOf: a.appendingPathComponent("final_movies_with_embeddings.csv"))
                != (try Data(contentsOf: c.appendingPathComponent("final_movies_with_embeddings.csv"))))
        let header = try String(contentsOf: a.appendingPathComponent("final_movies_with_embeddings.csv"), encoding: .utf8)
            .split(separator: "\n").first.map(String.init)
        #expect(header?.hasPrefix("movieId,title,genres,main_genre,has_genome,genre_emb_0,") == true)
        #expect(header?.hasSuffix(",tag_emb_9") == true)

        let loaded = try PreparedData.load(from: a)
        #expect(loaded.ratings == first.ratings && loaded.movies == first.movies)
        #expect(loaded.genreEmbeddings == first.genreEmbeddings && loaded.normalizedRatings == first.normalizedRatings)
        #expect(loaded.summary.output == first.summary.output)

        // A folder whose files are not one set — another run's prepared.bin, or no prepare.json — is refused.
        let bin = a.appendingPathComponent("prepared.bin")
        let good = try Data(contentsOf: bin)
        try FileManager.default.removeItem(at: bin)
        try FileManager.default.copyItem(at: c.appendingPathComponent("prepared.bin"), to: bin)
        #expect(throws: ArchiveError.self) { _ = try PreparedData.load(from: a) }
        #expect(try PreparedData.load(from: bin).summary.options.seed == 99)   // the file alone is still readable
        try good.write(to: bin)
        let manifest = a.appendingPathComponent("prepare.json")
        let json = try Data(contentsOf: manifest)
        try FileManager.default.removeItem(at: manifest)
        #expect(throws: ArchiveError.self) { _ = try PreparedData.load(from: a) }
        try json.write(to: manifest)
        #expect(try PreparedData.load(from: a).ratings == first.ratings)
        // Valid checksums around inconsistent contents: a short column, unsorted movies, NaN embeddings.
        let crafted = a.appendingPathComponent("crafted.bin")
        let changes: [(inout BinaryArchive) throws -> Void] = [
            { a in a.set("movieIDs", ints: Array(try a.ints("movieIDs").dropLast())) },
            { a in try a.set("movies", json: Array(try a.json("movies", as: [PreparedMovie].self).reversed())) },
            { a in a.set("genreEmbeddings", floats: try a.floats("genreEmbeddings").map { _ in .nan }) },
            { a in a.set("hasGenome", bytes: [1]) },
        ]
        for change in changes {
            var archive = try BinaryArchive.read(from: bin, magic: PreparedData.magic, version: PreparedData.version)
            try change(&archive)
            try archive.write(to: crafted)
            #expect(throws: ArchiveError.self) { _ = try PreparedData.load(from: crafted) }
        }
        // Damage inside prepared.bin, read as the file itself.
        var bytes = [UInt8](try Data(contentsOf: bin))
        bytes[bytes.count / 2] ^= 0x40
        try Data(bytes).write(to: bin)
        #expect(throws: ArchiveError.corrupted(path: bin.path)) { _ = try PreparedData.load(from: a) }
        try Data(bytes.prefix(bytes.count / 3)).write(to: bin)
        #expect(throws: ArchiveError.self) { _ = try PreparedData.load(from: a) }
        #expect(throws: ArchiveError.truncated(path: bin.path)) { _ = try PreparedData.load(from: bin) }
        try Data("MRPREP01".utf8 + [9, 0, 0, 0] + [UInt8](repeating: 0, count: 20)).write(to: bin)
        #expect(throws: ArchiveError.unsupportedVersion(path: bin.path, found: 9, supported: 1)) { _ = try PreparedData.load(from: bin) }
    }
}
