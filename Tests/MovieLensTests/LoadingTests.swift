import Foundation
import Testing
@testable import MovieLens
import LinearAlgebra

@Suite("Loading MovieLens files")
struct LoadingTests {
    @Test("the bundled ml-latest-small loads with the published counts")
    func bundled() throws {
        let data = try MovieLensDataset.load(from: bundledData)
        #expect(data.files.format == .groupLens)
        #expect(data.ratings.count == 100_836)
        #expect(IDMap(data.ratings.userIDs).count == 610)
        #expect(data.movies.count == 9_742)
        #expect(data.tags?.count == 3_683)
        #expect(data.links?.count == 9_742)
        #expect(data.reports.allSatisfy { $0.skipped == 0 && $0.duplicatesDropped == 0 })
        // First row of ratings.csv: 1,1,4.0,964982703 (CRLF file).
        #expect(data.ratings.userIDs[0] == 1 && data.ratings.movieIDs[0] == 1)
        #expect(data.ratings.values[0] == 4 && data.ratings.timestamps[0] == 964_982_703)
        let president = data.movies.first { $0.id == 11 }
        #expect(president?.title == "American President, The (1995)")
        #expect(president?.year == 1995)
        #expect(president?.genres == ["Comedy", "Drama", "Romance"])
        let summary = DatasetSummary(data)
        #expect(summary.users == 610 && summary.ratedMovies == 9_724)
        #expect(summary.ratingValues == [0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5])
    }

    @Test("LF, CRLF, BOM and tiny chunks all give the same columns")
    func lineEndingsAndChunks() throws {
        var lines = ["userId,movieId,rating,timestamp"]
        for u in 1...40 { for m in stride(from: 1, to: 30, by: 3) { lines.append("\(u),\(m),\(Double((u + m) % 10 + 1) / 2),\(1_000_000 + u * 100 + m)") } }
        let lf = lines.joined(separator: "\n") + "\n"
        let (reference, _) = try loadRatings(lf)
        #expect(reference.count == 400)
        for chunk in [7, 64, 1000] {
            #expect(try loadRatings(lf, chunkSize: chunk).0 == reference, "LF chunk \(chunk)")
            #expect(try loadRatings(lines.joined(separator: "\r\n") + "\r\n", chunkSize: chunk).0 == reference, "CRLF chunk \(chunk)")
            #expect(try loadRatings("\u{FEFF}" + lines.joined(separator: "\n"), chunkSize: chunk).0 == reference, "BOM, no final newline")
        }
    }

    @Test("Kaggle rating.csv: text timestamps, reordered and quoted columns")
    func kaggle() throws {
        let text = "timestamp,rating,movieId,userId\n2005-04-02 23:53:47,3.5,2,1\n\"2005-04-02 23:31:16\",\"4.0\",\"29\",\"1\"\n"
        let (r, _) = try loadRatings(text, name: "rating.csv", format: .kaggle)
        #expect(r.userIDs == [1, 1] && r.movieIDs == [2, 29] && r.values == [3.5, 4])
        #expect(r.timestamps == [1_112_486_027, 1_112_484_676])
    }

    @Test("older formats: ratings.dat with ::, u.data with tabs")
    func olderFormats() throws {
        let (dat, _) = try loadRatings("1::1193::5::978300760\n1::661::3::978302109\n", name: "ratings.dat", format: .dat)
        #expect(dat.movieIDs == [1193, 661] && dat.values == [5, 3])
        let (u, _) = try loadRatings("196\t242\t3\t881250949\n186\t302\t3\t891717742\n", name: "u.data", format: .ml100k)
        #expect(u.userIDs == [196, 186] && u.timestamps == [881_250_949, 891_717_742])
    }

    @Test("duplicate (user, movie) pairs are reported and the latest kept")
    func duplicates() throws {
        let text = "userId,movieId,rating,timestamp\n1,10,2.0,100\n1,10,4.5,300\n2,5,3.0,50\n1,10,1.0,200\n"
        let (r, report) = try loadRatings(text)
        #expect(report.duplicatesDropped == 2)
        #expect(r.count == 2)
        #expect(r.values == [4.5, 3])
    }

    @Test("each malformed record names file, line, column and text", arguments: [
        ("1,2,3.5\n", RecordDefect.wrongFieldCount(expected: 4, found: 3), 0),
        ("x1,2,3.5,100\n", .notAnInteger(column: "userId"), 1),
        ("1,two,3.5,100\n", .notAnInteger(column: "movieId"), 2),
        ("1,2,abc,100\n", .notANumber(column: "rating"), 3),
        ("1,2,5.5,100\n", .ratingOutOfRange, 3),
        ("1,2,0.0,100\n", .ratingOutOfRange, 3),
        ("1,2,3.7,100\n", .ratingNotHalfStep, 3),
        ("1,2,3.5,yesterday\n", .badTimestamp, 4),
        ("1,2,\"3.5,100\n", .unterminatedQuote, 3),
        ("1,\"2\"x,3.5,100\n", .textAfterQuote, 2),
    ])
    func badRecords(line: String, defect: RecordDefect, column: Int) throws {
        let text = "userId,movieId,rating,timestamp\n1,1,4.0,5\n2,1,4.0,5\n" + line + "3,1,4.0,5\n"
        for chunk in [8 << 20, 9] {
            let found = malformed { _ = try loadRatings(text, chunkSize: chunk) }
            #expect(found?.0 == SourceLocation(file: "ratings.csv", line: 4, column: column), "chunk \(chunk)")
            #expect(found?.1 == defect)
            #expect(found?.2.isEmpty == false)
            // Lenient mode skips it and reports it.
            let (r, report) = try loadRatings(text, policy: .lenient, chunkSize: chunk)
            #expect(report.skipped == 1 && r.count == 3)   // resynchronised at the next line
            #expect(report.firstErrors.count == 1)
        }
    }

    @Test("line numbers stay exact across chunk seams")
    func lineNumbersAcrossChunks() throws {
        var lines = ["userId,movieId,rating,timestamp"]
        for i in 1...500 { lines.append("\(i),1,4.0,\(i)") }
        lines[377] = "377,1,9.0,377"   // physical line 378
        let text = lines.joined(separator: "\n") + "\n"
        for chunk in [5, 13, 100, 8 << 20] {
            #expect(malformed { _ = try loadRatings(text, chunkSize: chunk) }?.0.line == 378, "chunk \(chunk)")
        }
        lines[377] = "377,1,4.0,377"
        lines.insert("", at: 200)   // a blank line is skipped, not an error
        let (r, _) = try loadRatings(lines.joined(separator: "\n"), chunkSize: 31)
        #expect(r.count == 500)
    }

    @Test("lenient mode counts many bad rows and keeps the first ten")
    func lenientMany() throws {
        var text = "userId,movieId,rating,timestamp\n"
        for i in 1...50 { text += i % 2 == 0 ? "\(i),1,4.0,1\n" : "\(i),1,7.0,1\n" }
        let (r, report) = try loadRatings(text, policy: .lenient, chunkSize: 40)
        #expect(r.count == 25 && report.skipped == 25 && report.firstErrors.count == 10)
        if case let .malformedRecord(loc, _, _)? = report.firstErrors.first { #expect(loc.line == 2) } else { Issue.record("no error") }
    }

    @Test("empty files, missing columns and missing files are clear errors")
    func structuralErrors() throws {
        #expect(throws: MovieLensError.emptyFile("ratings.csv")) { _ = try loadRatings("") }
        #expect(throws: MovieLensError.missingColumn(file: "ratings.csv", column: "rating", header: ["userId", "movieId", "score", "timestamp"])) {
            _ = try loadRatings("userId,movieId,score,timestamp\n1,1,4,1\n")
        }
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.write("movies.csv", minimalMovies)
        #expect(throws: MovieLensError.missingFile(kind: "ratings", directory: dir.url.path, lookedFor: DatasetFiles.ratingNames)) {
            _ = try DatasetFiles.discover(in: dir.url)
        }
        try dir.write("rating.csv", "userId,movieId,rating,timestamp\n1,1,4,2005-04-02 23:53:47\n")
        let files = try DatasetFiles.discover(in: dir.url)
        #expect(files.format == .kaggle && files.movies.lastPathComponent == "movies.csv")
    }

    @Test("movies: quoted titles, invalid UTF-8 named, Latin-1 .dat and ML-100K flags")
    func moviesFormats() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let (movies, _) = try Movie.load(try dir.write("movies.csv", minimalMovies), format: .groupLens)
        #expect(movies.map(\.title) == ["Toy Story (1995)", "American President, The (1995)", "Heat (1995)"])
        #expect(movies[2].genres.isEmpty)
        var bad = Array("movieId,title,genres\n1,Good (1995),Drama\n2,Bad ".utf8)
        bad += [0xC3, 0x28]
        bad += Array(" (1995),Drama\n".utf8)
        let badURL = try dir.write("movies-bad.csv", bytes: bad)
        let found = malformed { _ = try Movie.load(badURL, format: .groupLens) }
        #expect(found?.0 == SourceLocation(file: "movies-bad.csv", line: 3, column: 2))
        #expect(found?.1 == .invalidUTF8)
        var latin = Array("1::Caf".utf8)
        latin += [0xE9]
        latin += Array(" (1999)::Comedy|Romance\n".utf8)
        let (dat, _) = try Movie.load(try dir.write("movies.dat", bytes: latin), format: .dat)
        #expect(dat.first?.title == "Café (1999)" && dat.first?.genres == ["Comedy", "Romance"])
        let item = "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
        let (u, _) = try Movie.load(try dir.write("u.item", item), format: .ml100k)
        #expect(u.first?.genres == ["Animation", "Children", "Comedy"])
        #expect(u.first?.year == 1995)
    }

    @Test("genome: pivot with missing pairs, unknown tags and movies skipped and counted")
    func genome() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let tags = try dir.write("genome-tags.csv", "tagId,tag\n1,007\n2,\"dark, funny\"\n3,zombies\n")
        let scores = try dir.write("genome-scores.csv", """
        movieId,tagId,relevance
        1,1,0.02500
        1,2,0.5
        1,3,0.75
        2,1,1.0
        2,9,0.3
        99,1,0.4

        """)
        let known = IDMap([1, 2, 3] as [Int32])
        let (g, reports) = try Genome.load(scores: scores, tags: tags, knownMovies: known)
        #expect(g.movies.ids == [1, 2])
        #expect(g.tagNames == ["007", "dark, funny", "zombies"])
        #expect(g.relevance == (try Matrix([[0.025, 0.5, 0.75], [1, 0, 0]])))
        #expect(g.missingPairs == 2)
        #expect(reports[1].unknownReferencesSkipped == 2)
    }

    @Test("CSR and CSC agree with the ratings, sorted or not")
    func sparse() throws {
        let ratings = Ratings(userIDs: [5, 3, 5, 3, 9], movieIDs: [20, 10, 10, 30, 20], values: [1, 2, 3, 4, 5],
                              timestamps: [0, 0, 0, 0, 0])
        let m = try RatingMatrix(ratings: ratings)
        #expect(m.users.ids == [3, 5, 9] && m.movies.ids == [10, 20, 30])
        #expect(m.byUser.rowStarts == [0, 2, 4, 5])
        #expect(m.byUser.columns == [0, 2, 0, 1, 1])
        #expect(m.byUser.values == [2, 4, 3, 1, 5])
        #expect(m.byMovie.rowStarts == [0, 2, 4, 5])
        #expect(m.byMovie.columns == [0, 1, 1, 2, 0])
        #expect(m.byMovie.values == [2, 3, 1, 5, 4])
        #expect(m.byMovie.transposed() == m.byUser)
        // The sorted fast path gives the same matrix as the counting sort.
        let sorted = Ratings(userIDs: [3, 3, 5, 5, 9], movieIDs: [10, 30, 10, 20, 20], values: [2, 4, 3, 1, 5], timestamps: [0, 0, 0, 0, 0])
        #expect(try RatingMatrix(ratings: sorted).byUser == m.byUser)
        #expect(throws: MovieLensError.self) { _ = try RatingMatrix(ratings: ratings, movies: IDMap([10, 20] as [Int32])) }
        #expect(m.users.nearest(to: 4, limit: 2) == [3, 5])
    }

    @Test("parallel CSR/CSC of many random ratings equal a brute-force build")
    func sparseRandom() throws {
        var g = SeededTestGenerator(seed: 11)
        var seen = Set<Int64>()
        var users = [Int32](), movies = [Int32](), values = [Float]()
        while users.count < 200_000 {
            let u = Int32(g.next() % 3000), m = Int32(g.next() % 900)
            if seen.insert(Int64(u) << 32 | Int64(m)).inserted { users.append(u); movies.append(m); values.append(Float(g.next() % 10)) }
        }
        let r = Ratings(userIDs: users, movieIDs: movies, values: values, timestamps: [Int64](repeating: 0, count: users.count))
        let m = try RatingMatrix(ratings: r, threads: 2)
        for check in stride(from: 0, to: users.count, by: 997) {
            let row = try #require(m.users.index(of: users[check])), col = try #require(m.movies.index(of: movies[check]))
            let rr = m.byUser.range(ofRow: row)
            let pos = try #require(m.byUser.columns[rr].firstIndex(of: Int32(col)))
            #expect(m.byUser.values[pos] == values[check])
            let cr = m.byMovie.range(ofRow: col)
            let cpos = try #require(m.byMovie.columns[cr].firstIndex(of: Int32(row)))
            #expect(m.byMovie.values[cpos] == values[check])
        }
        for row in 0..<m.byUser.rows {
            let cols = m.byUser.columns[m.byUser.range(ofRow: row)]
            #expect(zip(cols, cols.dropFirst()).allSatisfy { $0 < $1 })
        }
        #expect(m.byMovie.transposed(threads: 2) == m.byUser)
    }
}
