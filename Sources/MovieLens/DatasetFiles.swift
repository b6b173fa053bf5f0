import Foundation

/// The files of a MovieLens release found in one folder, under any of the namings users meet.
///
/// - GroupLens CSV (ML-20M, ML-25M, ML-32M, ml-latest-small): `ratings.csv`, `movies.csv`, `tags.csv`,
///   `links.csv`, `genome-scores.csv`, `genome-tags.csv`.
/// - Kaggle's copy of ML-20M: `rating.csv`, `movie.csv`, `tag.csv`, `link.csv`, `genome_scores.csv`,
///   `genome_tags.csv` (timestamps as `2005-04-02 23:53:47` text).
/// - ML-1M / ML-10M: `ratings.dat`, `movies.dat`, `tags.dat` with `::` separators.
/// - ML-100K: `u.data` (tab-separated) and `u.item` (pipe-separated, Latin-1, 19 genre flags).
public struct DatasetFiles: Sendable, Equatable {
    /// Which family of files was found.
    public enum Format: String, Sendable, Equatable {
        case groupLens = "GroupLens CSV"
        case kaggle = "Kaggle CSV"
        case dat = "ML-1M/10M .dat"
        case ml100k = "ML-100K"
    }

    public var directory: URL
    public var format: Format
    public var ratings: URL
    public var movies: URL
    public var tags: URL?
    public var links: URL?
    public var genomeScores: URL?
    public var genomeTags: URL?

    static let ratingNames = ["ratings.csv", "rating.csv", "ratings.dat", "u.data"]
    static let movieNames = ["movies.csv", "movie.csv", "movies.dat", "u.item"]

    /// Finds the files in `directory`; `ratings` names the ratings file explicitly (a given split's
    /// train file, anywhere, its format told by ``Format/detect(_:)``) instead of looking for one.
    ///
    /// - Throws: ``MovieLensError/missingFile(kind:directory:lookedFor:)`` listing every name tried
    ///   when ratings or movies are missing.
    public static func discover(in directory: URL, ratings explicit: URL? = nil) throws -> DatasetFiles {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw MovieLensError.io(path: directory.path, reason: "no such folder")
        }
        func find(_ names: [String]) -> URL? {
            names.lazy.map { directory.appendingPathComponent($0) }.first { FileManager.default.fileExists(atPath: $0.path) }
        }
        guard let ratings = explicit ?? find(ratingNames) else {
            throw MovieLensError.missingFile(kind: "ratings", directory: directory.path, lookedFor: ratingNames)
        }
        let format = try explicit.map { try Format.detect($0) } ?? Format(ratingsName: ratings.lastPathComponent)
        let movieCandidates: [String]
        switch format {
        case .groupLens: movieCandidates = ["movies.csv", "movie.csv"]
        case .kaggle: movieCandidates = ["movie.csv", "movies.csv"]
        case .dat: movieCandidates = ["movies.dat"]
        case .ml100k: movieCandidates = ["u.item"]
        }
        guard let movies = find(movieCandidates) else {
            throw MovieLensError.missingFile(kind: "movies", directory: directory.path, lookedFor: movieCandidates)
        }
        let files = DatasetFiles(
            directory: directory, format: format, ratings: ratings, movies: movies,
            tags: find(format == .dat ? ["tags.dat"] : ["tags.csv", "tag.csv"]),
            links: find(["links.csv", "link.csv"]),
            genomeScores: find(["genome-scores.csv", "genome_scores.csv"]),
            genomeTags: find(["genome-tags.csv", "genome_tags.csv"]))
        // A FIFO or a device under a data file's name would block the reader forever.
        for url in [files.ratings, files.movies, files.tags, files.links, files.genomeScores, files.genomeTags].compactMap({ $0 }) {
            try requireRegularFile(url.path)
        }
        return files
    }

    /// The dialect and whether the files have header lines.
    var dialect: Dialect {
        switch format {
        case .groupLens, .kaggle: return .csv
        case .dat: return .doubleColon
        case .ml100k: return .tab
        }
    }
}

extension DatasetFiles.Format {
    /// The format of a folder's ratings file by its name (one of the names ``DatasetFiles`` looks for).
    init(ratingsName: String) {
        switch ratingsName {
        case "ratings.csv": self = .groupLens
        case "rating.csv": self = .kaggle
        case "ratings.dat": self = .dat
        default: self = .ml100k
        }
    }

    /// The format of a ratings file under any name (a given split's `train.csv`, ML-100K's `u1.base`):
    /// by a known name or extension (`.dat`; `u.data`, `.base`, `.test`), else by its first lines —
    /// `::` separators (.dat), tabs (ML-100K), or a CSV header whose first row's timestamp is a
    /// number (GroupLens) or a date (Kaggle).
    /// - Throws: ``MovieLensError/io(path:reason:)`` for a file that is none of these.
    public static func detect(_ url: URL) throws -> Self {
        let name = url.lastPathComponent
        if ["ratings.csv", "rating.csv", "ratings.dat", "u.data"].contains(name) { return Self(ratingsName: name) }
        switch url.pathExtension {
        case "dat": return .dat
        case "base", "test": return .ml100k
        default: break
        }
        try requireRegularFile(url.path)
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw MovieLensError.io(path: url.path, reason: "cannot open it")
        }
        defer { try? handle.close() }
        let head = String(decoding: (try? handle.read(upToCount: 4096)) ?? Data(), as: UTF8.self)
        let lines = head.split(whereSeparator: \.isNewline).prefix(2).map(String.init)
        guard let first = lines.first else { throw MovieLensError.io(path: url.path, reason: "empty file: no ratings") }
        if first.contains("::") { return .dat }
        if first.contains("\t") { return .ml100k }
        if first.contains(","), first.first?.isLetter == true {
            let timestamp = lines.count > 1 ? lines[1].split(separator: ",").last.map(String.init) ?? "" : ""
            return timestamp.contains("-") || timestamp.contains(":") ? .kaggle : .groupLens
        }
        throw MovieLensError.io(path: url.path, reason: "cannot tell its format: expected a CSV with a userId,movieId,rating,timestamp header, tab-separated u.data rows or '::'-separated .dat rows")
    }
}

/// Throws unless `path` is a regular file (after following symlinks): a FIFO, a socket, a device
/// or a folder under an input's name would block a reader or make no sense as data.
/// - Throws: ``MovieLensError/io(path:reason:)``.
public func requireRegularFile(_ path: String) throws {
    var st = stat()
    guard stat(path, &st) == 0 else { throw MovieLensError.io(path: path, reason: String(cString: strerror(errno))) }
    guard (st.st_mode & S_IFMT) == S_IFREG else {
        throw MovieLensError.io(path: path, reason: "not a regular file (a FIFO, a device or a folder): refusing to read it")
    }
}
