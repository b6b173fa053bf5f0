import Foundation
import LinearAlgebra
import MovieLens

/// Each movie's genres as a dense vector: the ``GenreTFIDF`` of its genre list reduced by a
/// truncated SVD (``SVDEmbedding``) to at most `dimensions` columns (no more than there are genres).
/// A catalogue without any genre gets zero columns.
public struct GenreEmbedding: Sendable {
    public let tfidf: GenreTFIDF
    /// The SVD (nil when the vocabulary is empty).
    public let svd: SVDEmbedding?

    /// movies × dims, rows aligned with the movies given.
    public var vectors: Matrix { svd?.embeddings ?? Matrix(rows: tfidf.matrix.rows, cols: 0) }

    /// Embeds `movies` (in their order).
    /// - Complexity: O(movies × genres × dims), randomized SVD.
    public init(movies: [Movie], dimensions: Int, kernels: any Kernels, seed: UInt64) throws {
        tfidf = GenreTFIDF(genres: movies.map(\.genres))
        svd = tfidf.vocabulary.isEmpty ? nil
            : try SVDEmbedding(tfidf.matrix, dims: min(dimensions, tfidf.vocabulary.count), kernels: kernels, seed: seed)
    }

    /// "9742 movies × 20 genres → 10 dims, explained variance 0.853".
    public var summary: String {
        "\(tfidf.matrix.rows) movies × \(tfidf.vocabulary.count) genres → \(vectors.cols) dims, explained variance \(String(format: "%.3f", svd?.explainedVarianceRatio.reduce(0, +) ?? 0))"
    }
}

/// Each genome movie's tag relevances as a dense vector: the truncated SVD of the movies × tags
/// relevance matrix to at most `dimensions` columns.
public struct TagGenomeEmbedding: Sendable {
    /// The genome's movies; row `i` of the SVD is `movies.ids[i]`.
    public let movies: IDMap
    public let svd: SVDEmbedding

    /// - Throws: ``LinearAlgebraError`` when the SVD fails.
    /// - Complexity: O(movies × tags × dims), randomized SVD.
    public init(genome: Genome, dimensions: Int, kernels: any Kernels, seed: UInt64) throws {
        movies = genome.movies
        svd = try SVDEmbedding(genome.relevance, dims: min(dimensions, genome.tagIDs.count, genome.movies.count), kernels: kernels, seed: seed)
    }

    /// The vectors of `ids` in their order, `columns` wide (zero rows and `false` for movies the
    /// genome lacks; extra columns stay zero), and which of them the genome has.
    public func aligned(to ids: [Int32], columns: Int? = nil) -> (vectors: Matrix, present: [Bool]) {
        let e = svd.embeddings
        var out = Matrix(rows: ids.count, cols: columns ?? e.cols)
        var present = [Bool](repeating: false, count: ids.count)
        let width = min(out.cols, e.cols)
        for (row, id) in ids.enumerated() {
            guard let g = movies.index(of: id) else { continue }
            present[row] = true
            for j in 0..<width { out[row, j] = e[g, j] }
        }
        return (out, present)
    }

    /// "1084 × 1128 → 10 dims, explained variance 0.512".
    public var summary: String {
        "\(svd.embeddings.rows) × \(svd.components.cols) → \(svd.embeddings.cols) dims, explained variance \(String(format: "%.3f", svd.explainedVarianceRatio.reduce(0, +)))"
    }
}
