import Foundation
import LinearAlgebra
import MovieLens

/// The recommender's data preparation, as its design describes it, in one reproducible step:
/// genre TF-IDF + SVD embeddings, genre balancing, activity filtering, min–max normalisation and
/// tag-genome SVD embeddings joined to the movies.
///
/// ```swift
/// let data = try MovieLensDataset.load(from: URL(fileURLWithPath: "data/ml-latest-small"))
/// let prepared = try Preparation(options: .init()).run(data, kernels: Backend.default.makeKernels())
/// try prepared.write(to: URL(fileURLWithPath: "/tmp/prepared"))
/// ```
public struct Preparation: Sendable {
    /// Every number of the pipeline (defaults in brackets in the CLI help).
    public struct Options: Sendable, Codable, Hashable {
        public var genreDimensions = 10
        public var tagDimensions = 10
        /// `nil` keeps every movie (`--no-balance`).
        public var balancing: GenreBalancing? = GenreBalancing()
        public var filter = RatingFilter()
        public var seed: UInt64 = 0
        public var threads = Parallel.cores

        public init() {}

        enum CodingKeys: String, CodingKey { case genreDimensions, tagDimensions, dramaKeepFraction, otherToComedyRatio, balance, minMovieRatings, minUserRatings, kCore, seed }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(genreDimensions, forKey: .genreDimensions)
            try c.encode(tagDimensions, forKey: .tagDimensions)
            try c.encode(balancing != nil, forKey: .balance)
            try c.encodeIfPresent(balancing?.dramaKeepFraction, forKey: .dramaKeepFraction)
            try c.encodeIfPresent(balancing?.otherToComedyRatio, forKey: .otherToComedyRatio)
            try c.encode(filter.minMovieRatings, forKey: .minMovieRatings)
            try c.encode(filter.minUserRatings, forKey: .minUserRatings)
            try c.encode(filter.kCore, forKey: .kCore)
            try c.encode(seed, forKey: .seed)
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            genreDimensions = try c.decode(Int.self, forKey: .genreDimensions)
            tagDimensions = try c.decode(Int.self, forKey: .tagDimensions)
            seed = try c.decode(UInt64.self, forKey: .seed)
            balancing = try c.decode(Bool.self, forKey: .balance)
                ? GenreBalancing(dramaKeepFraction: try c.decode(Double.self, forKey: .dramaKeepFraction),
                                 otherToComedyRatio: try c.decode(Double.self, forKey: .otherToComedyRatio), seed: seed)
                : nil
            filter = RatingFilter(minMovieRatings: try c.decode(Int.self, forKey: .minMovieRatings),
                                  minUserRatings: try c.decode(Int.self, forKey: .minUserRatings),
                                  kCore: try c.decode(Bool.self, forKey: .kCore))
        }
    }

    public var options: Options

    public init(options: Options) { self.options = options }

    /// One timed step, reported as it finishes.
    public struct Step: Sendable, Codable {
        public var name: String
        public var seconds: Double
        public var detail: String

        public init(name: String, seconds: Double, detail: String) {
            self.name = name
            self.seconds = seconds
            self.detail = detail
        }
    }

    /// Runs every step on `dataset` with `kernels`; `progress` hears each step as it finishes.
    public func run(_ dataset: MovieLensDataset, kernels: any Kernels,
                    progress: (Step) -> Void = { _ in }) throws -> PreparedData {
        guard options.genreDimensions > 0, options.tagDimensions > 0 else {
            throw PreparationError.invalidParameter("embedding dimensions must be positive")
        }
        if let b = options.balancing, !(0...1).contains(b.dramaKeepFraction) || b.otherToComedyRatio < 0 {
            throw PreparationError.invalidParameter("--drama-keep must be in 0…1 and --other-ratio ≥ 0")
        }
        var steps = [Step]()
        func timed<T>(_ name: String, _ body: () throws -> (T, String)) rethrows -> T {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let (value, detail) = try body()
            let step = Step(name: name, seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, detail: detail)
            steps.append(step)
            progress(step)
            return value
        }
        let movies = dataset.movies

        // 1. Genre TF-IDF and its SVD, over the whole catalogue.
        let genre = try timed("genre TF-IDF + SVD") { () -> (GenreEmbedding, String) in
            let e = try GenreEmbedding(movies: movies, dimensions: options.genreDimensions, kernels: kernels, seed: options.seed)
            return (e, e.summary)
        }
        guard let genreSVD = genre.svd else { throw PreparationError.invalidParameter("no movie has a genre: nothing to embed") }

        // 2. Balancing.
        let (keep, balance) = timed("genre balancing") { () -> (([Bool], GenreBalancing.Report?), String) in
            guard var b = options.balancing else { return (([Bool](repeating: true, count: movies.count), nil), "off") }
            b.seed = options.seed
            let (keep, report) = b.select(movies)
            let detail = "Drama \(report.before["Drama"] ?? 0)→\(report.after["Drama"] ?? 0), Comedy \(report.before["Comedy"] ?? 0)→\(report.after["Comedy"] ?? 0), Other \(report.before["Other"] ?? 0)→\(report.after["Other"] ?? 0); labels: Drama \(String(format: "%.1f", report.dramaLabelShare * 100))%, Comedy \(String(format: "%.1f", report.comedyLabelShare * 100))%"
            return ((keep, report), detail)
        }
        let balancedIDs = IDMap(movies.indices.filter { keep[$0] }.map { movies[$0].id })

        // 3. Cleaning.
        let (kept, filterReport) = timed("activity filter") { () -> (([Int], RatingFilter.Report), String) in
            let (indices, report) = options.filter.keptRatings(dataset.ratings, allowedMovies: balancedIDs, threads: options.threads)
            return ((indices, report), "movies > \(options.filter.minMovieRatings), users > \(options.filter.minUserRatings)\(options.filter.kCore ? " (k-core, \(report.rounds) rounds)" : ""): \(report.ratingsKept) ratings, \(report.usersKept) users, \(report.moviesKept) movies")
        }
        guard !kept.isEmpty else { throw PreparationError.noRatingsLeft }

        // 4. Normalisation.
        let (ratings, normalized, scaler) = try timed("min-max normalisation") { () -> ((Ratings, [Float], MinMaxScaler), String) in
            let r = dataset.ratings.subset(kept, threads: options.threads)
            let scaler = try MinMaxScaler(fitting: r.values)
            return ((r, r.values.map(scaler.transform), scaler), "[\(scaler.minimum), \(scaler.maximum)] → [0, 1]")
        }

        // Output movies: the balanced movies that survived the filter, ascending id.
        let outputIDs = IDMap(ratings.movieIDs)
        let catalogue = IDMap(movies.map(\.id))
        let outputMovies = outputIDs.ids.compactMap { id in catalogue.index(of: id).map { movies[$0] } }
        var genreEmbeddings = Matrix(rows: outputMovies.count, cols: genreSVD.embeddings.cols)
        for (row, movie) in outputMovies.enumerated() {
            guard let source = catalogue.index(of: movie.id) else { continue }
            for j in 0..<genreSVD.embeddings.cols { genreEmbeddings[row, j] = genreSVD.embeddings[source, j] }
        }

        // 5. Tag genome.
        let tagDims = options.tagDimensions
        let (tagEmbeddings, hasGenome, tagSVD) = try timed("tag genome SVD + join") { () -> ((Matrix, [Bool], SVDEmbedding?), String) in
            guard let genome = dataset.genome, genome.movies.count > 0 else {
                return ((Matrix(rows: outputMovies.count, cols: tagDims), [Bool](repeating: false, count: outputMovies.count), nil),
                        "no genome files: tag embeddings are zero")
            }
            let e = try TagGenomeEmbedding(genome: genome, dimensions: tagDims, kernels: kernels, seed: options.seed)
            let (embeddings, flags) = e.aligned(to: outputMovies.map(\.id), columns: tagDims)
            let joined = flags.filter { $0 }.count
            return ((embeddings, flags, e.svd), "\(e.summary); \(joined) of \(outputMovies.count) movies have genome data")
        }

        let summary = PreparationSummary(
            options: options, backend: kernels.backend.rawValue,
            input: .init(movies: movies.count, ratings: dataset.ratings.count, users: IDMap(dataset.ratings.userIDs).count),
            balancing: balance, moviesAfterBalancing: balancedIDs.count, filter: filterReport,
            output: .init(movies: outputMovies.count, ratings: ratings.count, users: IDMap(ratings.userIDs).count),
            ratingScale: [scaler.minimum, scaler.maximum],
            genreSVD: .init(genreSVD), tagSVD: tagSVD.map(PreparationSummary.SVDInfo.init),
            moviesWithGenome: hasGenome.filter { $0 }.count, steps: steps)
        return PreparedData(movies: outputMovies.map { PreparedMovie(movie: $0) }, hasGenome: hasGenome,
                            genreEmbeddings: genreEmbeddings, tagEmbeddings: tagEmbeddings,
                            ratings: ratings, normalizedRatings: normalized, scaler: scaler, summary: summary)
    }
}

/// A movie of the prepared set.
public struct PreparedMovie: Sendable, Codable, Hashable {
    public var id: Int32
    public var title: String
    public var genres: [String]
    public var mainGenre: MainGenre

    public init(movie: Movie) {
        id = movie.id
        title = movie.title
        genres = movie.genres
        mainGenre = MainGenre(genres: movie.genres)
    }
}

/// What `prepare.json` holds: counts after every step, explained variance, seed, backend, timings.
public struct PreparationSummary: Sendable, Codable {
    public struct Counts: Sendable, Codable, Equatable { public var movies: Int; public var ratings: Int; public var users: Int }
    public struct SVDInfo: Sendable, Codable {
        public var dimensions: Int
        public var singularValues: [Float]
        public var explainedVarianceRatio: [Double]
        public var explainedVarianceTotal: Double
        init(_ e: SVDEmbedding) {
            dimensions = e.embeddings.cols
            singularValues = e.singularValues
            explainedVarianceRatio = e.explainedVarianceRatio
            explainedVarianceTotal = e.explainedVarianceRatio.reduce(0, +)
        }
    }
    public var options: Preparation.Options
    public var backend: String
    public var input: Counts
    public var balancing: GenreBalancing.Report?
    public var moviesAfterBalancing: Int
    public var filter: RatingFilter.Report
    public var output: Counts
    public var ratingScale: [Float]
    public var genreSVD: SVDInfo
    public var tagSVD: SVDInfo?
    public var moviesWithGenome: Int
    public var steps: [Preparation.Step]
    /// The set of files written together (in `prepare.json` only, which is written last): what a
    /// reader checks so that files of different or interrupted runs are never mixed.
    public var files: PreparedFiles? = nil
}

/// The sizes of the files of one `prepare` run and the checksum `prepared.bin` ends with.
public struct PreparedFiles: Sendable, Codable, Equatable {
    public var moviesCSVBytes: Int
    public var ratingsCSVBytes: Int
    public var binaryBytes: Int
    /// The checksum in `prepared.bin`'s last 8 bytes, in hex.
    public var binaryChecksum: String
}
