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

/// The hybrid recommender: content cosine (``ContentRecommender``) fused with a collaborative
/// model, EASE or implicit ALS. By default (``HybridFusionMode/learned``) the collaborative model
/// and the per-user weights of ``LearnedFusion`` are chosen on a validation carve of the training
/// ratings (each user's last 10 % by time) and both parts are then refitted on all of them; the
/// original design (``HybridFusionMode/minmax``: ALS, per-query min–max, fixed 0.8 / 0.2) stays
/// available. Each recommendation carries both (scaled) parts and the liked or watched movie that
/// drove its content part.
public struct HybridRecommender: RecommenderModel {
    public static let name = "hybrid"
    public static let needsContent = true

    /// The collaborative part.
    public enum Collaborative: Sendable {
        case als(ImplicitALS)
        case ease(EASE)

        var model: any RecommenderModel {
            switch self {
            case .als(let m): m
            case .ease(let m): m
            }
        }
    }

    public var content: ContentRecommender
    public var collaborative: Collaborative
    /// The learned fusion; nil: the original min–max blend with ``blend``.
    public var fusion: LearnedFusion?
    public var blend: HybridBlend

    public init(content: ContentRecommender, collaborative: Collaborative, fusion: LearnedFusion?, blend: HybridBlend) {
        self.content = content
        self.collaborative = collaborative
        self.fusion = fusion
        self.blend = blend
    }

    /// The learned fusion (``options.hybridFusion`` nil or `.learned`) or the original design
    /// (`.minmax`: implicit ALS blended with `options.blend`).
    /// - Throws: ``RecommenderError/invalidOptions(model:reason:)`` for bad weights or CF options.
    public static func fit(_ data: TrainingSet, options: TrainedModel.Options, kernels: any Kernels,
                           progress: (TrainingEvent) -> Void) throws -> HybridRecommender {
        try validate(options)
        let content = try ContentRecommender.fit(data, options: options, kernels: kernels, progress: progress)
        guard (options.hybridFusion ?? .learned) == .learned else {
            return HybridRecommender(content: content, collaborative: .als(try ImplicitALS.fit(data, options: options, kernels: kernels, progress: progress)),
                                     fusion: nil, blend: options.blend)
        }
        let fusion = try learnFusion(data, options: options, kernels: kernels, progress: progress)
        progress(.line(String(format: "hybrid: %@ chosen; w_cf(n) = σ(%.2f + %.2f·ln n) (w_cf = %.2f at 10 ratings, %.2f at 100); validation NDCG@10 %.4f fused, %.4f CF alone, %.4f content alone, %d users",
                              fusion.collaborative, fusion.a, fusion.b, fusion.cfWeight(ratings: 10), fusion.cfWeight(ratings: 100),
                              fusion.validationNDCG, fusion.validationCF, fusion.validationContent, fusion.validationUsers)))
        let cf = try fitCollaborative(fusion.collaborative, regularization: fusion.collaborativeRegularization,
                                      sideWeight: fusion.collaborativeSideWeight, data, content: data.content, options: options,
                                      kernels: kernels, progress: progress)
        return HybridRecommender(content: content, collaborative: cf, fusion: fusion, blend: options.blend)
    }

    /// The collaborative part called `name`, with `regularization` as its λ when given (else
    /// EASE's own default, or the options' λ for ALS). With `content` (aligned with `data`'s
    /// items), content goes inside it: EASE takes the content vectors as side information at
    /// `sideWeight` (none when nil or 0), and ALS predicts the factors of movies with few or no
    /// ratings from their content (``ContentToFactors``).
    static func fitCollaborative(_ name: String, regularization: Float?, sideWeight: Float? = nil, _ data: TrainingSet,
                                 content: Matrix?, options: TrainedModel.Options, kernels: any Kernels,
                                 progress: (TrainingEvent) -> Void) throws -> Collaborative {
        if name == EASE.name {
            var o = options
            o.regularization = regularization
            let side = content.flatMap { c in sideWeight.flatMap { $0 > 0 ? (vectors: c, weight: $0) : nil } }
            return .ease(try EASE.fit(data, side: side, options: o, kernels: kernels, progress: progress))
        }
        var o = options
        if let regularization { o.regularization = regularization }
        var als = try ImplicitALS.fit(data, options: o, kernels: kernels, progress: progress)
        if let content {
            var counts = [Int](repeating: 0, count: data.items.count)
            for c in data.positives.columns { counts[Int(c)] += 1 }
            let report = try ContentToFactors().apply(to: &als.itemFactors, content: content, counts: counts, kernels: kernels)
            if report.predicted > 0 {
                progress(.line("ALS: factors of \(report.predicted) movies with < \(ContentToFactors().blendBelow) positives predicted from content (ridge fit on \(report.fitted))"))
            }
        }
        return .als(als)
    }

    /// Carves 10 % of `data`'s ratings (each user's latest, or a seeded random share: ``TrainedModel/Options/hybridValidation``), fits content and the candidate
    /// collaborative models on the rest, and fits ``LearnedFusion`` on up to 2,000 (seeded) of the
    /// users with a held-out liked movie.
    static func learnFusion(_ data: TrainingSet, options: TrainedModel.Options, kernels: any Kernels,
                            progress: (TrainingEvent) -> Void) throws -> LearnedFusion {
        let choice = options.hybridCollaborative ?? .auto
        let names: [String] = switch choice {
        case .auto: data.items.count <= LearnedFusion.easeItemLimit ? [EASE.name, ImplicitALS.name] : [ImplicitALS.name]
        case .als: [ImplicitALS.name]
        case .ease: [EASE.name]
        }
        let carve = (options.hybridValidation ?? .temporal).apply(data.ratings, fraction: 0.1, seed: options.seed)
        let inner = TrainingSet(ratings: carve.train, minRating: options.minRating)
        var users = [LearnedFusion.ValidationUser]()
        let held = inner.users.indices(of: carve.test.userIDs), heldItems = inner.items.indices(of: carve.test.movieIDs)
        var relevant = [Int32: Set<Int>]()
        for r in 0..<carve.test.count where held[r] >= 0 && heldItems[r] >= 0 && carve.test.values[r] >= options.minRating {
            relevant[held[r], default: []].insert(Int(heldItems[r]))
        }
        guard !relevant.isEmpty else {
            progress(.line("hybrid: no validation users (too few ratings per user): CF and content weighed equally"))
            return LearnedFusion(a: 0, b: 0, collaborative: names[0],
                                 collaborativeRegularization: names[0] == EASE.name ? options.regularization : nil)
        }
        var g = SeededGenerator(seed: options.seed)
        let chosen = relevant.keys.sorted().shuffled(using: &g).prefix(2_000).sorted()
        for u in chosen {
            let ratings = inner.seen.range(ofRow: Int(u)).map { (item: Int(inner.seen.columns[$0]), rating: inner.seen.values[$0]) }
            users.append(.init(query: TrainedModel.Query(user: Int(u), ratings: ratings, minRating: options.minRating),
                               relevant: relevant[u] ?? []))
        }
        // Content vectors of the carve's movies, rows from the full set's aligned vectors.
        let full = try data.requireContent(for: name)
        var vectors = Matrix(rows: inner.items.count, cols: full.cols)
        for (i, id) in inner.items.ids.enumerated() {
            guard let j = data.items.index(of: id) else { continue }
            for d in 0..<full.cols { vectors[i, d] = full[j, d] }
        }
        // EASE with the λ given for it (--cf ease --regularization λ), else each of easeLambdas, each
        // with each side-information weight.
        var settings = [(name: String, regularization: Float?, side: Float?)]()
        for n in names {
            let given: [Float?] = choice == .ease && options.regularization != nil ? [options.regularization] : LearnedFusion.easeLambdas.map { $0 }
            let lambdas: [Float?] = n != EASE.name ? [nil] : given
            let sides: [Float?] = n != EASE.name ? [nil] : LearnedFusion.easeSideWeights.map { $0 }
            for lambda in lambdas { for side in sides { settings.append((n, lambda, side)) } }
        }
        var candidates = [LearnedFusion.Candidate]()
        for (k, c) in settings.enumerated() {
            let detail = [c.regularization.map { "λ \($0)" }, c.side.map { "side weight \($0)" }].compactMap { $0 }.joined(separator: ", ")
            progress(.line("hybrid: validation carve, candidate \(k + 1) of \(settings.count): \(c.name)\(detail.isEmpty ? "" : " (\(detail))")"))
            let part = try fitCollaborative(c.name, regularization: c.regularization, sideWeight: c.side, inner, content: vectors,
                                            options: options, kernels: kernels) { _ in }
            candidates.append(.init(name: c.name, regularization: c.regularization, sideWeight: c.side, model: part.model))
        }
        return try LearnedFusion.fit(content: ContentRecommender(vectors: vectors), candidates: candidates, validation: users,
                                     items: inner.items.count, kernels: kernels)
    }

    public static func validate(_ options: TrainedModel.Options) throws {
        try validate(options.blend)
        try ImplicitALS.validate(options)
        if options.hybridCollaborative == .ease || (options.hybridFusion ?? .learned) == .learned { _ = try EASE(options: options) }
    }

    static func validate(_ blend: HybridBlend) throws {
        let (c, f) = (blend.contentWeight, blend.collaborativeWeight)
        guard c >= 0, f >= 0, c + f > 0, c.isFinite, f.isFinite else {
            throw RecommenderError.invalidOptions(model: name, reason: "weights must be non-negative and not both 0")
        }
    }

    /// A file with a `hybrid.fusion` section holds the learned fusion and its collaborative model;
    /// one without it (format 2, or `--fusion minmax`) the original ALS + min–max blend.
    public static func decode(from archive: ModelArchive) throws -> HybridRecommender {
        try validate(archive.options.blend)
        let content = try ContentRecommender.decode(from: archive)
        guard archive.contains("hybrid.fusion") else {
            return HybridRecommender(content: content, collaborative: .als(try ImplicitALS.decode(from: archive)), fusion: nil, blend: archive.options.blend)
        }
        let fusion = try archive.json("hybrid.fusion", as: LearnedFusion.self)
        guard fusion.a.isFinite, fusion.b.isFinite else { throw archive.bad("hybrid.fusion", "non-finite weights") }
        let cf: Collaborative
        switch fusion.collaborative {
        case EASE.name: cf = .ease(try EASE.decode(from: archive))
        case ImplicitALS.name: cf = .als(try ImplicitALS.decode(from: archive))
        default: throw archive.bad("hybrid.fusion", "unknown collaborative model \(fusion.collaborative)")
        }
        return HybridRecommender(content: content, collaborative: cf, fusion: fusion, blend: archive.options.blend)
    }

    public func encode(into archive: inout ModelArchive) throws {
        try collaborative.model.encode(into: &archive)
        try content.encode(into: &archive)
        if let fusion { try archive.set("hybrid.fusion", json: fusion) }
    }

    public var label: String {
        guard let fusion else { return "hybrid (\(blend.contentWeight) content / \(blend.collaborativeWeight) CF, min–max: the original design)" }
        let side = fusion.collaborativeSideWeight.map { $0 > 0 ? ", content side weight \($0)" : "" } ?? ""
        let cf = fusion.collaborative == EASE.name ? "EASE λ \(fusion.collaborativeRegularization ?? 500)\(side)" : "ALS"
        return String(format: "hybrid (learned: %@ + content, w_cf = σ(%.1f + %.2f·ln n))", cf, fusion.a, fusion.b)
    }
    public var explainsParts: Bool { true }

    /// Both parts scored (content masked to the candidates), then fused per row.
    public func score(_ block: ScoringBlock, into scores: MutableMatrixView, parts: ScoreParts?, kernels: any Kernels) throws {
        let n = scores.cols, rows = block.queries.count
        var ownContent = Matrix(rows: parts == nil ? rows : 0, cols: n)
        var ownCF = Matrix(rows: parts == nil ? rows : 0, cols: n)
        try ownContent.withMutableView { oc in
            try ownCF.withMutableView { of in
                let (c, f) = parts.map { ($0.content, $0.collaborative) } ?? (oc, of)
                try content.score(block, into: c, parts: nil, kernels: kernels)
                switch collaborative {
                case .als(let als): try als.collaborativeScores(block.queries, into: f, kernels: kernels)
                case .ease(let ease): try ease.score(block, into: f, parts: nil, kernels: kernels)
                }
                block.mask(c)
                for r in 0..<rows {
                    let (cr, fr, out) = (c.base + r * c.stride, f.base + r * f.stride, scores.base + r * scores.stride)
                    if let fusion {
                        fusion.fuse(content: cr, collaborative: fr, into: out, count: n, ratings: block.queries[r].ratings.count)
                    } else {
                        blend.blend(content: cr, collaborative: fr, into: out, count: n)
                    }
                }
            }
        }
    }

    /// Content cosine and the collaborative part's similarity (item-factor cosine, or EASE's
    /// weights), fused as for a user with 10 ratings (min–max: with the model's weights).
    public func similarItems(to item: Int, kernels: any Kernels) throws -> SimilarScores {
        var c = content.vectors.withView { $0.cosines(toRow: item) }
        var f: [Float] = switch collaborative {
        case .als(let als): als.itemFactors.withView { $0.cosines(toRow: item) }
        case .ease(let ease): try ease.similarItems(to: item, kernels: kernels).scores
        }
        c[item] = -.infinity
        var scores = [Float](repeating: 0, count: c.count)
        if let fusion {
            fusion.fuse(content: &c, collaborative: &f, into: &scores, count: c.count, ratings: 10)
        } else {
            blend.blend(content: &c, collaborative: &f, into: &scores, count: c.count)
        }
        return SimilarScores(scores: scores, content: c, collaborative: f)
    }

    public func explanation(for item: Int, query: TrainedModel.Query) -> Int? { content.explanation(for: item, query: query) }

    /// The collaborative and content weights for a user with `ratings` ratings (the learned
    /// `σ(a + b·ln n)`, or the original design's fixed weights).
    public func weights(ratings: Int) -> (cf: Float, content: Float) {
        guard let fusion else { return (blend.collaborativeWeight, blend.contentWeight) }
        let w = fusion.cfWeight(ratings: ratings)
        return (w, 1 - w)
    }

    /// The user's movie behind `item` as `part` sees it: the nearest in content, or for the
    /// collaborative part the liked movie contributing most (EASE: the largest weight `B[j, item]`;
    /// ALS: the nearest item factors by cosine). The movie just watched, when given.
    public func explanation(for item: Int, query: TrainedModel.Query, part: Explanation.Part) -> Int? {
        if part == .content || query.watched != nil { return content.explanation(for: item, query: query) }
        switch collaborative {
        case .ease(let ease):
            return query.liked.max { ease.weights[$0.item, item] < ease.weights[$1.item, item] }?.item
        case .als(let als):
            let k = als.itemFactors.cols
            return als.itemFactors.withView { y in
                let target = y.base + item * y.stride
                return query.liked.map { j -> (Int, Float) in
                    let row = y.base + j.item * y.stride
                    let norm = VectorOps.dot(row, row, k).squareRoot()
                    return (j.item, norm > 0 ? VectorOps.dot(row, target, k) / norm : -.infinity)
                }.max { $0.1 < $1.1 }?.0
            }
        }
    }

    public var itemVectors: Matrix? { content.vectors }
}
