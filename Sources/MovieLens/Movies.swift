import Foundation

/// A movie: its MovieLens id, title, release year (parsed from the title) and genres.
public struct Movie: Sendable, Hashable {
    public var id: Int32
    /// The title as MovieLens writes it, e.g. `American President, The (1995)`.
    public var title: String
    /// The year in the title's trailing `(YYYY)`, if any.
    public var year: Int?
    /// Genre labels, e.g. `["Comedy", "Drama", "Romance"]`; empty for `(no genres listed)`.
    public var genres: [String]

    public init(id: Int32, title: String, year: Int? = nil, genres: [String]) {
        self.id = id
        self.title = title
        self.year = year ?? Movie.year(inTitle: title)
        self.genres = genres
    }

    /// The year of a trailing `(1995)` or `(2006-2007)` in a title.
    public static func year(inTitle title: String) -> Int? {
        let t = title.trimmingSpaces()
        guard t.hasSuffix(")"), let open = t.lastIndex(of: "(") else { return nil }
        let inner = t[t.index(after: open)..<t.index(before: t.endIndex)]
        let digits = inner.prefix { $0.isASCII && $0.isNumber }
        guard digits.count == 4, let y = Int(digits) else { return nil }
        let rest = inner.dropFirst(4)
        guard rest.isEmpty || rest.first == "-" || rest.first == "–" else { return nil }
        return y
    }

    /// Splits a `|`-separated genre list; `(no genres listed)` and empty text give no genres.
    public static func genres(from list: String) -> [String] {
        list.split(separator: "|").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty && $0 != "(no genres listed)" }
    }

    /// The 19 genre flags of ML-100K's `u.item`, in file order (`Children's` named as later releases do).
    static let ml100kGenres = ["unknown", "Action", "Adventure", "Animation", "Children", "Comedy", "Crime",
                               "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
                               "Romance", "Sci-Fi", "Thriller", "War", "Western"]

    /// Loads `movies.csv`/`movie.csv`, `movies.dat` or `u.item`.
    public static func load(_ url: URL, format: DatasetFiles.Format, policy: ErrorPolicy = .strict) throws -> ([Movie], LoadReport) {
        let file = try InputFile.forReading(url)
        var report = LoadReport(file: file.name)
        var movies = [Movie]()
        switch format {
        case .groupLens, .kaggle:
            var idCol = 0, titleCol = 1, genresCol = 2, fields = 3
            var resolved = false
            try SmallTable.forEachRecord(file, dialect: .csv, hasHeader: true, policy: policy, report: &report) { t, header throws(RecordProblem) in
                if !resolved {
                    idCol = header.firstIndex(of: "movieId") ?? -1
                    titleCol = header.firstIndex(of: "title") ?? -1
                    genresCol = header.firstIndex(of: "genres") ?? -1
                    fields = header.count
                    resolved = true
                }
                guard idCol >= 0, titleCol >= 0, genresCol >= 0 else { throw RecordProblem(column: 0, defect: .other("header"), text: "") }
                try SmallTable.fieldCount(t, fields)
                let id = try SmallTable.integer(t, idCol, "movieId")
                movies.append(Movie(id: Int32(id), title: try SmallTable.text(t, titleCol),
                                    genres: genres(from: try SmallTable.text(t, genresCol))))
            }
            if file.size > 0 {
                let header = try CSVHeader.read(file, dialect: .csv).columns
                for name in ["movieId", "title", "genres"] where !header.contains(name) {
                    throw MovieLensError.missingColumn(file: file.name, column: name, header: header)
                }
            }
        case .dat:
            try SmallTable.forEachRecord(file, dialect: .doubleColon, hasHeader: false, policy: policy, report: &report) { t, _ throws(RecordProblem) in
                try SmallTable.fieldCount(t, 3)
                let id = try SmallTable.integer(t, 0, "MovieID")
                movies.append(Movie(id: Int32(id), title: try SmallTable.text(t, 1, latin1Fallback: true),
                                    genres: genres(from: try SmallTable.text(t, 2, latin1Fallback: true))))
            }
        case .ml100k:
            try SmallTable.forEachRecord(file, dialect: .pipe, hasHeader: false, policy: policy, report: &report) { t, _ throws(RecordProblem) in
                try SmallTable.fieldCount(t, 5 + ml100kGenres.count)
                let id = try SmallTable.integer(t, 0, "movie id")
                var g = [String]()
                for (k, name) in ml100kGenres.enumerated() {
                    let f = t.fields[5 + k]
                    guard f.end - f.start == 1, t.bytes[f.start] == UInt8(ascii: "0") || t.bytes[f.start] == UInt8(ascii: "1") else {
                        throw RecordProblem(column: 6 + k, defect: .other("genre flag must be 0 or 1"), text: t.excerpt(f))
                    }
                    if t.bytes[f.start] == UInt8(ascii: "1") && name != "unknown" { g.append(name) }
                }
                movies.append(Movie(id: Int32(id), title: try SmallTable.text(t, 1, latin1Fallback: true), genres: g))
            }
        }
        return (movies, report)
    }
}
