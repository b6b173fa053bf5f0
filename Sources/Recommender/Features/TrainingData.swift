import Foundation
import LinearAlgebra
import MovieLens

/// What the models train on, from either kind of folder: a folder written by `movierec prepare`
/// (its kept ratings and its genre + tag embeddings) or a raw MovieLens folder (every rating, and
/// content embeddings built on the spot by ``ContentEmbeddings/init(dataset:genreDimensions:tagDimensions:kernels:seed:)``).
public struct TrainingData: Sendable {
    public var ratings: Ratings
    public var movies: [Movie]
    /// Content vectors (nil when not asked for).
    public var content: ContentEmbeddings?
    /// Whether the folder was a prepared one.
    public var prepared: Bool

    public init(ratings: Ratings, movies: [Movie], content: ContentEmbeddings?, prepared: Bool) {
        self.ratings = ratings
        self.movies = movies
        self.content = content
        self.prepared = prepared
    }

    /// The kept ratings of `prepared` data and, when `content` is true, its genre + tag embeddings.
    public init(prepared p: PreparedData, content: Bool) throws {
        self.init(ratings: p.ratings, movies: p.movies.map { Movie(id: $0.id, title: $0.title, genres: $0.genres) },
                  content: content ? try ContentEmbeddings(prepared: p) : nil, prepared: true)
    }

    /// Loads `directory` with `kernels.threads` parsing threads; builds content embeddings only
    /// when `content` is true.
    public static func load(from directory: URL, content: Bool, kernels: any Kernels, seed: UInt64 = 0,
                            policy: ErrorPolicy = .strict) throws -> TrainingData {
        if FileManager.default.fileExists(atPath: directory.appendingPathComponent("prepared.bin").path) {
            return try TrainingData(prepared: try PreparedData.load(from: directory), content: content)
        }
        let dataset = try MovieLensDataset.load(from: directory, options: loadOptions(content: content, kernels: kernels, policy: policy))
        return TrainingData(ratings: dataset.ratings, movies: dataset.movies,
                            content: content ? try ContentEmbeddings(dataset: dataset, kernels: kernels, seed: seed) : nil,
                            prepared: false)
    }

    /// Loads a given split: `train` and `test` ratings files in any format the loaders read (told
    /// apart by ``DatasetFiles/Format/detect(_:)``), movies (and the genome, for `content`) from
    /// `directory`, or from the train file's folder when it is nil. The result's ratings are the
    /// train ratings.
    public static func load(train: URL, test: URL, movies directory: URL?, content: Bool, kernels: any Kernels, seed: UInt64 = 0,
                            policy: ErrorPolicy = .strict) throws -> (data: TrainingData, split: RatingSplit) {
        let files = try DatasetFiles.discover(in: directory ?? train.deletingLastPathComponent(), ratings: train)
        let dataset = try MovieLensDataset.load(files: files, options: loadOptions(content: content, kernels: kernels, policy: policy))
        try requireRegularFile(test.path)
        let (testRatings, _) = try Ratings.load(test, format: try DatasetFiles.Format.detect(test), policy: policy, threads: kernels.threads)
        let data = TrainingData(ratings: dataset.ratings, movies: dataset.movies,
                                content: content ? try ContentEmbeddings(dataset: dataset, kernels: kernels, seed: seed) : nil,
                                prepared: false)
        return (data, RatingSplit(train: dataset.ratings, test: testRatings))
    }

    /// What training reads: ratings, movies, and the genome only for content.
    private static func loadOptions(content: Bool, kernels: any Kernels, policy: ErrorPolicy) -> MovieLensDataset.Options {
        var options = MovieLensDataset.Options()
        options.policy = policy
        options.threads = kernels.threads
        options.loadTags = false
        options.loadLinks = false
        options.loadGenome = content
        return options
    }
}
