import Foundation
import Testing
@testable import MovieLens

@Suite("Synthetic data, atomic writes and fuzzed input")
struct SyntheticAndRobustnessTests {
    /// A reduced preset for the determinism checks (the debug build writes ~1 MB/s).
    static let tiny: SyntheticMovieLens.Preset = {
        var p = SyntheticMovieLens.Preset.small
        p.users = 120; p.movies = 900; p.ratedMovies = 850; p.ratings = 9_000; p.maxMovieID = 5_000
        p.genomeMovies = 60; p.genomeTags = 40; p.tags = 200
        return p
    }()

    @Test("the same seed gives byte-identical files whatever the thread count; another seed differs")
    func synthDeterminism() throws {
        let a = try TempDir(), b = try TempDir(), c = try TempDir()
        defer { a.cleanup(); b.cleanup(); c.cleanup() }
        var gen = SyntheticMovieLens(preset: Self.tiny, seed: 7)
        gen.threads = 2
        _ = try gen.write(to: a.url)
        gen.threads = 1
        _ = try gen.write(to: b.url)
        _ = try SyntheticMovieLens(preset: Self.tiny, seed: 8).write(to: c.url)
        for name in ["ratings.csv", "movies.csv", "tags.csv", "links.csv", "genome-scores.csv", "genome-tags.csv"] {
            let x = try Data(contentsOf: a.url.appendingPathComponent(name))
            #expect(x == (try Data(contentsOf: b.url.appendingPathComponent(name))), "\(name) differs between thread counts")
        }
        #expect(try Data(contentsOf: a.url.appendingPathComponent("ratings.csv")) != (try Data(contentsOf: c.url.appendingPathComponent("ratings.csv"))))
        let data = try MovieLensDataset.load(from: a.url)
        #expect(data.genome?.movies.count == 60 && data.genome?.tagIDs.count == 40)
        #expect(data.tags?.count == 200)
    }

    @Test("the small preset has the shape of ml-latest-small")
    func synthSmall() throws {
        let a = try TempDir()
        defer { a.cleanup() }
        var gen = SyntheticMovieLens(preset: .small, seed: 7)
        gen.includeGenome = false
        let summary = try gen.write(to: a.url)
        #expect(summary.ratings == 100_836 && summary.users == 610 && summary.ratedMovies == 9_724)

        let data = try MovieLensDataset.load(from: a.url)
        #expect(data.ratings.count == 100_836)
        #expect(data.movies.count == 9_742)
        #expect(data.genome == nil)
        #expect(data.reports.allSatisfy { $0.skipped == 0 && $0.duplicatesDropped == 0 })
        let matrix = try RatingMatrix(ratings: data.ratings)
        #expect(matrix.users.count == 610 && matrix.movies.count == 9_724)
        #expect(matrix.byUser.rowCounts.min() ?? 0 >= 20)
        #expect(data.ratings.values.allSatisfy { $0 >= 0.5 && $0 <= 5 && ($0 * 2).rounded() == $0 * 2 })
        #expect(data.movies.contains { $0.title.contains(",") } && data.movies.contains { $0.title.contains("\"") })
        let summaryOfData = DatasetSummary(data)
        #expect(summaryOfData.genres.prefix(2).map(\.genre) == ["Drama", "Comedy"])
        // Timestamps strictly increase along each user's history.
        var byUser = [Int32: [Int64]]()
        for i in 0..<data.ratings.count { byUser[data.ratings.userIDs[i], default: []].append(data.ratings.timestamps[i]) }
        #expect(byUser.values.allSatisfy { Set($0).count == $0.count })
    }

    @Test("the 1m preset uses whole stars")
    func synthWholeStars() throws {
        var preset = SyntheticMovieLens.Preset.ml1m
        preset.users = 300
        preset.ratings = 30_000
        preset.genomeMovies = 0
        let dir = try TempDir()
        defer { dir.cleanup() }
        _ = try SyntheticMovieLens(preset: preset, seed: 1).write(to: dir.url)
        let (r, _) = try Ratings.load(dir.url.appendingPathComponent("ratings.csv"), format: .groupLens)
        #expect(r.count == 30_000 && r.values.allSatisfy { $0 == $0.rounded() && $0 >= 1 })
    }

    @Test("an atomic write that is not committed leaves nothing and keeps the old file")
    func atomic() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let target = dir.url.appendingPathComponent("out.csv")
        try AtomicFileWriter.write(Array("old\n".utf8), to: target)
        do {
            let w = try AtomicFileWriter(destination: target)
            try w.write("new, but interrupted\n")
        }
        #expect(try String(contentsOf: target, encoding: .utf8) == "old\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["out.csv"])
        let w = try AtomicFileWriter(destination: target)
        try w.write("new\n")
        try w.commit()
        #expect(try String(contentsOf: target, encoding: .utf8) == "new\n")
    }

    @Test("random and mutated bytes only ever load or throw")
    func fuzz() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        var g = SeededTestGenerator(seed: 2024)
        let valid = Array("userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.5,964981247\n2,\"6\",3.0,964982224\n".utf8)
        let alphabet = Array("0123456789,.\"\r\n:|\t-e ".utf8) + [0xFF, 0xC3, 0x00]
        for round in 0..<300 {
            var bytes: [UInt8]
            if round % 3 == 0 {
                bytes = (0..<Int(g.next() % 200)).map { _ in alphabet[Int(g.next() % UInt64(alphabet.count))] }
            } else {
                bytes = valid
                for _ in 0..<(1 + Int(g.next() % 6)) {
                    let i = Int(g.next() % UInt64(bytes.count))
                    switch g.next() % 3 {
                    case 0: bytes[i] = alphabet[Int(g.next() % UInt64(alphabet.count))]
                    case 1: bytes.insert(alphabet[Int(g.next() % UInt64(alphabet.count))], at: i)
                    default: if bytes.count > 1 { bytes.remove(at: i) }
                    }
                }
            }
            let ratings = try dir.write("ratings.csv", bytes: bytes)
            let movies = try dir.write("movies.csv", bytes: bytes)
            for policy in [ErrorPolicy.strict, .lenient] {
                for chunk in [5, 8 << 20] {
                    do { _ = try Ratings.load(ratings, format: .groupLens, policy: policy, threads: 2, chunkSize: chunk) } catch is MovieLensError {}
                }
                do { _ = try Movie.load(movies, format: .groupLens, policy: policy) } catch is MovieLensError {}
                do { _ = try Ratings.load(ratings, format: .dat, policy: policy) } catch is MovieLensError {}
            }
        }
    }
}
