import Foundation
import LinearAlgebra

/// A MovieLens release loaded from a folder: ratings (columnar), movies, and the optional tags,
/// links and tag genome, with what each loader skipped.
///
/// ```swift
/// let data = try MovieLensDataset.load(from: URL(fileURLWithPath: "data/ml-latest-small"))
/// print(data.ratings.count, data.movies.count)
/// let matrix = try RatingMatrix(ratings: data.ratings)
/// ```
public struct MovieLensDataset: Sendable {
    public var files: DatasetFiles
    public var ratings: Ratings
    public var movies: [Movie]
    public var tags: Tags?
    public var links: [Link]?
    public var genome: Genome?
    /// One report per file read.
    public var reports: [LoadReport]
    /// Seconds each part took to load.
    public var timings: [(String, Double)]

    /// What to read and how strictly.
    public struct Options: Sendable {
        public var policy: ErrorPolicy = .strict
        public var threads: Int = Parallel.cores
        public var loadTags = true
        public var loadLinks = true
        public var loadGenome = true
        public init() {}
    }

    /// Loads every file found in `directory` (see ``DatasetFiles`` for the namings).
    public static func load(from directory: URL, options: Options = Options()) throws -> MovieLensDataset {
        try load(files: try DatasetFiles.discover(in: directory), options: options)
    }

    /// Loads the files of `files` (from ``DatasetFiles/discover(in:ratings:)``).
    public static func load(files: DatasetFiles, options: Options = Options()) throws -> MovieLensDataset {
        var timings = [(String, Double)]()
        func timed<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let r = try body()
            timings.append((name, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9))
            return r
        }
        let (ratings, ratingsReport) = try timed("ratings") {
            try Ratings.load(files.ratings, format: files.format, policy: options.policy, threads: options.threads)
        }
        let (movies, moviesReport) = try timed("movies") { try Movie.load(files.movies, format: files.format, policy: options.policy) }
        var reports = [ratingsReport, moviesReport]
        var dataset = MovieLensDataset(files: files, ratings: ratings, movies: movies, tags: nil, links: nil, genome: nil,
                                       reports: reports, timings: [])
        if options.loadTags, let url = files.tags {
            let (tags, report) = try timed("tags") { try Tags.load(url, format: files.format, policy: options.policy) }
            dataset.tags = tags
            reports.append(report)
        }
        if options.loadLinks, let url = files.links {
            let (links, report) = try timed("links") { try Link.load(url, policy: options.policy) }
            dataset.links = links
            reports.append(report)
        }
        if options.loadGenome, let scores = files.genomeScores, let tagsURL = files.genomeTags {
            let known = IDMap(movies.map(\.id))
            let (genome, genomeReports) = try timed("genome") {
                try Genome.load(scores: scores, tags: tagsURL, knownMovies: known, policy: options.policy, threads: options.threads)
            }
            dataset.genome = genome
            reports += genomeReports
        }
        dataset.reports = reports
        dataset.timings = timings
        return dataset
    }
}
