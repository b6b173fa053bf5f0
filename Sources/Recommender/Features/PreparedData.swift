import Foundation
import LinearAlgebra
import MovieLens

/// The output of ``Preparation``: the kept movies with their genre and tag embeddings, the kept
/// ratings (original and normalised) and the summary. Written as CSV for people and other tools,
/// and as a compact checksummed binary (`prepared.bin`) that the models load quickly.
public struct PreparedData: Sendable {
    public var movies: [PreparedMovie]
    /// Whether each movie had tag-genome data (its tag embedding is zero otherwise).
    public var hasGenome: [Bool]
    /// movies × genre dims.
    public var genreEmbeddings: Matrix
    /// movies × tag dims.
    public var tagEmbeddings: Matrix
    /// Kept ratings with their original stars.
    public var ratings: Ratings
    /// `ratings.values` scaled to [0, 1].
    public var normalizedRatings: [Float]
    public var scaler: MinMaxScaler
    public var summary: PreparationSummary

    static let magic = "MRPREP01"
    static let version: UInt32 = 1

    /// The files ``write(to:threads:)`` produces.
    public static let fileNames = ["final_movies_with_embeddings.csv", "final_filtered_ratings.csv", "prepared.bin", "prepare.json"]

    /// Writes the four files into `directory`, each atomically (temporary file, then rename), and
    /// `prepare.json` last naming the set (each file's size, `prepared.bin`'s checksum): a failed
    /// run leaves no partial file, and a reader refuses a folder whose files are not one set — an
    /// interrupted run over an earlier output, or two runs at once.
    public func write(to directory: URL, threads: Int = Parallel.cores) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let moviesBytes = try writeMoviesCSV(to: directory.appendingPathComponent("final_movies_with_embeddings.csv"))
        let input = UnsafeSendableBox((ratings, normalizedRatings))
        let ratingsBytes = try AtomicFileWriter.writeBlocks(to: directory.appendingPathComponent("final_filtered_ratings.csv"),
                                         header: "userId,movieId,rating,original_rating,timestamp\n",
                                         count: ratings.count, blockSize: 1 << 16, threads: threads) { rows, text in
            let (r, normalized) = input.value
            text.bytes.reserveCapacity(rows.count * 40)
            for i in rows {
                text.appendLine { line in
                    line.integer(Int64(r.userIDs[i])); line.byte(44)
                    line.integer(Int64(r.movieIDs[i])); line.byte(44)
                    line.number(Double(normalized[i]), places: 6); line.byte(44)
                    line.number(Double(r.values[i]), places: 1); line.byte(44)
                    line.integer(r.timestamps[i]); line.byte(10)
                }
            }
        }
        let archive = try archive()
        let checksum = try archive.write(to: directory.appendingPathComponent("prepared.bin"))
        var manifest = summary
        manifest.files = PreparedFiles(moviesCSVBytes: moviesBytes, ratingsCSVBytes: ratingsBytes, binaryBytes: archive.byteCount,
                                       binaryChecksum: String(checksum, radix: 16))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFileWriter.write(Array(try encoder.encode(manifest)) + [10], to: directory.appendingPathComponent("prepare.json"))
    }

    /// Throws unless the files in `directory` are the set its `prepare.json` names. A folder whose
    /// `prepare.json` has no file list (written before the list existed) is taken as it is.
    static func checkSet(in directory: URL) throws {
        let manifestURL = directory.appendingPathComponent("prepare.json")
        func broken(_ reason: String) -> ArchiveError {
            ArchiveError.badSection(path: directory.path, name: "prepare.json", reason: reason + ": run movierec prepare again")
        }
        guard let data = try? Data(contentsOf: manifestURL) else {
            throw broken("missing, so the folder holds no complete set (an interrupted prepare?)")
        }
        guard let summary = try? JSONDecoder().decode(PreparationSummary.self, from: data) else { throw broken("unreadable") }
        guard let files = summary.files else { return }
        func size(_ name: String) -> Int {
            (try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(name).path)[.size] as? Int) ?? -1
        }
        let bin = directory.appendingPathComponent("prepared.bin")
        let trailer: String? = {
            guard let handle = try? FileHandle(forReadingFrom: bin) else { return nil }
            defer { try? handle.close() }
            guard let end = try? handle.seekToEnd(), end >= 8 else { return nil }
            try? handle.seek(toOffset: end - 8)
            guard let bytes = try? handle.read(upToCount: 8), bytes.count == 8 else { return nil }
            return String(bytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }, radix: 16)
        }()
        guard size("final_movies_with_embeddings.csv") == files.moviesCSVBytes, size("final_filtered_ratings.csv") == files.ratingsCSVBytes,
              size("prepared.bin") == files.binaryBytes, trailer == files.binaryChecksum else {
            throw broken("the files are not the set it names (written by different runs, or one was interrupted)")
        }
    }

    /// Writes the movies CSV; returns its size.
    func writeMoviesCSV(to url: URL) throws -> Int {
        var text = TextBuffer()
        let g = genreEmbeddings.cols, t = tagEmbeddings.cols
        text.append("movieId,title,genres,main_genre,has_genome")
        for j in 0..<g { text.append(",genre_emb_\(j)") }
        for j in 0..<t { text.append(",tag_emb_\(j)") }
        text.append(UInt8(ascii: "\n"))
        for (i, m) in movies.enumerated() {
            text.append(m.id); text.append(UInt8(ascii: ","))
            text.appendCSVField(m.title); text.append(UInt8(ascii: ","))
            text.appendCSVField(m.genres.isEmpty ? "(no genres listed)" : m.genres.joined(separator: "|")); text.append(UInt8(ascii: ","))
            text.append(m.mainGenre.rawValue); text.append(UInt8(ascii: ","))
            text.append(hasGenome[i] ? "1" : "0")
            for j in 0..<g { text.append(UInt8(ascii: ",")); text.append(Double(genreEmbeddings[i, j]), decimals: 6) }
            for j in 0..<t { text.append(UInt8(ascii: ",")); text.append(Double(tagEmbeddings[i, j]), decimals: 6) }
            text.append(UInt8(ascii: "\n"))
        }
        try AtomicFileWriter.write(text.bytes, to: url)
        return text.bytes.count
    }

    /// The binary file's contents. Its summary carries no timings, so the same data, options, seed
    /// and backend give a byte-identical `prepared.bin`; `prepare.json` adds the step timings.
    func archive() throws -> BinaryArchive {
        var a = BinaryArchive(magic: Self.magic, version: Self.version)
        var stable = summary
        stable.steps = summary.steps.map { Preparation.Step(name: $0.name, seconds: 0, detail: $0.detail) }
        try a.set("summary", json: stable)
        try a.set("movies", json: movies)
        a.set("hasGenome", bytes: hasGenome.map { $0 ? 1 : 0 })
        a.set("genreEmbeddings", floats: genreEmbeddings.elements)
        a.set("tagEmbeddings", floats: tagEmbeddings.elements)
        a.set("userIDs", ints: ratings.userIDs)
        a.set("movieIDs", ints: ratings.movieIDs)
        a.set("ratings", floats: ratings.values)
        a.set("normalized", floats: normalizedRatings)
        a.set("timestamps", longs: ratings.timestamps)
        try a.set("scaler", json: scaler)
        return a
    }

    /// Loads `prepared.bin` from a folder written by ``write(to:threads:)`` — checking first that
    /// the folder's files are the set its `prepare.json` names — or from the file itself.
    /// - Throws: ``ArchiveError`` for a truncated, corrupted or wrong-version file, or a folder
    ///   whose files come from different or interrupted runs.
    public static func load(from url: URL) throws -> PreparedData {
        var isDirectory: ObjCBool = false
        let folder = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
        if folder { try checkSet(in: url) }
        let file = folder ? url.appendingPathComponent("prepared.bin") : url
        let a = try BinaryArchive.read(from: file, magic: magic, version: version)
        let movies = try a.json("movies", as: [PreparedMovie].self)
        let summary = try a.json("summary", as: PreparationSummary.self)
        let n = movies.count
        let genre = try a.floats("genreEmbeddings"), tag = try a.floats("tagEmbeddings")
        let g = summary.genreSVD.dimensions, t = summary.options.tagDimensions
        guard g >= 0, t >= 0, genre.count == n * g, tag.count == n * t else {
            throw ArchiveError.badSection(path: file.path, name: "embeddings", reason: "sizes do not match \(n) movies")
        }
        guard zip(movies, movies.dropFirst()).allSatisfy({ $0.id < $1.id }) else {
            throw ArchiveError.badSection(path: file.path, name: "movies", reason: "ids are not ascending and distinct")
        }
        guard genre.allSatisfy({ $0.isFinite }), tag.allSatisfy({ $0.isFinite }) else {
            throw ArchiveError.badSection(path: file.path, name: "embeddings", reason: "hold a non-finite value")
        }
        let userIDs = try a.ints("userIDs"), movieIDs = try a.ints("movieIDs"), values = try a.floats("ratings"), times = try a.longs("timestamps")
        let normalized = try a.floats("normalized")
        guard movieIDs.count == userIDs.count, values.count == userIDs.count, times.count == userIDs.count, normalized.count == userIDs.count else {
            throw ArchiveError.badSection(path: file.path, name: "ratings", reason: "the rating columns differ in length")
        }
        let hasGenome = try a.bytes("hasGenome").map { $0 != 0 }
        guard hasGenome.count == n else {
            throw ArchiveError.badSection(path: file.path, name: "hasGenome", reason: "length differs from the \(n) movies")
        }
        let ratings = Ratings(userIDs: userIDs, movieIDs: movieIDs, values: values, timestamps: times)
        return PreparedData(movies: movies, hasGenome: hasGenome,
                            genreEmbeddings: try Matrix(rows: n, cols: g, elements: genre),
                            tagEmbeddings: try Matrix(rows: n, cols: t, elements: tag),
                            ratings: ratings, normalizedRatings: normalized,
                            scaler: try a.json("scaler", as: MinMaxScaler.self), summary: summary)
    }
}
