import Foundation

/// What `movierec info` prints: counts, rating scale, time span, genres, sparsity and memory.
public struct DatasetSummary: Sendable, Codable {
    public var directory: String
    public var format: String
    public var ratings: Int
    public var users: Int
    public var movies: Int
    public var ratedMovies: Int
    public var tags: Int?
    public var links: Int?
    public var genomeMovies: Int?
    public var genomeTags: Int?
    /// Distinct rating values present, ascending.
    public var ratingValues: [Float]
    public var meanRating: Double
    public var firstRating: String
    public var lastRating: String
    /// 1 − ratings / (users × rated movies).
    public var sparsity: Double
    /// Genre label → (movies with it, share of all genre labels), most frequent first.
    public var genres: [GenreShare]
    /// Bytes held by the ratings columns.
    public var ratingsBytes: Int
    /// Peak resident memory of the process so far, in bytes (Linux; 0 elsewhere).
    public var peakResidentBytes: Int
    /// Problems skipped or fixed while loading, one line per file.
    public var loadNotes: [String]
    /// Seconds per loaded part.
    public var loadSeconds: [String: Double]

    public struct GenreShare: Sendable, Codable {
        public var genre: String
        public var movies: Int
        public var shareOfLabels: Double
    }

    /// Summarises a loaded dataset.
    /// - Complexity: O(ratings + movies).
    public init(_ data: MovieLensDataset) {
        self.init(directory: data.files.directory.path, format: data.files.format.rawValue, ratings: data.ratings, movies: data.movies,
                  tags: data.tags?.count, links: data.links?.count, genomeMovies: data.genome?.movies.count,
                  genomeTags: data.genome?.tagIDs.count, reports: data.reports, timings: data.timings)
    }

    /// Summarises ratings and movies from any source (a folder written by `movierec prepare`).
    /// - Complexity: O(ratings + movies).
    public init(directory: String, format: String, ratings data: Ratings, movies allMovies: [Movie], tags: Int? = nil, links: Int? = nil,
                genomeMovies: Int? = nil, genomeTags: Int? = nil, reports: [LoadReport] = [], timings: [(String, Double)] = []) {
        self.directory = directory
        self.format = format
        ratings = data.count
        users = IDMap(data.userIDs).count
        movies = allMovies.count
        let rated = IDMap(data.movieIDs)
        ratedMovies = rated.count
        self.tags = tags
        self.links = links
        self.genomeMovies = genomeMovies
        self.genomeTags = genomeTags
        var halfSteps = [Bool](repeating: false, count: 11)
        var sum = 0.0
        for v in data.values {
            halfSteps[min(10, max(0, Int((v * 2).rounded())))] = true
            sum += Double(v)
        }
        ratingValues = (0...10).filter { halfSteps[$0] }.map { Float($0) / 2 }
        meanRating = ratings > 0 ? sum / Double(ratings) : 0
        let minTime = data.timestamps.min() ?? 0, maxTime = data.timestamps.max() ?? 0
        firstRating = DatasetSummary.date(minTime)
        lastRating = DatasetSummary.date(maxTime)
        let cells = Double(users) * Double(ratedMovies)
        sparsity = cells > 0 ? 1 - Double(ratings) / cells : 0
        var counts = [String: Int]()
        var labels = 0
        for m in allMovies {
            for g in m.genres { counts[g, default: 0] += 1 }
            labels += m.genres.count
        }
        genres = counts.map { GenreShare(genre: $0.key, movies: $0.value, shareOfLabels: labels > 0 ? Double($0.value) / Double(labels) : 0) }
            .sorted { $0.movies > $1.movies || ($0.movies == $1.movies && $0.genre < $1.genre) }
        ratingsBytes = data.memoryBytes
        peakResidentBytes = ResourceUsage.peakResidentBytes()
        loadNotes = reports.map(\.summary) + reports.flatMap { $0.firstErrors.prefix(3).map { "  \($0)" } }
        loadSeconds = Dictionary(timings, uniquingKeysWith: { a, _ in a })
    }

    static func date(_ seconds: Int64) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss 'UTC'"
        return f.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}

/// Process resource figures for reports and benchmarks.
public enum ResourceUsage {
    /// Peak resident set size of this process (`VmHWM` on Linux), in bytes; 0 when unknown.
    public static func peakResidentBytes() -> Int {
        statusField("VmHWM:")
    }

    /// Current resident set size (`VmRSS`), in bytes; 0 when unknown.
    public static func residentBytes() -> Int {
        statusField("VmRSS:")
    }

    /// Resets the kernel's peak-RSS counter so a later ``peakResidentBytes()`` measures one step
    /// (Linux: writes 5 to `/proc/self/clear_refs`); returns whether it worked.
    @discardableResult
    public static func resetPeak() -> Bool {
        guard let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? h.close() }
        return (try? h.write(contentsOf: Data("5".utf8))) != nil
    }

    private static func statusField(_ key: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(key) {
            let kb = line.dropFirst(key.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) } ?? 0
            return kb * 1024
        }
        return 0
    }
}
