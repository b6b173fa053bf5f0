import Foundation
import LinearAlgebra
import MovieLens

/// The content vector of every movie for the hybrid recommender and content kNN: its genre
/// embedding and its tag-genome embedding, each part scaled to unit length, side by side, and the
/// whole row scaled to unit length again.
///
/// Scaling the parts separately keeps the two halves equally influential in a cosine (the tag
/// embeddings' raw norms are ~10× the genre ones'); a movie without genome data has a zero tag half
/// and is compared on genres alone. A movie with neither has a zero row: cosine 0 with everything.
public struct ContentEmbeddings: Sendable {
    /// The movies, sorted by id; row `i` of ``vectors`` is `ids.ids[i]`.
    public let ids: IDMap
    /// movies × (genre dims + tag dims), unit rows (or zero).
    public let vectors: Matrix
    /// Each movie's strongest genome tags, aligned with ``ids`` (nil without a genome): what
    /// explanations name.
    public var topTags: [[TagScore]]?

    /// How many of a movie's tags ``topTags`` keeps.
    public static let tagProfileLength = 20

    /// Combines per-movie genre and tag embeddings (rows aligned with `ids`, which must be sorted and unique).
    public init(ids: [Int32], genre: Matrix, tag: Matrix) throws {
        guard genre.rows == ids.count, tag.rows == ids.count else {
            throw LinearAlgebraError.invalidArgument(operation: "ContentEmbeddings", detail: "\(ids.count) ids but \(genre.rows) genre and \(tag.rows) tag rows")
        }
        let g = genre.cols, t = tag.cols
        var v = Matrix(rows: ids.count, cols: g + t)
        v.withMutableView { out in
            genre.withView { gv in
                tag.withView { tv in
                    for i in 0..<ids.count {
                        let row = out.base + i * out.stride
                        Self.unitCopy(gv.base + i * gv.stride, g, into: row)
                        Self.unitCopy(tv.base + i * tv.stride, t, into: row + g)
                        VectorMath.normalize(row, g + t)
                    }
                }
            }
        }
        self.ids = IDMap(sortedUnique: ids)
        self.vectors = v
    }

    /// The content vectors of a folder written by `movierec prepare`.
    public init(prepared: PreparedData) throws {
        try self.init(ids: prepared.movies.map(\.id), genre: prepared.genreEmbeddings, tag: prepared.tagEmbeddings)
    }

    /// Builds genre TF-IDF + SVD embeddings over every movie of `dataset` and, when the dataset has a
    /// tag genome, its SVD embeddings, exactly as ``Preparation`` does (but keeping every movie).
    public init(dataset: MovieLensDataset, genreDimensions: Int = 10, tagDimensions: Int = 10, kernels: any Kernels,
                seed: UInt64 = 0) throws {
        let movies = dataset.movies.sorted { $0.id < $1.id }
        var unique = [Movie]()
        for m in movies where unique.last?.id != m.id { unique.append(m) }
        let genre = try GenreEmbedding(movies: unique, dimensions: genreDimensions, kernels: kernels, seed: seed).vectors
        var tag = Matrix(rows: unique.count, cols: 0)
        if let genome = dataset.genome, genome.movies.count > 0, genome.tagIDs.count > 0 {
            tag = try TagGenomeEmbedding(genome: genome, dimensions: tagDimensions, kernels: kernels, seed: seed).aligned(to: unique.map(\.id)).vectors
        }
        try self.init(ids: unique.map(\.id), genre: genre, tag: tag)
        if let genome = dataset.genome, genome.movies.count > 0, genome.tagIDs.count > 0 {
            topTags = Self.topTags(of: genome, movies: ids)
        }
    }

    /// The vectors of `items` in their order; zero rows for movies without content.
    public func aligned(to items: IDMap) -> Matrix {
        var out = Matrix(rows: items.count, cols: vectors.cols)
        out.withMutableView { o in
            vectors.withView { v in
                for (i, id) in items.ids.enumerated() {
                    guard let r = ids.index(of: id) else { continue }
                    (o.base + i * o.stride).update(from: v.base + r * v.stride, count: v.cols)
                }
            }
        }
        return out
    }

    /// The ``tagProfileLength`` most relevant tags of each of `movies` (none for a movie the
    /// genome does not score).
    public static func topTags(of genome: Genome, movies: IDMap) -> [[TagScore]] {
        movies.ids.map { id in
            guard let r = genome.movies.index(of: id) else { return [] }
            return genome.relevance.withView { v in
                TopK.select(UnsafeBufferPointer(start: v.base + r * v.stride, count: v.cols), k: tagProfileLength)
                    .map { TagScore(tag: genome.tagNames[$0.index], relevance: $0.value) }
            }
        }
    }

    static func unitCopy(_ src: UnsafePointer<Float>, _ n: Int, into dst: UnsafeMutablePointer<Float>) {
        dst.update(from: src, count: n)
        VectorMath.normalize(dst, n)
    }
}

/// A genome tag and how strongly it applies to a movie (0–1).
public struct TagScore: Sendable, Codable, Equatable {
    public var tag: String
    public var relevance: Float

    public init(tag: String, relevance: Float) {
        self.tag = tag
        self.relevance = relevance
    }

    /// Up to `count` tags both profiles hold, by the product of their relevances, highest first.
    public static func shared(_ a: [TagScore], _ b: [TagScore], count: Int = 3) -> [String] {
        let other = Dictionary(b.map { ($0.tag, $0.relevance) }, uniquingKeysWith: max)
        return a.compactMap { t in other[t.tag].map { (t.tag, t.relevance * $0) } }
            .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(count).map(\.0)
    }
}
