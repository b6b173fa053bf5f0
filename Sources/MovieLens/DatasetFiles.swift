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
        let exists = FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory)
        if exists, !isDirectory.boolValue, directory.path.lowercased().hasSuffix(".zip") {
            return try discover(inArchive: directory, ratings: explicit)
        }
        guard exists, isDirectory.boolValue else {
            throw MovieLensError.io(path: directory.path, reason: "no such folder (or zip archive)")
        }
        // A file is found under its own name or gzipped (`ratings.csv.gz`).
        func find(_ names: [String]) -> URL? {
            names.lazy.flatMap { [$0, $0 + ".gz"] }.map { directory.appendingPathComponent($0) }
                .first { FileManager.default.fileExists(atPath: $0.path) }
        }
        let files = try assemble(directory: directory, explicit: explicit, find: find)
        // A FIFO or a device under a data file's name would block the reader forever.
        for url in [files.ratings, files.movies, files.tags, files.links, files.genomeScores, files.genomeTags].compactMap({ $0 }) {
            try requireRegularFile(url.path)
        }
        return files
    }

    /// The files of a zip archive as downloaded (`ml-20m.zip`, `ml-latest-small.zip`, `ml-1m.zip`,
    /// `ml-100k.zip`): the folder inside that holds a ratings file (the shallowest, when several
    /// do). Each file is a URL through the archive (`ml-20m.zip/ml-20m/ratings.csv`), which every
    /// loader reads by inflating the entry as it parses.
    /// - Throws: ``MovieLensError/missingFile(kind:directory:lookedFor:)`` when no folder of the
    ///   archive holds ratings or movies; ``MovieLensError/io(path:reason:)`` for an unreadable archive.
    static func discover(inArchive archiveURL: URL, ratings explicit: URL?) throws -> DatasetFiles {
        let archive = try ZipArchive(path: archiveURL.path)
        let names = Set(archive.entries.filter { !$0.isDirectory }.map(\.name))
        let ratingsEntry = archive.entries.filter { !$0.isDirectory && ratingNames.contains(($0.name as NSString).lastPathComponent) }
            .min { ($0.name.split(separator: "/").count, $0.name) < ($1.name.split(separator: "/").count, $1.name) }
        guard explicit != nil || ratingsEntry != nil else {
            throw MovieLensError.missingFile(kind: "ratings", directory: archiveURL.path, lookedFor: ratingNames.map { "*/" + $0 })
        }
        let folder = ratingsEntry.map { ($0.name as NSString).deletingLastPathComponent } ?? ""
        let directory = folder.isEmpty ? archiveURL : archiveURL.appendingPathComponent(folder)
        func find(_ candidates: [String]) -> URL? {
            candidates.first { names.contains(folder.isEmpty ? $0 : folder + "/" + $0) }.map { directory.appendingPathComponent($0) }
        }
        return try assemble(directory: directory, explicit: explicit, find: find)
    }

    /// The files `find` locates in `directory`, named as the ratings file's format has them.
    private static func assemble(directory: URL, explicit: URL?, find: ([String]) -> URL?) throws -> DatasetFiles {
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
        return DatasetFiles(
            directory: directory, format: format, ratings: ratings, movies: movies,
            tags: find(format == .dat ? ["tags.dat"] : ["tags.csv", "tag.csv"]),
            links: find(["links.csv", "link.csv"]),
            genomeScores: find(["genome-scores.csv", "genome_scores.csv"]),
            genomeTags: find(["genome-tags.csv", "genome_tags.csv"]))
    }

    /// Whether `url` names a readable file: a regular file, or an entry of a zip archive
    /// (`ml-100k.zip/ml-100k/u1.base`).
    public static func exists(_ url: URL) -> Bool { (try? DataInput.open(url)) != nil }

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
        switch ratingsName.hasSuffix(".gz") ? String(ratingsName.dropLast(3)) : ratingsName {
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
        let name = url.lastPathComponent.hasSuffix(".gz") ? String(url.lastPathComponent.dropLast(3)) : url.lastPathComponent
        if ["ratings.csv", "rating.csv", "ratings.dat", "u.data"].contains(name) { return Self(ratingsName: name) }
        switch (name as NSString).pathExtension {
        case "dat": return .dat
        case "base", "test": return .ml100k
        default: break
        }
        let input = try DataInput.open(url)
        let stream = try ChunkStream(input, chunkSize: 4096)
        let head = String(decoding: try stream.next().map(Array.init) ?? [], as: UTF8.self)
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
