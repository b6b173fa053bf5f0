import Foundation

/// Free-text tags users applied to movies (`tags.csv`), as columns.
public struct Tags: Sendable, Equatable {
    public var userIDs: [Int32] = []
    public var movieIDs: [Int32] = []
    public var tags: [String] = []
    public var timestamps: [Int64] = []

    public var count: Int { tags.count }

    public init() {}

    /// Loads `tags.csv`/`tag.csv` (CSV with header) or `tags.dat` (`::`-separated).
    public static func load(_ url: URL, format: DatasetFiles.Format, policy: ErrorPolicy = .strict) throws -> (Tags, LoadReport) {
        let file = try InputFile.forReading(url)
        var report = LoadReport(file: file.name)
        var result = Tags()
        let csv = format != .dat
        var cols = [0, 1, 2, 3]
        if csv {
            let header = try CSVHeader.read(file, dialect: .csv).columns
            cols = try ["userId", "movieId", "tag", "timestamp"].map { try SmallTable.column(header, $0, file: file.name) }
        }
        let fieldCount = csv ? try CSVHeader.read(file, dialect: .csv).columns.count : 4
        try SmallTable.forEachRecord(file, dialect: csv ? .csv : .doubleColon, hasHeader: csv, policy: policy, report: &report) { t, _ throws(RecordProblem) in
            try SmallTable.fieldCount(t, fieldCount)
            let user = try SmallTable.integer(t, cols[0], "userId")
            let movie = try SmallTable.integer(t, cols[1], "movieId")
            let tag = try SmallTable.text(t, cols[2], latin1Fallback: !csv)
            let f = t.fields[cols[3]]
            guard let time = NumberParsing.integer(t.bytes, f.start, f.end) ?? NumberParsing.dateTime(t.bytes, f.start, f.end) else {
                throw RecordProblem(column: cols[3] + 1, defect: .badTimestamp, text: t.excerpt(f))
            }
            result.userIDs.append(Int32(user))
            result.movieIDs.append(Int32(movie))
            result.tags.append(tag)
            result.timestamps.append(time)
        }
        return (result, report)
    }
}

/// A movie's ids in IMDb and TMDb (`links.csv`).
public struct Link: Sendable, Hashable {
    public var movieID: Int32
    /// IMDb id as written, with its leading zeros (e.g. `0114709`).
    public var imdbID: String
    /// TMDb id, absent for some movies.
    public var tmdbID: Int?

    /// Loads `links.csv`/`link.csv`.
    public static func load(_ url: URL, policy: ErrorPolicy = .strict) throws -> ([Link], LoadReport) {
        let file = try InputFile.forReading(url)
        var report = LoadReport(file: file.name)
        let header = try CSVHeader.read(file, dialect: .csv).columns
        let cols = try ["movieId", "imdbId", "tmdbId"].map { try SmallTable.column(header, $0, file: file.name) }
        var links = [Link]()
        try SmallTable.forEachRecord(file, dialect: .csv, hasHeader: true, policy: policy, report: &report) { t, _ throws(RecordProblem) in
            try SmallTable.fieldCount(t, header.count)
            let movie = try SmallTable.integer(t, cols[0], "movieId")
            let imdb = try SmallTable.text(t, cols[1])
            let tf = t.fields[cols[2]]
            var tmdb: Int?
            if tf.end > tf.start {
                guard let v = NumberParsing.integer(t.bytes, tf.start, tf.end) else {
                    throw RecordProblem(column: cols[2] + 1, defect: .notAnInteger(column: "tmdbId"), text: t.excerpt(tf))
                }
                tmdb = Int(v)
            }
            links.append(Link(movieID: Int32(movie), imdbID: imdb, tmdbID: tmdb))
        }
        return (links, report)
    }
}
