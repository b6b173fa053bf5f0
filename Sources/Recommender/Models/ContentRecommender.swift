import Foundation
import LinearAlgebra
import MovieLens

/// Content-based ranking: the cosine between each movie's content vector (``ContentEmbeddings``:
/// genres and tag genome) and the query — the movie just watched, or else the user's profile,
/// the normalised sum of their liked movies' vectors. Needs no interactions beyond the user's own,
/// so it ranks movies nobody has rated.
public struct ContentRecommender: RecommenderModel {
    public static let name = "content"
    public static let needsContent = true

    /// items × content dims, unit rows (zero rows for movies without content).
    public var vectors: Matrix

    public init(vectors: Matrix) { self.vectors = vectors }

    public static func fit(_ data: TrainingSet, options: TrainedModel.Options, kernels: any Kernels,
                           progress: (TrainingEvent) -> Void) throws -> ContentRecommender {
        ContentRecommender(vectors: try data.requireContent(for: name))
    }

    public static func decode(from archive: ModelArchive) throws -> ContentRecommender {
        ContentRecommender(vectors: try archive.matrix("content", rows: archive.items))
    }

    public func encode(into archive: inout ModelArchive) throws { archive.set("content", matrix: vectors) }

    public var label: String { "content only (cosine to profile)" }

    public var itemVectors: Matrix? { vectors }

    /// `P_block·Cᵀ`: one GEMM of the queries' profile vectors against every movie's.
    public func score(_ block: ScoringBlock, into scores: MutableMatrixView, parts: ScoreParts?, kernels: any Kernels) throws {
        let d = vectors.cols
        var p = Matrix(rows: block.queries.count, cols: d)
        vectors.withView { c in
            p.withMutableView { pv in
                for (r, q) in block.queries.enumerated() {
                    let row = pv.base + r * pv.stride
                    if let w = q.watched {
                        row.update(from: c.base + w * c.stride, count: d)
                    } else {
                        for (i, _) in q.liked { VectorOps.axpy(1, c.base + i * c.stride, row, d) }
                        VectorMath.normalize(row, d)
                    }
                }
            }
        }
        try p.withView { pv in try vectors.withView { c in try kernels.gemm(.none, .transposed, alpha: 1, pv, c, beta: 0, scores) } }
    }

    /// Content cosine.
    public func similarItems(to item: Int, kernels: any Kernels) throws -> SimilarScores {
        SimilarScores(scores: vectors.withView { $0.cosines(toRow: item) })
    }

    /// The watched movie, else the liked movie nearest to `item` in content.
    public func explanation(for item: Int, query: TrainedModel.Query) -> Int? {
        if let w = query.watched { return w }
        let d = vectors.cols
        return vectors.withView { c in
            let target = c.base + item * c.stride
            return query.liked.map { ($0.item, VectorOps.dot(c.base + $0.item * c.stride, target, d)) }.max { $0.1 < $1.1 }?.0
        }
    }
}
