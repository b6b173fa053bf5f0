import Foundation
import LinearAlgebra
import MovieLens

/// How the hybrid fuses its content and collaborative parts.
public enum HybridFusionMode: String, Sendable, Codable, Hashable, CaseIterable {
    /// Per-user z-scores, with a CF weight `σ(a + b·ln n)` for a user with `n` ratings learned on a
    /// validation carve of the training ratings (the default).
    case learned
    /// The original design: per-query min–max scaling and fixed weights (`--content-weight` 0.8,
    /// `--cf-weight` 0.2) over implicit ALS.
    case minmax
}

/// Which collaborative model the learned hybrid uses.
public enum HybridCollaborative: String, Sendable, Codable, Hashable, CaseIterable {
    /// Whichever of EASE and implicit ALS ranks the validation carve better (EASE only up to
    /// ``LearnedFusion/easeItemLimit`` movies).
    case auto
    case als
    case ease
}

/// The learned fusion of the hybrid's parts: for a user with `n` ratings the collaborative part
/// weighs `w(n) = σ(a + b·ln n)` and the content part `1 − w(n)`, each part z-scored over the
/// user's candidates (mean 0, standard deviation 1, so one outlier cannot set the scale as it does
/// under min–max):
///
///     score(i) = w(n)·z_cf(i) + (1 − w(n))·z_content(i)
///
/// `a`, `b` and the collaborative model are chosen by ``fit(content:candidates:validation:kernels:progress:)``
/// on held-out ratings, never on test data: a user with few ratings can lean on content and one
/// with many on CF, as far as the validation ratings say it pays.
public struct LearnedFusion: Sendable, Codable, Hashable {
    public var a: Float
    public var b: Float
    /// The collaborative model chosen: "als" or "ease".
    public var collaborative: String
    /// Its λ, when chosen on the validation carve among several (EASE: ``easeLambdas``).
    public var collaborativeRegularization: Float?
    /// EASE: the weight of the content vectors as side information (``easeSideWeights``; nil or 0: none).
    public var collaborativeSideWeight: Float?
    /// NDCG@10 on the validation carve of the chosen fusion, of its CF part alone and of content alone.
    public var validationNDCG: Double
    public var validationCF: Double
    public var validationContent: Double
    /// Validation users the weights were fitted on.
    public var validationUsers: Int

    /// EASE is a candidate up to this many movies (its weights take items² floats).
    public static let easeItemLimit = 20_000
    /// The EASE λ values tried when none is given.
    public static let easeLambdas: [Float] = [100, 250, 500]
    /// The side-information weights tried for EASE (0: plain EASE).
    public static let easeSideWeights: [Float] = [0, 50]
    /// The grid searched for `a` and `b`.
    public static let gridA: [Float] = [-3, -2, -1, 0, 1, 2, 3, 4, 6]
    public static let gridB: [Float] = [0, 0.25, 0.5, 1]

    public init(a: Float, b: Float, collaborative: String, collaborativeRegularization: Float? = nil, collaborativeSideWeight: Float? = nil,
                validationNDCG: Double = 0, validationCF: Double = 0, validationContent: Double = 0, validationUsers: Int = 0) {
        self.a = a
        self.b = b
        self.collaborative = collaborative
        self.collaborativeRegularization = collaborativeRegularization
        self.collaborativeSideWeight = collaborativeSideWeight
        self.validationNDCG = validationNDCG
        self.validationCF = validationCF
        self.validationContent = validationContent
        self.validationUsers = validationUsers
    }

    /// The collaborative weight for a user with `n` ratings.
    public func cfWeight(ratings n: Int) -> Float { Self.cfWeight(a: a, b: b, ratings: n) }

    /// `σ(a + b·ln n)`.
    static func cfWeight(a: Float, b: Float, ratings n: Int) -> Float {
        1 / (1 + exp(-(a + b * Float(log(Double(max(1, n)))))))
    }

    /// `out = w·collaborative + (1 − w)·content`, −∞ where `content` is (the masked candidates).
    static func mix(content: UnsafePointer<Float>, collaborative: UnsafePointer<Float>, weight w: Float,
                    into out: UnsafeMutablePointer<Float>, count n: Int) {
        for i in 0..<n { out[i] = content[i] == -.infinity ? -.infinity : w * collaborative[i] + (1 - w) * content[i] }
    }

    /// `x ← (x − mean) / sd` over the entries where `mask` is finite (all 0 if they are equal).
    /// - Complexity: O(n).
    public static func zScore(_ x: UnsafeMutablePointer<Float>, _ n: Int, mask: UnsafePointer<Float>) {
        var sum = 0.0, squares = 0.0, count = 0
        for i in 0..<n where mask[i] != -.infinity {
            sum += Double(x[i])
            squares += Double(x[i]) * Double(x[i])
            count += 1
        }
        guard count > 0 else { return }
        let mean = sum / Double(count)
        let variance = max(0, squares / Double(count) - mean * mean)
        let scale = variance > 0 ? Float(1 / variance.squareRoot()) : 0
        let m = Float(mean)
        for i in 0..<n where mask[i] != -.infinity { x[i] = (x[i] - m) * scale }
    }

    /// Z-scores both parts in place over the candidates (finite in `content`) and writes the fusion
    /// for a user with `ratings` ratings into `out` (−∞ where masked).
    public func fuse(content: UnsafeMutablePointer<Float>, collaborative: UnsafeMutablePointer<Float>,
                     into out: UnsafeMutablePointer<Float>, count n: Int, ratings: Int) {
        Self.zScore(content, n, mask: content)
        Self.zScore(collaborative, n, mask: UnsafePointer(content))
        Self.mix(content: content, collaborative: collaborative, weight: cfWeight(ratings: ratings), into: out, count: n)
    }

    /// One validation user: its query in the carve's training part and its held-out liked items.
    struct ValidationUser {
        var query: TrainedModel.Query
        var relevant: Set<Int>
    }

    /// Chooses the collaborative model and `a`, `b` by NDCG@10 over `users`: every part scores each
    /// user once (z-scored over its candidates), then every grid point and candidate model is
    /// ranked from those scores. Ties keep the earlier grid point (smaller `a`, then `b`).
    /// - Complexity: O(users × items × (models × grid + 1)).
    /// A collaborative model fitted on the validation carve, and the settings that made it.
    struct Candidate {
        var name: String
        var regularization: Float?
        var sideWeight: Float?
        var model: any RecommenderModel
    }

    static func fit(content: ContentRecommender, candidates: [Candidate],
                    validation users: [ValidationUser], items: Int, kernels: any Kernels) throws -> LearnedFusion {
        let grid = gridA.flatMap { a in gridB.map { b in (a, b) } }
        // sums[m][g]: NDCG summed over users for model m at grid point g; then CF alone and content alone.
        var sums = [[Double]](repeating: [Double](repeating: 0, count: grid.count + 1), count: candidates.count)
        var contentOnly = 0.0
        let blockSize = 128
        var c = Matrix(rows: blockSize, cols: items), f = Matrix(rows: blockSize, cols: items)
        for start in stride(from: 0, to: users.count, by: blockSize) {
            let block = Array(users[start..<min(users.count, start + blockSize)])
            let scoring = ScoringBlock(queries: block.map(\.query), includeSeen: false)
            try c.withMutableView { cv in
                let view = MutableMatrixView(base: cv.base, rows: block.count, cols: items, stride: cv.stride)
                try content.score(scoring, into: view, parts: nil, kernels: kernels)
                scoring.mask(view)
                for r in 0..<block.count {
                    let row = view.base + r * view.stride
                    zScore(row, items, mask: UnsafePointer(row))
                    contentOnly += ndcg(row, items, block[r].relevant)
                }
            }
            for (m, candidate) in candidates.enumerated() {
                let partial = try f.withMutableView { fv -> [[Double]] in
                    let view = MutableMatrixView(base: fv.base, rows: block.count, cols: items, stride: fv.stride)
                    try candidate.model.score(scoring, into: view, parts: nil, kernels: kernels)
                    return c.withView { cv in
                        let cBox = UnsafeSendableBox(cv), fBox = UnsafeSendableBox(view), blockBox = UnsafeSendableBox(block)
                        var perRow = [[Double]](repeating: [], count: block.count)
                        perRow.withUnsafeMutableBufferPointer { out in
                            let outBox = UnsafeSendable(out.baseAddress!)
                            Parallel.forEach(count: block.count, threads: kernels.threads) { r in
                                let cRow = cBox.value.base + r * cBox.value.stride, fRow = fBox.value.base + r * fBox.value.stride
                                let user = blockBox.value[r]
                                zScore(fRow, items, mask: cRow)
                                let fused = UnsafeMutablePointer<Float>.allocate(capacity: items)
                                defer { fused.deallocate() }
                                var figures = [Double]()
                                figures.reserveCapacity(grid.count + 1)
                                let n = user.query.ratings.count
                                for (a, b) in grid {
                                    mix(content: cRow, collaborative: fRow, weight: cfWeight(a: a, b: b, ratings: n), into: fused, count: items)
                                    figures.append(ndcg(fused, items, user.relevant))
                                }
                                mix(content: cRow, collaborative: fRow, weight: 1, into: fused, count: items)   // CF alone
                                figures.append(ndcg(fused, items, user.relevant))
                                outBox.pointer[r] = figures
                            }
                        }
                        return perRow
                    }
                }
                for figures in partial { for g in figures.indices { sums[m][g] += figures[g] } }
            }
        }
        var best = (model: 0, point: 0, value: -1.0)
        for m in candidates.indices {
            for g in grid.indices where sums[m][g] > best.value { best = (m, g, sums[m][g]) }
        }
        let count = Double(max(1, users.count))
        let (a, b) = grid[best.point]
        return LearnedFusion(a: a, b: b, collaborative: candidates[best.model].name,
                             collaborativeRegularization: candidates[best.model].regularization,
                             collaborativeSideWeight: candidates[best.model].sideWeight, validationNDCG: best.value / count,
                             validationCF: sums[best.model][grid.count] / count, validationContent: contentOnly / count,
                             validationUsers: users.count)
    }

    /// NDCG@10 of the ranking by `scores` against `relevant` (binary gains).
    static func ndcg(_ scores: UnsafeMutablePointer<Float>, _ n: Int, _ relevant: Set<Int>) -> Double {
        guard !relevant.isEmpty else { return 0 }
        let top = TopK.select(UnsafeBufferPointer(start: scores, count: n), k: 10)
        var dcg = 0.0
        for (rank, hit) in top.enumerated() where hit.value != -.infinity && relevant.contains(hit.index) {
            dcg += 1 / log2(Double(rank + 2))
        }
        var ideal = 0.0
        for rank in 0..<min(10, relevant.count) { ideal += 1 / log2(Double(rank + 2)) }
        return dcg / ideal
    }
}
