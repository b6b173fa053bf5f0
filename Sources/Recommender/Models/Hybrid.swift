import Foundation
import LinearAlgebra
import MovieLens

/// How the hybrid recommender mixes its two signals.
///
///     score(i) = w_content · scaled(content(i)) + w_cf · scaled(cf(i))
///
/// `content(i)` is the cosine between movie `i`'s content vector and the query (the movie just
/// watched, or else the user's profile: the normalised mean of their well-rated movies' vectors);
/// `cf(i)` is the matrix-factorization score `x_u · y_i`. `scaled` is min–max over the candidates of
/// this one query, mapping the best candidate to 1 and the worst to 0. Why min–max per query: the two
/// raw scales are unrelated (a cosine in [−1, 1]; an ALS score whose range depends on the user's
/// activity), so fixed mappings would let one part swamp the other; per-query min–max makes each
/// part span exactly [0, 1] over the movies being ranked, so the weights mean what they say
/// (0.8 / 0.2 ⇒ content moves a score four times as far as CF). It is monotone, so each part alone
/// ranks as before; rank-based scaling was the alternative but discards how far apart scores are.
public struct HybridBlend: Sendable, Codable, Hashable {
    public var contentWeight: Float
    public var collaborativeWeight: Float

    public init(contentWeight: Float = 0.8, collaborativeWeight: Float = 0.2) {
        self.contentWeight = contentWeight
        self.collaborativeWeight = collaborativeWeight
    }

    /// Rescales `content` and `collaborative` in place to [0, 1] over the entries that are finite in
    /// `content` (masked candidates hold −∞ there) and writes the blend into `out` (−∞ where masked).
    /// - Complexity: O(n).
    public func blend(content: UnsafeMutablePointer<Float>, collaborative: UnsafeMutablePointer<Float>,
                      into out: UnsafeMutablePointer<Float>, count n: Int) {
        Self.minMaxScale(content, n, mask: content)
        Self.minMaxScale(collaborative, n, mask: content)
        for i in 0..<n {
            out[i] = content[i] == -.infinity ? -.infinity : contentWeight * content[i] + collaborativeWeight * collaborative[i]
        }
    }

    /// `x ← (x − min) / (max − min)` over the entries where `mask` is finite (all 0.5 if they are equal).
    static func minMaxScale(_ x: UnsafeMutablePointer<Float>, _ n: Int, mask: UnsafeMutablePointer<Float>) {
        var lo = Float.infinity, hi = -Float.infinity
        for i in 0..<n where mask[i] != -.infinity { lo = min(lo, x[i]); hi = max(hi, x[i]) }
        guard lo <= hi else { return }
        let span = hi - lo
        for i in 0..<n where mask[i] != -.infinity { x[i] = span > 0 ? (x[i] - lo) / span : 0.5 }
    }
}

/// The hybrid recommender: content cosine (``ContentRecommender``) blended with implicit ALS
/// (``ImplicitALS``) by ``HybridBlend``; each recommendation carries both scaled parts and the
/// liked (or watched) movie that drove its content part.
public struct HybridRecommender: RecommenderModel {
    public static let name = "hybrid"
    public static let needsContent = true

    public var content: ContentRecommender
    public var collaborative: ImplicitALS
    public var blend: HybridBlend

    /// Fits implicit ALS with `options` beside the content vectors; the weights are `options.blend`.
    /// - Throws: ``RecommenderError/invalidOptions(model:reason:)`` for negative weights or both 0.
    public static func fit(_ data: TrainingSet, options: TrainedModel.Options, kernels: any Kernels,
                           progress: (TrainingEvent) -> Void) throws -> HybridRecommender {
        try validate(options.blend)
        let content = try ContentRecommender.fit(data, options: options, kernels: kernels, progress: progress)
        return HybridRecommender(content: content, collaborative: try ImplicitALS.fit(data, options: options, kernels: kernels, progress: progress),
                                 blend: options.blend)
    }

    public static func validate(_ options: TrainedModel.Options) throws {
        try validate(options.blend)
        try ImplicitALS.validate(options)
    }

    static func validate(_ blend: HybridBlend) throws {
        let (c, f) = (blend.contentWeight, blend.collaborativeWeight)
        guard c >= 0, f >= 0, c + f > 0, c.isFinite, f.isFinite else {
            throw RecommenderError.invalidOptions(model: name, reason: "weights must be non-negative and not both 0")
        }
    }

    public static func decode(from archive: ModelArchive) throws -> HybridRecommender {
        try validate(archive.options.blend)
        return HybridRecommender(content: try ContentRecommender.decode(from: archive), collaborative: try ImplicitALS.decode(from: archive),
                                 blend: archive.options.blend)
    }

    public func encode(into archive: inout ModelArchive) throws {
        try collaborative.encode(into: &archive)
        try content.encode(into: &archive)
    }

    public var label: String { "hybrid (\(blend.contentWeight) content / \(blend.collaborativeWeight) CF)" }
    public var explainsParts: Bool { true }

    /// Both parts scored (content masked to the candidates), then blended per row.
    public func score(_ block: ScoringBlock, into scores: MutableMatrixView, parts: ScoreParts?, kernels: any Kernels) throws {
        let n = scores.cols, rows = block.queries.count
        var ownContent = Matrix(rows: parts == nil ? rows : 0, cols: n)
        var ownCF = Matrix(rows: parts == nil ? rows : 0, cols: n)
        try ownContent.withMutableView { oc in
            try ownCF.withMutableView { of in
                let (c, f) = parts.map { ($0.content, $0.collaborative) } ?? (oc, of)
                try content.score(block, into: c, parts: nil, kernels: kernels)
                try collaborative.collaborativeScores(block.queries, into: f, kernels: kernels)
                block.mask(c)
                for r in 0..<rows {
                    blend.blend(content: c.base + r * c.stride, collaborative: f.base + r * f.stride,
                                into: scores.base + r * scores.stride, count: n)
                }
            }
        }
    }

    /// Content cosine and item-factor cosine, blended with the model's weights.
    public func similarItems(to item: Int, kernels: any Kernels) throws -> SimilarScores {
        var c = content.vectors.withView { $0.cosines(toRow: item) }, f = collaborative.itemFactors.withView { $0.cosines(toRow: item) }
        c[item] = -.infinity
        var scores = [Float](repeating: 0, count: c.count)
        blend.blend(content: &c, collaborative: &f, into: &scores, count: c.count)
        return SimilarScores(scores: scores, content: c, collaborative: f)
    }

    public func explanation(for item: Int, query: TrainedModel.Query) -> Int? { content.explanation(for: item, query: query) }
}
